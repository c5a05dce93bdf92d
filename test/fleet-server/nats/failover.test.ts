// Losing a NATS node (issue 14): three nodes, the sales stream at R3, agents
// given every node's MQTT listener. The node leading the sales stream is
// SIGKILLed while the agents sell: the agents on it move to another node, the
// stream elects a new leader, and every sale is committed exactly once.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { aSale, startAgent } from '../../edge-agent/helpers.js'
import { api, provision, startFleet, tempDir } from '../../helpers/fleet.js'
import { NO_NATS_SERVER, startFleetNats, type FleetNats } from '../../helpers/nats.js'

const AGENTS = 6
const SALES_EACH = 20

describe.skipIf(NO_NATS_SERVER)('fleet server on a 3-node NATS cluster (issue 14)', () => {
  let nats: FleetNats
  beforeAll(async () => {
    nats = await startFleetNats(3)
  }, 60_000)
  afterAll(() => nats?.cluster.stop())

  it('commits every sale exactly once when the sales stream\'s leader is SIGKILLed mid-run', async () => {
    const fleet = await startFleet(nats.env())
    const agents = await Promise.all(Array.from({ length: AGENTS }, async () => {
      const cab = await provision(fleet)
      const user = await nats.identity.issueCabinetUser(cab.cabinetId)
      const agent = await startAgent({ cabinetId: cab.cabinetId, serverUrl: nats.cluster.mqttUrls.join(','), password: user.jwt, dataDir: await tempDir(), ackTimeoutMs: 1_000 })
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
    const leader = await nats.salesStreamLeader()
    const node = nats.cluster.nodes.find((n) => n.name === leader)!
    await node.kill('SIGKILL')
    for (let i = 0; i < SALES_EACH / 2; i++) {
      sellRound()
      await new Promise((r) => setTimeout(r, 20))
    }

    await vi.waitFor(() => {
      for (const a of agents) expect(a.agent.status(), a.cabinetId).toMatchObject({ lastSeq: SALES_EACH, lastAckedSeq: SALES_EACH, pending: 0 })
    }, { timeout: 40_000, interval: 250 }).catch((err: unknown) => {
      // What the surviving nodes said about MQTT and JetStream, for the failure report.
      for (const n of nats.cluster.nodes) if (n.isRunning) console.error(n.name, n.log().split('\n').filter((l) => /MQTT|JetStream|leader|ERR/.test(l)).slice(-30).join('\n'))
      throw err
    })
    expect(await nats.salesStreamLeader()).not.toBe(leader)
    for (const a of agents) {
      const seen = await api<{ sales: { count: number; lastSeq: number } }>(fleet, 'GET', `/api/v1/cabinets/${a.cabinetId}`)
      expect(seen.body.sales, a.cabinetId).toMatchObject({ count: SALES_EACH })
    }
  })
})
