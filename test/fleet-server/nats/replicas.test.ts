// Two fleet-server replicas on one NATS cluster and one PostgreSQL (issue 14):
// a cabinet coming online gets its catalog from one of them, not from each; a
// replica started after the cabinet connected, or cut off from the cluster
// while it did, sees it online all the same (it asks the cluster who holds a
// session); the scheduled forwarding passes
// run in one replica only. Real nats-server, real PostgreSQL (this file's own
// server, so it runs under both engines' runs), real edge agents.
import { connect as natsConnect, jwtAuthenticator, type NatsConnection } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest'
import type { Fleet } from '../../../fleet-server/src/app.js'
import { natsSubjectOf } from '../../../fleet-server/src/nats/index.js'
import { topics } from '../../../shared/src/index.js'
import { startAgent } from '../../edge-agent/helpers.js'
import { api, provision, startFleet, tempDir } from '../../helpers/fleet.js'
import { NO_NATS_SERVER, startFleetNats, type FleetNats } from '../../helpers/nats.js'
import { startPostgres, type Postgres } from '../../helpers/postgres.js'
import { startTcpProxy } from '../../helpers/tcp-proxy.js'
import { aCatalog, fleetWith } from '../certification.fixtures.js'


describe.skipIf(NO_NATS_SERVER)('two fleet-server replicas on a NATS cluster and one PostgreSQL (issue 14)', () => {
  let nats: FleetNats
  let pg: Postgres
  let n = 0
  beforeAll(async () => {
    ;[nats, pg] = await Promise.all([startFleetNats(1), startPostgres({ database: 'nats_replicas', maxConnections: 100 })])
  }, 60_000)
  afterAll(async () => {
    await nats?.cluster.stop()
    await pg?.close()
  })

  /** Settings of a replica: the cluster, and this test's database shared by the replicas. */
  const replicaEnv = async (): Promise<Record<string, string>> => ({ ...nats.env(), FLEET_DATABASE_URL: await pg.newDatabase(`nats_replicas_${++n}`) })

  /** A real edge agent for a cabinet the fleet provisioned, dialing the cluster with its JWT. */
  async function agentFor(cabinetId: string) {
    const user = await nats.identity.issueCabinetUser(cabinetId)
    return startAgent({ cabinetId, serverUrl: nats.cluster.mqttUrls.join(','), password: user.jwt, dataDir: await tempDir() })
  }

  /** A plain NATS client of the fleet account, as a replica is: it sees what is published to cabinets. */
  async function observer(): Promise<NatsConnection> {
    const user = await nats.identity.issueServiceUser('test-observer')
    const nc = await natsConnect({ servers: nats.cluster.urls, authenticator: jwtAuthenticator(user.jwt, user.seed) })
    onTestFinished(() => nc.close())
    return nc
  }

  const isOnline = async (fleet: Fleet, cabinetId: string) => (await api<{ online: boolean }>(fleet, 'GET', `/api/v1/cabinets/${cabinetId}`)).body.online

  it('sends a cabinet coming online its catalog from one replica only', async () => {
    const env = await replicaEnv()
    const a = await startFleet(env)
    const b = await startFleet(env)
    const today = new Date().toISOString().slice(0, 10)
    await aCatalog(a, { 'AH-RICE-5KG': { cert: [today] } })
    const { cabinetId } = await provision(a)

    const nc = await observer()
    let catalogs = 0
    nc.subscribe(natsSubjectOf(topics.catalog(cabinetId)), { callback: () => void catalogs++ })
    await nc.flush()

    const agent = await agentFor(cabinetId)
    await vi.waitFor(() => expect(agent.catalog().items.map((i) => i.sku)).toEqual(['AH-RICE-5KG']), { timeout: 15_000 })
    // Both replicas took the online presence (each one's view) ...
    await expect.poll(() => isOnline(a, cabinetId), { timeout: 10_000 }).toBe(true)
    await expect.poll(() => isOnline(b, cabinetId), { timeout: 10_000 }).toBe(true)
    // ... and a second catalog, had the other replica answered too, would be
    // out within milliseconds of its copy: a second is a wide margin.
    await new Promise((r) => setTimeout(r, 1_000))
    await nc.flush()
    expect(catalogs).toBe(1)
  })

  it('a replica started after a cabinet connected reports it online, and offline once it leaves', async () => {
    const env = await replicaEnv()
    const a = await startFleet(env)
    const { cabinetId } = await provision(a)
    const agent = await agentFor(cabinetId)
    await expect.poll(() => isOnline(a, cabinetId), { timeout: 15_000 }).toBe(true)

    // B never hears the cabinet's online presence: it was published before B listened.
    const b = await startFleet(env)
    await expect.poll(() => isOnline(b, cabinetId), { timeout: 10_000 }).toBe(true)
    // A planned cabinet: connected, counted apart from the installed ones (issue 15).
    const rollout = await api<{ totals: { online: number; onlineNotInstalled: number } }>(b, 'GET', '/api/v1/rollout')
    expect(rollout.body.totals).toMatchObject({ online: 1, onlineNotInstalled: 1 })

    await agent.close()
    await expect.poll(() => isOnline(b, cabinetId), { timeout: 10_000 }).toBe(false)
  })

  it('a replica cut off from the cluster while a cabinet connected reports it online once it is back', async () => {
    // The replica reaches NATS through a proxy; cabinets dial the cluster directly.
    const proxy = await startTcpProxy({ target: { port: Number(new URL(nats.cluster.urls[0]!).port) } })
    onTestFinished(() => proxy.close())
    const a = await startFleet({ ...nats.env(), FLEET_NATS_URL: `nats://127.0.0.1:${proxy.port}` })
    const { cabinetId } = await provision(a)
    const nc = await observer()
    let online = 0
    nc.subscribe(natsSubjectOf(topics.presence(cabinetId)), { callback: (_err, m) => void (m.string().includes('"online"') && online++) })
    await nc.flush()

    // Connections cut and new ones swallowed: the replica is away.
    proxy.set({ kind: 'blackhole' })
    proxy.cut()
    const agent = await agentFor(cabinetId)
    await vi.waitFor(() => expect(agent.status().connected).toBe(true), { timeout: 15_000 })
    await expect.poll(() => online, { timeout: 10_000 }).toBe(1)
    // Its online presence went by while the replica was away.
    expect(await isOnline(a, cabinetId)).toBe(false)

    proxy.heal()
    // The replica's connection and its admin one come back in turn: a listing may fail and be tried again.
    await expect.poll(() => isOnline(a, cabinetId), { timeout: 30_000 }).toBe(true)
    expect(online).toBe(1) // learnt from the cluster, not from a presence sent again
  })

  it('a replica cut off from the cluster while a cabinet left reports it offline once it is back', async () => {
    const proxy = await startTcpProxy({ target: { port: Number(new URL(nats.cluster.urls[0]!).port) } })
    onTestFinished(() => proxy.close())
    const a = await startFleet({ ...nats.env(), FLEET_NATS_URL: `nats://127.0.0.1:${proxy.port}` })
    const { cabinetId } = await provision(a)
    const stays = await provision(a)
    const agent = await agentFor(cabinetId)
    await agentFor(stays.cabinetId)
    await expect.poll(() => isOnline(a, cabinetId), { timeout: 15_000 }).toBe(true)
    await expect.poll(() => isOnline(a, stays.cabinetId), { timeout: 15_000 }).toBe(true)

    const nc = await observer()
    let offline = 0
    nc.subscribe(natsSubjectOf(topics.presence(cabinetId)), { callback: (_err, m) => void (m.string().includes('"offline"') && offline++) })
    await nc.flush()
    proxy.set({ kind: 'blackhole' })
    proxy.cut()
    await agent.close()
    // Its offline presence went by while the replica was away.
    await expect.poll(() => offline, { timeout: 10_000 }).toBe(1)
    expect(await isOnline(a, cabinetId)).toBe(true)

    proxy.heal()
    await expect.poll(() => isOnline(a, cabinetId), { timeout: 30_000 }).toBe(false)
    expect(await isOnline(a, stays.cabinetId)).toBe(true)
  })

  it('runs the scheduled forwarding passes in one replica only, as on the embedded broker', async () => {
    // The jobs' leader is a PostgreSQL advisory lock (jobs/module.ts): the bus
    // plays no part, and alert evaluation and scheduled reports share the gate.
    const env = await replicaEnv()
    const a = await fleetWith({ env, deps: { forwarding: { intervalMs: 100 } } })
    const b = await fleetWith({ env, deps: { forwarding: { intervalMs: 100 } } })
    const lastRunAt = async (f: Fleet) => (await api<{ lastRunAt: string | null }>(f, 'GET', '/api/v1/forwarding')).body.lastRunAt
    await expect.poll(async () => (await lastRunAt(a)) ?? (await lastRunAt(b)), { timeout: 10_000 }).not.toBeNull()
    // Passes every 100 ms: a second leader would have run some in this second.
    await new Promise((r) => setTimeout(r, 1_000))
    expect([await lastRunAt(a), await lastRunAt(b)].filter((t) => t !== null)).toHaveLength(1)
  })
})
