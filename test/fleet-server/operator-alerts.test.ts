// Issue 16's alerting "Done when" end to end: real agents report telemetry
// to a real fleet server, the rules raise and clear temperature, door,
// two-agent and tampered-ledger alerts, and each transition reaches the
// operator's webhook (a real local receiver) exactly once — and nothing of it
// reaches another county's. The tampered ledger clears only when an official
// has judged it (POST /cabinets/:id/tamper/resolve).
import { pino } from 'pino'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createAgent, makeConfig, type Agent } from '../../edge-agent/src/index.js'
import type { Fleet } from '../../fleet-server/src/app.js'
import { run } from '../../fleet-server/src/cli/fleetctl.js'
import { DEFAULT_ALERT_RULES, type AlertList, type TelemetryReply } from '../../shared/src/index.js'
import { api, connectCabinet, provision, tempDir, type Provisioned } from '../helpers/fleet.js'
import { clockAt, userToken, type Clock } from '../helpers/rollout.js'
import { aBatch, aChain, aLine } from '../helpers/sales.js'
import { sqlRow } from '../helpers/test-db.js'
import { notifyingFleet, settled, startReceiver, subscribe } from './notifications.fixtures.js'

const silent = pino({ level: 'silent' })
const MIN = 60_000

async function startAgent(fleet: Fleet, clock: Clock, cab: Provisioned, chilled = false): Promise<Agent> {
  const agent = await createAgent(makeConfig({
    cabinetId: cab.cabinetId, dataDir: await tempDir('agent-'), serverUrl: fleet.mqttUrl, username: cab.mqtt.username, password: cab.mqtt.password,
    apiPort: 0, logLevel: 'silent', backoffMinMs: 20, backoffMaxMs: 200, chilled,
    telemetryIntervalMs: 3_600_000, // readings are sent by the test (publishNow) or by a door change
  }), { logger: silent, now: () => clock.now().getTime() })
  onTestFinished(() => agent.close())
  await expect.poll(() => agent.status().connected, { timeout: 10_000 }).toBe(true)
  return agent
}

