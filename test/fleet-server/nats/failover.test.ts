// Losing a NATS node (issue 14): three nodes, the sales stream at R3, agents
// given every node's MQTT listener. The node leading the sales stream is
// SIGKILLed while the agents sell: the agents on it move to another node, the
// stream elects a new leader, and every sale is committed exactly once.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect, jwtAuthenticator } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { SALES_STREAM } from '../../../fleet-server/src/broker/nats.js'
import { createNatsIdentity, createNatsIdentityFile, type NatsIdentity } from '../../../fleet-server/src/nats/index.js'
import { aSale, startAgent } from '../../edge-agent/helpers.js'
import { api, provision, startFleet, tempDir } from '../../helpers/fleet.js'
import { NATS_SERVER_BIN, startNatsCluster, type NatsCluster } from '../../helpers/nats.js'

const noNatsServer = !NATS_SERVER_BIN && !process.env.CI
const AGENTS = 6
const SALES_EACH = 20

describe.skipIf(noNatsServer)('fleet server on a 3-node NATS cluster (issue 14)', () => {
  let identity: NatsIdentity
  let identityFile: string
  let cluster: NatsCluster
  beforeAll(async () => {
    const file = createNatsIdentityFile()
    identity = createNatsIdentity(file)
    cluster = await startNatsCluster({ nodes: 3, identity })
    identityFile = join(cluster.dir, 'identity.json')
    await writeFile(identityFile, JSON.stringify(file), { mode: 0o600 })
  }, 60_000)
  afterAll(() => cluster?.stop())

  /** The node leading the sales stream's replicas, by its server name. */
  async function streamLeader(): Promise<string> {
    const user = await identity.issueServiceUser('test-observer')
    const nc = await connect({ servers: cluster.urls, authenticator: jwtAuthenticator(user.jwt, user.seed) })
    try {
      const info = await (await jetstreamManager(nc)).streams.info(SALES_STREAM)
      expect(info.config.num_replicas).toBe(3)
      return info.cluster!.leader!
    } finally {
      await nc.close()
    }
  }

  it('commits every sale exactly once when the sales stream\'s leader is SIGKILLed mid-run', async () => {
    const fleet = await startFleet({ FLEET_NATS_URL: cluster.urls.join(','), FLEET_NATS_IDENTITY: identityFile, FLEET_NATS_MQTT_URL: cluster.mqttUrls.join(',') })
    const agents = await Promise.all(Array.from({ length: AGENTS }, async () => {
      const cab = await provision(fleet)
      const user = await identity.issueCabinetUser(cab.cabinetId)
      const agent = await startAgent({ cabinetId: cab.cabinetId, serverUrl: cluster.mqttUrls.join(','), password: user.jwt, dataDir: await tempDir(), ackTimeoutMs: 1_000 })
      return { cabinetId: cab.cabinetId, agent }
    }))
    await vi.waitFor(() => expect(agents.every((a) => a.agent.status().connected)).toBe(true), { timeout: 15_000 })

    const sellRound = () => {
      for (const a of agents) a.agent.sell(aSale())
    }
    for (let i = 0; i < SALES_EACH / 2; i++) {
      sellRound()
      await new Promise((r) => setTimeout(r, 20))
    }
    const leader = await streamLeader()
    const node = cluster.nodes.find((n) => n.name === leader)!
    await node.kill('SIGKILL')
    for (let i = 0; i < SALES_EACH / 2; i++) {
      sellRound()
      await new Promise((r) => setTimeout(r, 20))
    }

    await vi.waitFor(() => {
      for (const a of agents) expect(a.agent.status(), a.cabinetId).toMatchObject({ lastSeq: SALES_EACH, lastAckedSeq: SALES_EACH, pending: 0 })
    }, { timeout: 40_000, interval: 250 }).catch((err: unknown) => {
      // What the surviving nodes said about MQTT and JetStream, for the failure report.
      for (const n of cluster.nodes) if (n.isRunning) console.error(n.name, n.log().split('\n').filter((l) => /MQTT|JetStream|leader|ERR/.test(l)).slice(-30).join('\n'))
      throw err
    })
    expect(await streamLeader()).not.toBe(leader)
    for (const a of agents) {
      const seen = await api<{ sales: { count: number; lastSeq: number } }>(fleet, 'GET', `/api/v1/cabinets/${a.cabinetId}`)
      expect(seen.body.sales, a.cabinetId).toMatchObject({ count: SALES_EACH })
    }
  })
})
