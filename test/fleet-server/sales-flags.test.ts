// Issue 12, finding 5: a chained sale reusing an earlier saleId is stored but
// flagged, alerted and held from forwarding until an official resolves it; a
// cabinet clock days behind is flagged from live traffic, a backlog is not.
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import type { Fleet } from '../../fleet-server/src/app.js'
import type { AlertList, CabinetClockView, ForwardingReply, Sale, SaleFlagList } from '../../shared/src/index.js'
import { api, connectCabinet, provision, tempDir } from '../helpers/fleet.js'
import { aBatch, aChain, aLine, rehash } from '../helpers/sales.js'
import { sqlRow, sqlRows } from '../helpers/test-db.js'
import { aCatalog, aClock, aDatedCabinet, fleetWith, line, ok, type DatedCabinet } from './certification.fixtures.js'

const DAY_MS = 86_400_000

/** A UUIDv7 carrying `ms` (uuidv7() never goes back in time within a process). */
function uuidv7At(ms: number): string {
  const h = ms.toString(16).padStart(12, '0') + '7' + randomBytes(9).toString('hex').slice(0, 15)
  const variant = '89ab'[randomBytes(1)[0]! & 3]!
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${variant}${h.slice(16, 19)}-${randomBytes(6).toString('hex')}`
}

const flags = (fleet: Fleet, query = '', token?: string) => api<SaleFlagList>(fleet, 'GET', `/api/v1/sales/flags${query}`, undefined, token)
const forwarding = (fleet: Fleet) => ok<ForwardingReply>(fleet, 'GET', '/api/v1/forwarding', undefined, 200)
const runForwarding = (fleet: Fleet) => ok<{ queued: number; held: number }>(fleet, 'POST', '/api/v1/forwarding/run', undefined, 200)
async function openAlerts(fleet: Fleet, kind: string) {
  await ok(fleet, 'POST', '/api/v1/alerts/evaluate', undefined, 200)
  return (await ok<AlertList>(fleet, 'GET', `/api/v1/alerts?kind=${kind}`, undefined, 200)).alerts
}
const clockOf = async (fleet: Fleet, cabinetId: string) =>
  (await ok<{ outbox: { clock?: CabinetClockView | null } | null }>(fleet, 'GET', `/api/v1/cabinets/${cabinetId}`, undefined, 200)).outbox?.clock ?? null

/** The cabinet's next sale, reusing the saleId of its sale `seq` (properly chained). */
function reusing(c: DatedCabinet, seq: number, soldAt: string): Sale {
  const [next] = aChain(c.cabinetId, 1, { after: c.sales, soldAt: () => soldAt, lines: () => [line('CERT', 700)] })
  return rehash(c.cabinetId, { ...next!, saleId: c.sales[seq - 1]!.saleId })
}

describe('sale flags: SALE_ID_REUSED', () => {
  it('stores a chained sale reusing an earlier saleId, flags and alerts it, and holds its period until the county resolves it', async () => {
    const clock = aClock('2020-10-05T02:00:00Z')
    const fleet = await fleetWith({ deps: { now: clock.now } })
    await aCatalog(fleet, { CERT: { cert: ['2020-01-01'] } })
    const c = await aDatedCabinet(fleet, { countyCode: '341125' })
    await c.sell('2020-09-10', [line('CERT', 500)])

    // Seq 2 reuses seq 1's id: committed (money changed hands), the chain goes on.
    const reused = reusing(c, 1, '2020-09-12T04:00:00.000Z')
    expect(await c.mqtt.send(aBatch(c.cabinetId, [reused]))).toMatchObject({ status: 'committed', ackedSeq: 2 })
    c.sales.push(reused)
    // A replay of that same seq is a plain re-ack, not a second flag.
    expect(await c.mqtt.send(aBatch(c.cabinetId, [reused]))).toMatchObject({ status: 'committed', ackedSeq: 2 })
    await c.sell('2020-10-01', [line('CERT', 100)]) // the chain passes September's end: only the flag holds it
    expect(await sqlRows(fleet.database, 'SELECT seq, sale_id FROM sales WHERE cabinet_id = ? ORDER BY seq', c.cabinetId)).toEqual([
      { seq: 1, sale_id: reused.saleId },
      { seq: 2, sale_id: reused.saleId },
      { seq: 3, sale_id: c.sales[2]!.saleId },
    ])

    const listed = await flags(fleet)
    expect(listed.status).toBe(200)
    expect(listed.body).toEqual({
      total: 1,
      flags: [expect.objectContaining({ kind: 'SALE_ID_REUSED', cabinetId: c.cabinetId, countyCode: '341125', seq: 2, earlierSeq: 1, saleId: reused.saleId, soldOn: '2020-09-12', earlierSoldOn: '2020-09-10', resolution: null, resolvedBy: null })],
    })
    const flagId = listed.body.flags[0]!.flagId
    const [alert] = await openAlerts(fleet, 'sale_id_reused')
    expect(alert).toMatchObject({ cabinetId: c.cabinetId, countyCode: '341125', subject: `${c.cabinetId}:2`, detail: { flagId, seq: 2, earlierSeq: 1 } })

    // Held with the reason, pass after pass, until someone resolves it.
    expect(await runForwarding(fleet)).toMatchObject({ queued: 0, held: 1 })
    expect((await forwarding(fleet)).held).toEqual([
      expect.objectContaining({ cabinetId: c.cabinetId, period: '2020-09', reason: 'SALE_ID_REUSED', details: { flags: [{ flagId, seq: 2, earlierSeq: 1 }] } }),
    ])
    expect(await runForwarding(fleet)).toMatchObject({ queued: 0, held: 1 })

    // Who may resolve: not an auditor, not another county (it sees nothing), not an operator.
    const token = async (body: Record<string, unknown>) => (await ok<{ token: string }>(fleet, 'POST', '/api/v1/users', body)).token
    const dingyuan = await token({ username: 'dy', role: 'county', countyCode: '341125' })
    const fengyang = await token({ username: 'fy', role: 'county', countyCode: '341126' })
    const auditor = await token({ username: 'au', role: 'auditor' })
    const body = { resolution: 'genuine', note: '两笔真实交易，编号由设备故障重复' }
    const resolve = (t?: string, b: unknown = body) => api<{ flag?: Record<string, unknown>; error?: { code: string } }>(fleet, 'POST', `/api/v1/sales/flags/${flagId}/resolve`, b, t)
    expect((await resolve(auditor)).status).toBe(403)
    expect((await flags(fleet, '', auditor)).body.total).toBe(1)
    expect((await resolve(fengyang)).status).toBe(404)
    expect((await flags(fleet, '', fengyang)).body).toEqual({ flags: [], total: 0 })
    expect((await resolve(dingyuan, { resolution: 'genuine' })).status).toBe(400)
    expect((await runForwarding(fleet)).held).toBe(1)

    clock.set('2020-10-05T03:00:00Z')
    const done = await resolve(dingyuan)
    expect(done.status).toBe(200)
    expect(done.body.flag).toMatchObject({ flagId, resolution: 'genuine', note: body.note, resolvedBy: 'dy', resolvedAt: '2020-10-05T03:00:00.000Z' })
    expect((await resolve(dingyuan)).body.error?.code).toBe('SALE_FLAG_RESOLVED')

    // Judged again: queued for the platform, no longer held; the alert clears.
    expect(await runForwarding(fleet)).toMatchObject({ queued: 1, held: 0 })
    expect(await forwarding(fleet)).toMatchObject({ held: [], pending: 1 })
    expect(await openAlerts(fleet, 'sale_id_reused')).toEqual([])
    expect((await flags(fleet, '?state=resolved')).body.total).toBe(1)
  })

  it('flags a reuse of an older id after a server restart (the probe shortcut knows the stored ids)', async () => {
    const dataDir = await tempDir()
    const clock = aClock('2020-10-05T02:00:00Z')
    let fleet = await fleetWith({ dataDir, deps: { now: clock.now }, manualClose: true })
    const cab = await provision(fleet)
    let c = await connectCabinet(fleet.mqttUrl, cab)
    const sales = aChain(cab.cabinetId, 3, { soldAt: () => '2020-09-10T04:00:00.000Z' })
    await c.send(aBatch(cab.cabinetId, sales))
    await c.close()
    await fleet.close()

    fleet = await fleetWith({ dataDir, deps: { now: clock.now } })
    c = await connectCabinet(fleet.mqttUrl, cab)
    const [next] = aChain(cab.cabinetId, 1, { after: sales, soldAt: () => '2020-09-11T04:00:00.000Z' })
    expect(await c.send(aBatch(cab.cabinetId, [rehash(cab.cabinetId, { ...next!, saleId: sales[0]!.saleId })]))).toMatchObject({ status: 'committed', ackedSeq: 4 })
    expect((await flags(fleet)).body.flags.map((f) => [f.seq, f.earlierSeq])).toEqual([[4, 1]])
  })

  it('re-acks a replay of the same seq and saleId without flagging anything', async () => {
    const fleet = await fleetWith({ deps: { now: aClock('2020-10-05T02:00:00Z').now } })
    const c = await aDatedCabinet(fleet)
    const sales = aChain(c.cabinetId, 3, { soldAt: () => '2020-09-10T04:00:00.000Z', lines: () => [aLine()] })
    await c.mqtt.send(aBatch(c.cabinetId, sales))
    expect(await c.mqtt.send(aBatch(c.cabinetId, sales))).toMatchObject({ status: 'committed', ackedSeq: 3 })
    expect(await c.mqtt.send(aBatch(c.cabinetId, sales.slice(1)))).toMatchObject({ status: 'committed', ackedSeq: 3 })
    // Reused within one batch is still caught (the probe sees the tick's own inserts).
    const [a, b] = aChain(c.cabinetId, 2, { after: sales, soldAt: () => '2020-09-11T04:00:00.000Z' })
    const twin = rehash(c.cabinetId, { ...b!, saleId: a!.saleId, prevHash: a!.hash })
    expect(await c.mqtt.send(aBatch(c.cabinetId, [a!, twin]))).toMatchObject({ status: 'committed', ackedSeq: 5 })
    expect(await c.mqtt.send(aBatch(c.cabinetId, [a!, twin]))).toMatchObject({ status: 'committed', ackedSeq: 5 })
    const r = await flags(fleet, '?state=all')
    expect(r.status).toBe(200)
    expect(r.body.flags.map((f) => [f.seq, f.earlierSeq])).toEqual([[5, 4]])
  })
})

describe('sale flags: CLOCK_SKEW', () => {
  const NOW = '2020-10-05T02:00:00.000Z'
  const nowMs = Date.parse(NOW)

  it('flags a clock days behind from a heartbeat, alerts, and clears once the clock is right again', async () => {
    const fleet = await fleetWith({ deps: { now: aClock(NOW).now } })
    const c = await aDatedCabinet(fleet)
    await c.heartbeat(new Date(nowMs - 3 * DAY_MS).toISOString())
    expect(await clockOf(fleet, c.cabinetId)).toMatchObject({ flag: 'CLOCK_SKEW', source: 'heartbeat', skewS: 3 * 86_400 })
    const [alert] = await openAlerts(fleet, 'clock_skew')
    expect(alert).toMatchObject({ cabinetId: c.cabinetId, countyCode: '341125', severity: 'critical', detail: { skewS: 3 * 86_400 } })
    // Also kept in the cabinet's event log (written in batches).
    await expect.poll(() => sqlRow(fleet.database, "SELECT count(*) AS n FROM cabinet_events WHERE cabinet_id = ? AND kind = 'clock_skew'", c.cabinetId)).toEqual({ n: 1 })

    await c.heartbeat(new Date(nowMs - 2_000).toISOString())
    expect(await clockOf(fleet, c.cabinetId)).toMatchObject({ flag: null, skewS: 2 })
    expect(await openAlerts(fleet, 'clock_skew')).toEqual([])
  })

  it('flags a clock days behind from a live sale batch, and keeps the sale', async () => {
    const fleet = await fleetWith({ deps: { now: aClock(NOW).now } })
    const c = await aDatedCabinet(fleet)
    await c.heartbeat(NOW)
    expect(await clockOf(fleet, c.cabinetId)).toMatchObject({ flag: null })
    // Recorded and sent at once by a device whose clock says three days ago.
    const deviceMs = nowMs - 3 * DAY_MS
    const sales = aChain(c.cabinetId, 1, { soldAt: () => new Date(deviceMs - 500).toISOString() })
    expect(await c.mqtt.send(aBatch(c.cabinetId, sales, { batchId: uuidv7At(deviceMs) }))).toMatchObject({ status: 'committed', ackedSeq: 1 })
    expect(await clockOf(fleet, c.cabinetId)).toMatchObject({ flag: 'CLOCK_SKEW', source: 'sale', skewS: 3 * 86_400 })
  })

  it('does not flag a long offline backlog sent later by a cabinet whose clock is right', async () => {
    const fleet = await fleetWith({ deps: { now: aClock(NOW).now } })
    const c = await aDatedCabinet(fleet)
    await c.heartbeat(NOW)
    // Three days of sales recorded offline, drained now: the batch is sent now by the device's clock.
    const sales = aChain(c.cabinetId, 30, { soldAt: (i) => new Date(nowMs - 3 * DAY_MS + i * 3_600_000).toISOString() })
    expect(await c.mqtt.send(aBatch(c.cabinetId, sales, { batchId: uuidv7At(nowMs - 1_000) }))).toMatchObject({ status: 'committed', ackedSeq: 30 })
    expect(await clockOf(fleet, c.cabinetId)).toMatchObject({ flag: null, source: 'heartbeat' })
    expect(await openAlerts(fleet, 'clock_skew')).toEqual([])
  })
})