const post = (agent: Agent, body: unknown) =>
  fetch(`http://127.0.0.1:${agent.apiPort}/telemetry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

describe('operators’ alerts reach their webhook (issue 16)', () => {
  it('temperature, door, two-agent and tampered-ledger alerts fire and clear, each transition once to the operator’s webhook and none to another county’s', async () => {
    const clock = clockAt('2026-12-01T02:00:00.000Z')
    const move = (ms: number) => clock.set(new Date(clock.now().getTime() + ms).toISOString())
    const fleet = await notifyingFleet(clock)
    const rx = await startReceiver()
    const operator = await userToken(fleet, { username: 'dy-op', role: 'operator', operator: 'dy-coop' })
    const dyOfficial = await userToken(fleet, { username: 'dy', role: 'county', countyCode: '341125' })
    const fyOfficial = await userToken(fleet, { username: 'fy', role: 'county', countyCode: '341126' })
    // The test's sales are stamped by the wall clock, days from the fleet's: their clock_skew alert is not under test.
    const kinds = ['temperature_high', 'door_open', 'two_agents', 'ledger_tampered']
    await subscribe(fleet, operator, { url: `${rx.url}/operator`, format: 'json', kinds })
    await subscribe(fleet, fyOfficial, { url: `${rx.url}/fy`, format: 'json', kinds })

    const cab = await provision(fleet, { countyCode: '341125', operator: 'dy-coop' })
    const agent = await startAgent(fleet, clock, cab, true)
    const latest = async () => (await api<TelemetryReply>(fleet, 'GET', `/api/v1/cabinets/${cab.cabinetId}/telemetry`)).body.latest
    const until = (pred: (l: NonNullable<TelemetryReply['latest']>) => boolean) =>
      expect.poll(async () => { const l = await latest(); return l !== null && pred(l) }, { timeout: 10_000 }).toBe(true)
    const evaluate = async () => expect((await api(fleet, 'POST', '/api/v1/alerts/evaluate')).status).toBe(200)
    const open = async (kind: string) => (await api<AlertList>(fleet, 'GET', `/api/v1/alerts?kind=${kind}&state=open`)).body.alerts

    // Chilled at 9.5 °C for 31 min, and the door left open 10 min.
    expect((await post(agent, { temperatureC: 9.5 })).status).toBe(202)
    agent.telemetry.publishNow()
    await until((l) => l.temperatureC === 9.5)
    move(21 * MIN)
    expect((await post(agent, { doorOpen: true })).status).toBe(202) // published at once
    await until((l) => l.doorOpen)
    move(10 * MIN)
    agent.telemetry.publishNow()
    await until((l) => l.receivedAt === clock.now().toISOString())
    await evaluate()
    expect((await open('temperature_high')).map((a) => a.cabinetId)).toEqual([cab.cabinetId])
    expect((await open('door_open')).map((a) => a.cabinetId)).toEqual([cab.cabinetId])
    await evaluate() // nothing changed: nothing more is sent
    // Cooled down and closed: both clear.
    await post(agent, { temperatureC: 4.5, doorOpen: false })
    await until((l) => l.temperatureC === 4.5 && !l.doorOpen)
    await evaluate()
    expect([...(await open('temperature_high')), ...(await open('door_open'))]).toEqual([])

    // A second board started on the same cabinet's credentials.
    const second = await startAgent(fleet, clock, cab)
    await expect.poll(async () => {
      await evaluate()
      return (await open('two_agents')).length
    }, { timeout: 15_000, interval: 200 }).toBe(1)
    await second.close()
    move(DEFAULT_ALERT_RULES.twoAgentsWindowMinutes * MIN + 1)
    await expect.poll(() => agent.status().connected, { timeout: 10_000 }).toBe(true)
    agent.telemetry.publishNow()
    await until((l) => l.receivedAt === clock.now().toISOString())
    await evaluate()
    expect(await open('two_agents')).toEqual([])

    // Another of the operator's cabinets resends a sale that differs from the committed one.
    const other = await provision(fleet, { countyCode: '341125', operator: 'dy-coop' })
    const raw = await connectCabinet(fleet.mqttUrl, other)
    const sales = aChain(other.cabinetId, 3)
    expect(await raw.send(aBatch(other.cabinetId, sales))).toMatchObject({ status: 'committed' })
    const forked = aChain(other.cabinetId, 2, { fromSeq: 2, prevHash: sales[0]!.hash, lines: () => [aLine({ unitPriceFen: 1 })] })
    expect(await raw.send(aBatch(other.cabinetId, forked))).toMatchObject({ status: 'rejected', code: 'SALE_TAMPERED' })
    await evaluate()
    expect((await open('ledger_tampered')).map((a) => a.cabinetId)).toEqual([other.cabinetId])
    // Judged by an official, not by the operator or another county; then it clears.
    const resolve = (token: string) => api<{ error?: { code: string } }>(fleet, 'POST', `/api/v1/cabinets/${other.cabinetId}/tamper/resolve`, { note: '已核查：重复上传，原记录无误' }, token)
    expect((await resolve(operator)).status).toBe(403)
    expect([403, 404]).toContain((await resolve(fyOfficial)).status)
    // The county official clears it with fleetctl, as from a terminal.
    const out: string[] = []
    const code = await run(['cabinets', 'tamper-resolve', other.cabinetId, '--note', '已核查：重复上传，原记录无误'], { FLEET_URL: fleet.httpUrl, FLEET_TOKEN: dyOfficial }, { out: (l) => out.push(l), err: (l) => out.push(l) })
    expect(code, out.join('\n')).toBe(0)
    expect(out.join('\n')).toContain(`专柜 ${other.cabinetId} 的账本篡改标记已解除（累计 1 次），处理人 dy`)
    // The review is kept: who, why, and the tampering it cleared.
    expect(await sqlRow(fleet.database, 'SELECT cabinet_id, tampered_count, reviewed_by, note FROM tamper_reviews')).toEqual({ cabinet_id: other.cabinetId, tampered_count: 1, reviewed_by: 'dy', note: '已核查：重复上传，原记录无误' })
    const again = await resolve(dyOfficial)
    expect(again.status).toBe(409)
    expect(again.body.error?.code).toBe('CHAIN_NOT_TAMPERED')
    await evaluate()
    expect(await open('ledger_tampered')).toEqual([])

    await settled(fleet)
    const got = rx.at('/operator').map((r) => `${(r.body.alert as { kind: string }).kind}:${r.body.event as string}`)
    expect(got.sort()).toEqual([
      'door_open:cleared', 'door_open:raised',
      'ledger_tampered:cleared', 'ledger_tampered:raised',
      'temperature_high:cleared', 'temperature_high:raised',
      'two_agents:cleared', 'two_agents:raised',
    ])
    expect(rx.at('/fy')).toEqual([])
  })
})
