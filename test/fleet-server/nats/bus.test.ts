// The fleet server on a NATS cluster (issue 14): real edge agents dial the
// cluster's MQTT listeners with their JWTs, sales reach the server through the
// JetStream work queue, and the committed reply comes back through NATS.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { Fleet } from '../../../fleet-server/src/app.js'
import { aSale, startAgent } from '../../edge-agent/helpers.js'
import { api, provision, startFleet, tempDir } from '../../helpers/fleet.js'
import { aCatalog } from '../certification.fixtures.js'
import { NO_NATS_SERVER, startFleetNats, type FleetNats } from '../../helpers/nats.js'


describe.skipIf(NO_NATS_SERVER)('fleet server on a NATS cluster (issue 14)', () => {
  let nats: FleetNats
  beforeAll(async () => {
    nats = await startFleetNats(1)
  }, 60_000)
  afterAll(() => nats?.cluster.stop())
  const natsEnv = () => nats.env()

  /** A real edge agent for a cabinet the fleet provisioned, dialing the cluster with its JWT. */
  async function agentFor(fleet: Fleet, ackTimeoutMs = 2_000) {
    const cab = await provision(fleet)
    const user = await nats.identity.issueCabinetUser(cab.cabinetId)
    const agent = await startAgent({ cabinetId: cab.cabinetId, serverUrl: nats.cluster.mqttUrls.join(','), password: user.jwt, dataDir: await tempDir(), ackTimeoutMs })
    return { cabinetId: cab.cabinetId, agent }
  }

  it('commits an agent\'s sales through the JetStream work queue and answers it through NATS', async () => {
    const fleet = await startFleet(natsEnv())
    expect(fleet.mqttUrl).toBe(nats.cluster.mqttUrls.join(','))
    const today = new Date().toISOString().slice(0, 10)
    await aCatalog(fleet, { 'AH-RICE-5KG': { cert: [today] } })
    const { cabinetId, agent } = await agentFor(fleet)
    await vi.waitFor(() => expect(agent.status().connected).toBe(true), { timeout: 10_000 })
    // Its presence said online: the catalog followed, through NATS.
    await vi.waitFor(() => expect(agent.catalog().items.map((i) => i.sku)).toEqual(['AH-RICE-5KG']), { timeout: 10_000 })
    for (let i = 0; i < 5; i++) agent.sell(aSale())
    await vi.waitFor(() => expect(agent.status()).toMatchObject({ lastAckedSeq: 5, pending: 0 }), { timeout: 15_000 })

    const seen = await api<{ online: boolean; sales: { count: number } }>(fleet, 'GET', `/api/v1/cabinets/${cabinetId}`)
    expect(seen.body.sales.count).toBe(5)
    // Presence came through NATS too.
    expect(seen.body.online).toBe(true)
  })

  it('keeps what a stopped server did not answer in the queue, and the next server commits it once', async () => {
    const dataDir = await tempDir()
    const first = await startFleet(natsEnv(), { dataDir, manualClose: true })
    // The agent does not resend within the test: what the next server commits came from the stream.
    const { cabinetId, agent } = await agentFor(first, 60_000)
    await vi.waitFor(() => expect(agent.status().connected).toBe(true), { timeout: 10_000 })
    agent.sell(aSale())
    await vi.waitFor(() => expect(agent.status()).toMatchObject({ lastAckedSeq: 1 }), { timeout: 15_000 })
    await first.close()

    // No server: the broker takes the batches (PUBACK), the stream keeps them, nobody answers.
    for (let i = 0; i < 3; i++) agent.sell(aSale())
    await new Promise((r) => setTimeout(r, 1_000))
    expect(agent.status()).toMatchObject({ lastSeq: 4, lastAckedSeq: 1 })

    const second = await startFleet(natsEnv(), { dataDir })
    await vi.waitFor(() => expect(agent.status()).toMatchObject({ lastAckedSeq: 4, pending: 0 }), { timeout: 20_000 })
    const seen = await api<{ sales: { count: number } }>(second, 'GET', `/api/v1/cabinets/${cabinetId}`)
    expect(seen.body.sales.count).toBe(4)
  })
})
