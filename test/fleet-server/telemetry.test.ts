// Telemetry and its alert rules end to end (issue 16 §4): a real fleet server,
// real agents (createAgent) on one clock the test moves, and the alerts the
// rules raise and clear; two agents on one cabinet's credentials; a tampered
// ledger; scope; downsampling and pruning; bad readings refused.
import { pino } from 'pino'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createAgent, makeConfig, type Agent } from '../../edge-agent/src/index.js'
import type { Fleet } from '../../fleet-server/src/app.js'
import { run } from '../../fleet-server/src/cli/fleetctl.js'
import { createTelemetryIngest, createTelemetryStore, telemetryMaintenance, type TelemetryStore } from '../../fleet-server/src/telemetry/index.js'
import { DEFAULT_ALERT_RULES, topics, type AlertList, type TelemetryMsg, type TelemetryReply } from '../../shared/src/index.js'
import { api, connectCabinet, provision, startFleet, tempDir, type Provisioned } from '../helpers/fleet.js'
import { clockAt, userToken } from '../helpers/rollout.js'
import { aBatch, aChain, aLine } from '../helpers/sales.js'
import { sqlRow, sqlRows } from '../helpers/test-db.js'

const silent = pino({ level: 'silent' })
const T0 = '2026-12-01T02:00:00.000Z'
const MIN = 60_000

async function world() {
  const clock = clockAt(T0)
  const fleet = await startFleet({}, { now: clock.now })
  const move = (ms: number) => clock.set(new Date(clock.now().getTime() + ms).toISOString())
  const startAgent = async (cab: Provisioned, opts: { chilled?: boolean; dataDir?: string } = {}): Promise<Agent> => {
    const agent = await createAgent(makeConfig({
      cabinetId: cab.cabinetId, dataDir: opts.dataDir ?? (await tempDir('agent-')), serverUrl: fleet.mqttUrl, username: cab.mqtt.username, password: cab.mqtt.password,
      apiPort: 0, logLevel: 'silent', backoffMinMs: 20, backoffMaxMs: 200, chilled: opts.chilled ?? false,
      // Readings are sent by the test (publishNow, or a door/fault change), not by the interval.
      telemetryIntervalMs: 3_600_000,
    }), { logger: silent, now: () => clock.now().getTime() })
    onTestFinished(() => agent.close())
    await expect.poll(() => agent.status().connected, { timeout: 10_000 }).toBe(true)
    return agent
  }
  return { fleet, clock, move, startAgent }
}

