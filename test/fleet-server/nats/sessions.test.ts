// The cabinets holding MQTT sessions, as the NATS cluster lists them (issue
// 14, nats/admin.ts mqttSessions): every node's connections, page by page,
// named by the signed name of the cabinet's user JWT — not by the MQTT client
// id or username, which the cabinet chooses. Three real nodes, real mqtt.js
// sessions, pages of two so every node's listing takes several.
import { connect as natsConnect, jwtAuthenticator } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { startNatsAccountAdmin } from '../../../fleet-server/src/nats/index.js'
import { connectMqtt, NO_NATS_SERVER, startFleetNats, type FleetNats } from '../../helpers/nats.js'


describe.skipIf(NO_NATS_SERVER)('MQTT sessions listed on a 3-node NATS cluster', () => {
  let nats: FleetNats
  beforeAll(async () => {
    nats = await startFleetNats(3)
  }, 60_000)
  afterAll(() => nats?.cluster.stop())

  it('lists every cabinet connected to any node once, by its JWT, across pages', async () => {
    const ids = Array.from({ length: 7 }, (_, i) => `341125-LIST-${i}`)
    for (const [i, id] of ids.entries()) {
      const user = await nats.identity.issueCabinetUser(id)
      // The client id and username are the cabinet's to choose: never read as its id.
      const client = await connectMqtt(nats.cluster.mqttUrls[i % 3]!, `chosen-${i}`, user.jwt, { username: ids[(i + 1) % ids.length]! })
      onTestFinished(() => client.endAsync(true))
    }
    const admin = await startNatsAccountAdmin({ identity: nats.identity, servers: nats.cluster.urls, connzPage: 2 })
    onTestFinished(() => admin.close())

    const pages: Array<readonly string[]> = []
    expect(await admin.mqttSessions((page) => pages.push(page))).toEqual({ nodes: 3, complete: true })
    expect(pages.flat().sort()).toEqual([...ids].sort())
    // Three nodes holding 2 or 3 each, two a page: more pages than nodes.
    expect(pages.length).toBeGreaterThan(3)
    expect(Math.max(...pages.map((p) => p.length))).toBeLessThanOrEqual(2)
  })

  it('counts a node once, and lists its cabinets once, when its answer arrives twice', async () => {
    const ids = Array.from({ length: 3 }, (_, i) => `341125-TWICE-${i}`)
    for (const [i, id] of ids.entries()) {
      const user = await nats.identity.issueCabinetUser(id)
      const client = await connectMqtt(nats.cluster.mqttUrls[i]!, `twice-${i}`, user.jwt)
      onTestFinished(() => client.endAsync(true))
    }
    // A second system-account responder on node 1 repeats that node's own
    // answer: the listing's inbox gets node 1's page twice.
    const sys = await nats.identity.issueSystemUser('echo')
    const echo = await natsConnect({ servers: nats.cluster.urls[0]!, authenticator: jwtAuthenticator(sys.jwt, sys.seed) })
    onTestFinished(() => echo.close())
    const nodeId = echo.info!.server_id
    let echoed = 0
    echo.subscribe(`$SYS.REQ.ACCOUNT.${nats.identity.fleetAccountPublicKey}.CONNZ`, {
      callback: (_err, m) => {
        void echo.request(`$SYS.REQ.SERVER.${nodeId}.CONNZ`, m.data, { timeout: 5_000 }).then((a) => {
          echoed++
          m.respond(a.data)
        })
      },
    })
    await echo.flush()
    const admin = await startNatsAccountAdmin({ identity: nats.identity, servers: nats.cluster.urls })
    onTestFinished(() => admin.close())

    const listed: string[] = []
    expect(await admin.mqttSessions((page) => listed.push(...page))).toEqual({ nodes: 3, complete: true })
    expect(echoed).toBe(1)
    expect(listed.filter((id) => id.startsWith('341125-TWICE-')).sort()).toEqual(ids)
  })

  it('calls a listing incomplete when a node still routed to the others does not answer', async () => {
    const stopped = nats.cluster.nodes[2]!
    // The admin dials the nodes that keep running; the stopped one stays routed until its pings fail (minutes).
    const admin = await startNatsAccountAdmin({ identity: nats.identity, servers: nats.cluster.urls.slice(0, 2) })
    onTestFinished(() => admin.close())
    process.kill(stopped.pid, 'SIGSTOP')
    onTestFinished(() => void process.kill(stopped.pid, 'SIGCONT'))
    // Incomplete whatever else: on a loaded machine the running nodes' answers may
    // also come apart by more than the listing's stall, leaving only one of them.
    const listing = await admin.mqttSessions(() => {})
    expect(listing.complete).toBe(false)
    expect(listing.nodes).toBeGreaterThanOrEqual(1)
    expect(listing.nodes).toBeLessThanOrEqual(2)
    process.kill(stopped.pid, 'SIGCONT')
    await expect.poll(() => admin.mqttSessions(() => {}), { timeout: 10_000 }).toEqual({ nodes: 3, complete: true })
  })
})