const postTelemetry = (agent: Agent, body: unknown) =>
  fetch(`http://127.0.0.1:${agent.apiPort}/telemetry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
const telemetryOf = async (fleet: Fleet, id: string, token?: string) => api<TelemetryReply>(fleet, 'GET', `/api/v1/cabinets/${id}/telemetry`, undefined, token ?? fleet.adminToken)
/** Waits until the server's latest reading of the cabinet satisfies `pred`. */
const until = async (fleet: Fleet, id: string, pred: (l: NonNullable<TelemetryReply['latest']>) => boolean) =>
  expect.poll(async () => {
    const l = (await telemetryOf(fleet, id)).body.latest
    return l !== null && pred(l)
  }, { timeout: 10_000 }).toBe(true)
const evaluate = async (fleet: Fleet) => expect((await api(fleet, 'POST', '/api/v1/alerts/evaluate')).status).toBe(200)
const openAlerts = async (fleet: Fleet, kind: string, token?: string) =>
  (await api<AlertList>(fleet, 'GET', `/api/v1/alerts?kind=${kind}&state=open`, undefined, token ?? fleet.adminToken)).body.alerts

describe('telemetry alert rules', () => {
  it('raises temperature_high after 30 min above 8 °C on a chilled cabinet and clears it when a reading is back under', async () => {
    const w = await world()
    const cab = await provision(w.fleet, { countyCode: '341125', operator: 'dy-coop' })
    const agent = await w.startAgent(cab, { chilled: true })
    expect((await postTelemetry(agent, { temperatureC: 9.5 })).status).toBe(202)
    agent.telemetry.publishNow()
    await until(w.fleet, cab.cabinetId, (l) => l.temperatureC === 9.5 && l.chilled)
    w.move(29 * MIN)
    agent.telemetry.publishNow()
    await until(w.fleet, cab.cabinetId, (l) => l.receivedAt === w.clock.now().toISOString())
    await evaluate(w.fleet)
    expect(await openAlerts(w.fleet, 'temperature_high')).toEqual([])
    w.move(2 * MIN)
    await evaluate(w.fleet)
    const [raised, ...more] = await openAlerts(w.fleet, 'temperature_high')
    expect(more).toEqual([])
    expect(raised).toMatchObject({ cabinetId: cab.cabinetId, countyCode: '341125', severity: 'critical', detail: { temperatureC: 9.5, limitC: 8, minutes: 31 } })
    expect(raised!.message).toContain('冷藏温度 9.5 °C')

    await postTelemetry(agent, { temperatureC: 5 })
    agent.telemetry.publishNow()
    await until(w.fleet, cab.cabinetId, (l) => l.temperatureC === 5)
    await evaluate(w.fleet)
    expect(await openAlerts(w.fleet, 'temperature_high')).toEqual([])
  })

  it('raises door_open after 10 min and clears it when the door closes; a payment fault raises device_fault until it clears', async () => {
    const w = await world()
    const cab = await provision(w.fleet, { countyCode: '341125' })
    const agent = await w.startAgent(cab)
    // A door change is published at once, without waiting for the interval.
    expect(await (await postTelemetry(agent, { doorOpen: true })).json()).toEqual({ published: true })
    await until(w.fleet, cab.cabinetId, (l) => l.doorOpen)
    w.move(9 * MIN)
    await evaluate(w.fleet)
    expect(await openAlerts(w.fleet, 'door_open')).toEqual([])
    w.move(1 * MIN)
    await evaluate(w.fleet)
    expect(await openAlerts(w.fleet, 'door_open')).toMatchObject([{ cabinetId: cab.cabinetId, severity: 'warning', detail: { minutes: 10 } }])
    await postTelemetry(agent, { doorOpen: false })
    await until(w.fleet, cab.cabinetId, (l) => !l.doorOpen)
    await evaluate(w.fleet)
    expect(await openAlerts(w.fleet, 'door_open')).toEqual([])

    // A cooling fault is not in the default rule; a payment fault is.
    await postTelemetry(agent, { faults: [{ module: 'cooling', code: 'C1', active: true }] })
    await until(w.fleet, cab.cabinetId, (l) => l.faults.length === 1)
    await evaluate(w.fleet)
    expect(await openAlerts(w.fleet, 'device_fault')).toEqual([])
    await postTelemetry(agent, { faults: [{ module: 'payment', code: 'E42', active: true }] })
    await until(w.fleet, cab.cabinetId, (l) => l.faults.length === 2)
    await evaluate(w.fleet)
    const [fault] = await openAlerts(w.fleet, 'device_fault')
    expect(fault).toMatchObject({ cabinetId: cab.cabinetId, severity: 'critical', detail: { faults: [{ module: 'payment', code: 'E42' }] } })
    expect(fault!.message).toContain('支付模块（E42）')
    await postTelemetry(agent, { faults: [{ module: 'payment', code: 'E42', active: false }] })
    await until(w.fleet, cab.cabinetId, (l) => l.faults.length === 1)
    await evaluate(w.fleet)
    expect(await openAlerts(w.fleet, 'device_fault')).toEqual([])
  })

  it('raises two_agents when two real agents run on one cabinet’s credentials, and clears it a window after one stops', async () => {
    const w = await world()
    const cab = await provision(w.fleet, { countyCode: '341125' })
    const first = await w.startAgent(cab)
    const second = await w.startAgent(cab)
    expect(first.telemetry.agentInstanceId).not.toBe(second.telemetry.agentInstanceId)
    // The broker hands the session back and forth; each (re)connect sends a reading.
    await expect.poll(async () => {
      await evaluate(w.fleet)
      return (await openAlerts(w.fleet, 'two_agents')).length
    }, { timeout: 15_000, interval: 200 }).toBe(1)
    const [alert] = await openAlerts(w.fleet, 'two_agents')
    expect((alert!.detail as { agentInstanceIds: string[] }).agentInstanceIds.sort()).toEqual([first.telemetry.agentInstanceId, second.telemetry.agentInstanceId].sort())

    await second.close()
    w.move(DEFAULT_ALERT_RULES.twoAgentsWindowMinutes * MIN + 1)
    await expect.poll(() => first.status().connected, { timeout: 10_000 }).toBe(true)
    first.telemetry.publishNow()
    await until(w.fleet, cab.cabinetId, (l) => l.receivedAt === w.clock.now().toISOString())
    await evaluate(w.fleet)
    expect(await openAlerts(w.fleet, 'two_agents')).toEqual([])
  })

  it('raises ledger_tampered for a cabinet whose resent sale differs from the committed one', async () => {
    const w = await world()
    const cab = await provision(w.fleet, { countyCode: '341125' })
    const c = await connectCabinet(w.fleet.mqttUrl, cab)
    const sales = aChain(cab.cabinetId, 3)
    expect(await c.send(aBatch(cab.cabinetId, sales))).toMatchObject({ status: 'committed' })
    await evaluate(w.fleet)
    expect(await openAlerts(w.fleet, 'ledger_tampered')).toEqual([])
    const forked = aChain(cab.cabinetId, 2, { fromSeq: 2, prevHash: sales[0]!.hash, lines: () => [aLine({ unitPriceFen: 1 })] })
    expect(await c.send(aBatch(cab.cabinetId, forked))).toMatchObject({ status: 'rejected', code: 'SALE_TAMPERED' })
    await evaluate(w.fleet)
    expect(await openAlerts(w.fleet, 'ledger_tampered')).toMatchObject([{ cabinetId: cab.cabinetId, countyCode: '341125', severity: 'critical', detail: { tamperedCount: 1 } }])
  })

  it('shows a county its own cabinets’ telemetry alerts and readings, not another county’s', async () => {
    const w = await world()
    const dy = await provision(w.fleet, { countyCode: '341125' })
    const fy = await provision(w.fleet, { countyCode: '341126' })
    for (const cab of [dy, fy]) {
      const agent = await w.startAgent(cab)
      await postTelemetry(agent, { doorOpen: true })
      await until(w.fleet, cab.cabinetId, (l) => l.doorOpen)
    }
    w.move(15 * MIN)
    await evaluate(w.fleet)
    expect((await openAlerts(w.fleet, 'door_open')).map((a) => a.cabinetId).sort()).toEqual([dy.cabinetId, fy.cabinetId].sort())
    const dyToken = await userToken(w.fleet, { username: 'dy-official', role: 'county', countyCode: '341125' })
    expect((await openAlerts(w.fleet, 'door_open', dyToken)).map((a) => a.cabinetId)).toEqual([dy.cabinetId])
    expect((await telemetryOf(w.fleet, dy.cabinetId, dyToken)).status).toBe(200)
    expect([403, 404]).toContain((await telemetryOf(w.fleet, fy.cabinetId, dyToken)).status)
  })

  it('raises outbox_stale for sales unsent 24 h and disk_full above 90 %, and clears them with the next good reading', async () => {
    const w = await world()
    const cab = await provision(w.fleet, { countyCode: '341125', operator: 'dy-coop' })
    const store = createTelemetryStore(w.fleet.database)
    const reading = (patch: Partial<TelemetryMsg>): TelemetryMsg => ({
      v: 1, type: 'telemetry', cabinetId: cab.cabinetId, sentAt: w.clock.now().toISOString(), agentInstanceId: '0190a000-0000-7000-8000-000000000002', agentVersion: 'test',
      chilled: false, temperatureC: null, doorOpen: false, doorOpenSince: null, faults: [], diskUsedPct: 50, outboxPending: 0, outboxOldestAgeS: 0, ledgerBytes: 4096, ...patch,
    })
    // 23 h old at the reading: stale an hour later, as the sales keep ageing.
    await store.write([{ msg: reading({ outboxPending: 3, outboxOldestAgeS: 23 * 3600, diskUsedPct: 90 }), receivedAt: w.clock.now().toISOString() }], DEFAULT_ALERT_RULES)
    await evaluate(w.fleet)
    expect(await openAlerts(w.fleet, 'outbox_stale')).toEqual([])
    expect(await openAlerts(w.fleet, 'disk_full')).toEqual([])
    w.move(61 * MIN)
    // Received just after the first: the sales' age still counts from then.
    await store.write([{ msg: reading({ outboxPending: 3, outboxOldestAgeS: 23 * 3600, diskUsedPct: 95.5 }), receivedAt: new Date(Date.parse(T0) + 1).toISOString() }], DEFAULT_ALERT_RULES)
    await evaluate(w.fleet)
    expect(await openAlerts(w.fleet, 'outbox_stale')).toMatchObject([{ cabinetId: cab.cabinetId, severity: 'warning', detail: { pending: 3 } }])
    expect(await openAlerts(w.fleet, 'disk_full')).toMatchObject([{ cabinetId: cab.cabinetId, detail: { diskUsedPct: 95.5, limitPct: 90 } }])
    const operator = await userToken(w.fleet, { username: 'dy-op', role: 'operator', operator: 'dy-coop' })
    expect((await openAlerts(w.fleet, 'disk_full', operator)).map((a) => a.cabinetId)).toEqual([cab.cabinetId])
    await store.write([{ msg: reading({ outboxPending: 0, diskUsedPct: 60 }), receivedAt: w.clock.now().toISOString() }], DEFAULT_ALERT_RULES)
    await evaluate(w.fleet)
    expect(await openAlerts(w.fleet, 'outbox_stale')).toEqual([])
    expect(await openAlerts(w.fleet, 'disk_full')).toEqual([])
  })
})

describe('telemetry readings', () => {
  it('keeps the latest reading with the agent’s facts and serves it with the hourly series', async () => {
    const w = await world()
    const cab = await provision(w.fleet, { countyCode: '341125' })
    const agent = await w.startAgent(cab, { chilled: true })
    await postTelemetry(agent, { temperatureC: 4.5 })
    agent.telemetry.publishNow()
    await until(w.fleet, cab.cabinetId, (l) => l.temperatureC === 4.5)
    const r = await telemetryOf(w.fleet, cab.cabinetId)
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({ cabinetId: cab.cabinetId, hours: 24, latest: { chilled: true, doorOpen: false, faults: [], outboxPending: 0, agentInstanceId: agent.telemetry.agentInstanceId } })
    expect(r.body.latest!.diskUsedPct).toBeGreaterThan(0)
    expect(r.body.latest!.ledgerBytes).toBeGreaterThan(0)
    expect(r.body.hourly).toMatchObject([{ hour: T0.slice(0, 13), tempMaxC: 4.5 }])
    // Telemetry never enters the sales ledger.
    expect(agent.status()).toMatchObject({ lastSeq: 0, pending: 0 })
  })

  it('fleetctl cabinets telemetry shows the 运行状态 in Chinese, and tells a cabinet without readings', async () => {
    const w = await world()
    const cab = await provision(w.fleet, { countyCode: '341125' })
    const quiet = await provision(w.fleet, { countyCode: '341125' })
    const agent = await w.startAgent(cab, { chilled: true })
    await postTelemetry(agent, { temperatureC: 6.5, doorOpen: true, faults: [{ module: 'vending', code: 'M3', active: true }] })
    await until(w.fleet, cab.cabinetId, (l) => l.doorOpen && l.faults.length === 1 && l.temperatureC === 6.5)
    const fleetctl = async (args: string[]) => {
      const out: string[] = []
      const code = await run(args, { FLEET_URL: w.fleet.httpUrl, FLEET_TOKEN: w.fleet.adminToken }, { out: (l) => out.push(l), err: (l) => out.push(l) })
      return { code, out: out.join('\n') }
    }
    const r = await fleetctl(['cabinets', 'telemetry', cab.cabinetId])
    expect(r.code).toBe(0)
    // 02:00 UTC is 10:00 in Beijing.
    for (const part of [`专柜 ${cab.cabinetId} 运行状态（上报于 2026-12-01 10:00`, '温度      6.5 °C（冷藏柜）', '柜门      打开（自 2026-12-01 10:00）', '出货模块（M3', '待上传    0 笔', '近 24 小时']) {
      expect(r.out).toContain(part)
    }
    expect((await fleetctl(['cabinets', 'telemetry', quiet.cabinetId])).out).toBe(`专柜 ${quiet.cabinetId} 尚未上报运行状态`)
    const json = await fleetctl(['--json', 'cabinets', 'telemetry', cab.cabinetId, '--hours', '2'])
    expect(JSON.parse(json.out)).toMatchObject({ cabinetId: cab.cabinetId, hours: 2, latest: { temperatureC: 6.5 } })
    expect((await fleetctl(['cabinets', 'telemetry', 'NO-SUCH'])).code).toBe(1)
  })

  it('refuses bad readings: the agent answers 400 in Chinese, the server drops malformed ones and another cabinet’s, and keeps running', async () => {
    const w = await world()
    const cab = await provision(w.fleet, { countyCode: '341125' })
    const other = await provision(w.fleet, { countyCode: '341125' })
    const agent = await w.startAgent(cab)
    for (const body of [{ temperatureC: 'hot' }, { doorOpen: true, extra: 1 }, { faults: [{ module: 'printer', code: 'X', active: true }] }, { temperatureC: 500 }]) {
      const r = await postTelemetry(agent, body)
      expect(r.status).toBe(400)
      const e = (await r.json()) as { error: { code: string; message: string } }
      expect(e.error.code).toBe('VALIDATION_FAILED')
      expect(e.error.message).toMatch(/[\u4e00-\u9fff]/)
    }
    const notJson = await fetch(`http://127.0.0.1:${agent.apiPort}/telemetry`, { method: 'POST', body: '{"temperatureC":' })
    expect(notJson.status).toBe(400)
    expect(((await notJson.json()) as { error: { message: string } }).error.message).toMatch(/[\u4e00-\u9fff]/)
    expect((await telemetryOf(w.fleet, 'NO-SUCH-CABINET')).status).toBe(404)
    expect((await api(w.fleet, 'GET', `/api/v1/cabinets/${cab.cabinetId}/telemetry?hours=0`)).status).toBe(400)

    const c = await connectCabinet(w.fleet.mqttUrl, other)
    const good = agent.telemetry.message()
    for (const payload of ['not json', JSON.stringify({ v: 1, type: 'telemetry' }), JSON.stringify({ ...good, temperatureC: 'x' }), JSON.stringify({ ...good, temperatureC: 7 })]) {
      // The last one names `cab` but comes from `other`: not stored as either.
      await c.client.publishAsync(topics.telemetry(other.cabinetId), payload, { qos: 1 })
    }
    const honest: TelemetryMsg = { ...good, cabinetId: other.cabinetId, temperatureC: 3 }
    await c.client.publishAsync(topics.telemetry(other.cabinetId), JSON.stringify(honest), { qos: 1 })
    await until(w.fleet, other.cabinetId, (l) => l.temperatureC === 3)
    // `cab` has only its own agent's reading (sent on connect), `other` only the honest one.
    expect((await telemetryOf(w.fleet, cab.cabinetId)).body.latest).toMatchObject({ temperatureC: null, agentInstanceId: agent.telemetry.agentInstanceId })
    expect(await sqlRows(w.fleet.database, 'SELECT temperature_c FROM telemetry_raw WHERE cabinet_id = ?', other.cabinetId)).toEqual([{ temperature_c: 3 }])
    expect(await sqlRows(w.fleet.database, 'SELECT temperature_c FROM telemetry_raw WHERE cabinet_id = ?', cab.cabinetId)).toEqual([{ temperature_c: null }])
  })

  it('writes the readings of many cabinets arriving together as one batch, in arrival order per cabinet', async () => {
    const fleet = await startFleet()
    const cabs = await Promise.all(Array.from({ length: 30 }, () => provision(fleet, { countyCode: '341125' })))
    const real = createTelemetryStore(fleet.database)
    const writes: number[] = []
    const store: TelemetryStore = { ...real, write: async (readings, rules) => (writes.push(readings.length), real.write(readings, rules)) }
    const ingest = createTelemetryIngest({ store, rules: () => DEFAULT_ALERT_RULES, now: () => new Date(T0), log: silent, windowMs: 50 })
    const msg = (cabinetId: string, temperatureC: number): TelemetryMsg => ({
      v: 1, type: 'telemetry', cabinetId, sentAt: T0, agentInstanceId: '0190a000-0000-7000-8000-000000000004', agentVersion: 'test',
      chilled: false, temperatureC, doorOpen: false, doorOpenSince: null, faults: [], diskUsedPct: 10, outboxPending: 0, outboxOldestAgeS: 0, ledgerBytes: 1,
    })
    // Two readings per cabinet, as 60 messages within the window.
    for (const t of [1, 2]) for (const c of cabs) ingest.receive(c.cabinetId, Buffer.from(JSON.stringify(msg(c.cabinetId, t))))
    await expect.poll(() => ingest.stats.written, { timeout: 5_000 }).toBe(60)
    expect(writes).toEqual([60])
    expect(await store.latest(cabs[7]!.cabinetId)).toMatchObject({ temperatureC: 2 })
    await ingest.drain()
  })

  it('downsamples raw readings into hourly rows and prunes raw ones past the retention', async () => {
    const fleet = await startFleet()
    const cab = await provision(fleet, { countyCode: '341125' })
    const store = createTelemetryStore(fleet.database)
    const base: TelemetryMsg = {
      v: 1, type: 'telemetry', cabinetId: cab.cabinetId, sentAt: T0, agentInstanceId: '0190a000-0000-7000-8000-000000000001', agentVersion: 'test',
      chilled: true, temperatureC: 4, doorOpen: false, doorOpenSince: null, faults: [], diskUsedPct: 40, outboxPending: 0, outboxOldestAgeS: 0, ledgerBytes: 4096,
    }
    const at = (iso: string, patch: Partial<TelemetryMsg> = {}) => ({ msg: { ...base, sentAt: iso, ...patch }, receivedAt: iso })
    // Eight days ago (past the 7-day raw retention) and in the last hour.
    await store.write([
      at('2026-11-23T01:10:00.000Z', { temperatureC: 2 }),
      at('2026-11-23T01:20:00.000Z', { temperatureC: 6, doorOpen: true, doorOpenSince: '2026-11-23T01:19:00.000Z' }),
      at('2026-12-01T01:05:00.000Z', { temperatureC: 3 }),
      at('2026-12-01T01:06:00.000Z', { temperatureC: 9, doorOpen: true, doorOpenSince: '2026-12-01T01:06:00.000Z', faults: [{ module: 'payment', code: 'E1' }] }),
      at('2026-12-01T01:07:00.000Z', { temperatureC: 6, doorOpen: true, doorOpenSince: '2026-12-01T01:06:00.000Z', diskUsedPct: 91, outboxPending: 2, outboxOldestAgeS: 300 }),
    ], DEFAULT_ALERT_RULES)
    // The old hour's rows were downsampled by an earlier run (a look-back reaching it).
    await telemetryMaintenance(store, new Date('2026-11-23T02:07:00.000Z'), { rawDays: 7, hourlyDays: 400 })
    const r = await telemetryMaintenance(store, new Date('2026-12-01T02:07:00.000Z'), { rawDays: 7, hourlyDays: 400 })
    expect(r).toMatchObject({ prunedRaw: 2, prunedHourly: 0 })
    const hourly = await sqlRows<Record<string, unknown>>(fleet.database, 'SELECT hour, readings, temp_min_c, temp_max_c, temp_avg_c, door_open_minutes, disk_max_pct, outbox_max_age_s, fault_count FROM telemetry_hourly ORDER BY hour')
    expect(hourly.map((h) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k, typeof v === 'string' && k !== 'hour' ? Number(v) : v])))).toEqual([
      { hour: '2026-11-23T01', readings: 2, temp_min_c: 2, temp_max_c: 6, temp_avg_c: 4, door_open_minutes: 1, disk_max_pct: 40, outbox_max_age_s: 0, fault_count: 0 },
      { hour: '2026-12-01T01', readings: 3, temp_min_c: 3, temp_max_c: 9, temp_avg_c: 6, door_open_minutes: 2, disk_max_pct: 91, outbox_max_age_s: 300, fault_count: 1 },
    ])
    expect(Number((await sqlRow<{ n: number }>(fleet.database, 'SELECT count(*) AS n FROM telemetry_raw'))!.n)).toBe(3)
    // Hourly rows go too, past their own retention.
    const later = await telemetryMaintenance(store, new Date('2026-12-20T00:00:00.000Z'), { rawDays: 7, hourlyDays: 20 })
    expect(later).toMatchObject({ prunedRaw: 3, prunedHourly: 1 })
    // The latest row followed the readings in order: the door open since 01:06, not reset by the later reading.
    expect(await store.latest(cab.cabinetId)).toMatchObject({ doorOpen: true, doorOpenSince: '2026-12-01T01:06:00.000Z', diskUsedPct: 91, outboxPending: 2 })
  })
})
