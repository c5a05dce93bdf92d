// Alerts: offline longer than 24 h and behind schedule, stored, listed by
// scope, acknowledged, cleared when the condition ends.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import pino from 'pino'
import { describe, expect, it, onTestFinished } from 'vitest'
import { countingTurns } from '../helpers/event-loop.js'
import { api, connectCabinet, startFleet, tempDir } from '../helpers/fleet.js'
import { clockAt, csvRow, csvRows, importCsv, userToken } from '../helpers/rollout.js'
import { aBatch, aChain } from '../helpers/sales.js'
import { sqlRow } from '../helpers/test-db.js'
import { usccCheckChar } from '../../shared/src/index.js'
import { createAlertService, createAlertStore, type AlertCondition } from '../../fleet-server/src/alerts/index.js'
import { openFleetDb } from '../../fleet-server/src/db/database.js'

/** A valid 统一社会信用代码 (check character computed). */
const aUscc = (n: number, division = '341125'): string => {
  const first17 = `93${division}${String(n).padStart(8, '0')}X`
  return first17 + usccCheckChar(first17)!
}

interface Alert {
  alertId: string
  kind: string
  severity: string
  countyCode: string | null
  cabinetId: string | null
  subject: string
  message: string
  detail: Record<string, unknown>
  raisedAt: string
  clearedAt: string | null
  ackedAt: string | null
  ackedBy: string | null
}
type AlertList = { alerts: Alert[]; total: number }

describe('alerts', () => {
  it('raises offline alerts after 24 h without a connection, clears them when the cabinet is back, and keeps the history', async () => {
    const clock = clockAt('2020-10-10T00:00:00.000Z')
    const fleet = await startFleet({}, { now: clock.now })
    const imported = await importCsv(fleet, [
      csvRow('DY-1', '341125', 'operating'),
      csvRow('DY-2', '341125', 'installed'),
      csvRow('DY-3', '341125', 'site_assigned'), // not installed: cannot be offline
      csvRow('FY-1', '341126', 'operating'),
    ])
    const creds = new Map(imported.body.cabinets!.map((c) => [c.cabinetId, c]))
    const online = await connectCabinet(fleet.mqttUrl, creds.get('FY-1')!)

    clock.set('2020-10-10T23:59:00.000Z')
    await api(fleet, 'POST', '/api/v1/alerts/evaluate')
    expect((await api<AlertList>(fleet, 'GET', '/api/v1/alerts?kind=offline')).body.total).toBe(0)

    clock.set('2020-10-11T00:00:01.000Z')
    const ev = await api<{ raised: number }>(fleet, 'POST', '/api/v1/alerts/evaluate')
    expect(ev.body.raised).toBeGreaterThanOrEqual(2)
    const offline = (await api<AlertList>(fleet, 'GET', '/api/v1/alerts?kind=offline')).body.alerts
    expect(offline.map((a) => a.cabinetId).sort()).toEqual(['DY-1', 'DY-2'])
    expect(offline.find((a) => a.cabinetId === 'DY-1')).toMatchObject({
      severity: 'warning',
      countyCode: '341125',
      message: '专柜 DY-1 已运营 24 小时，从未上线',
      raisedAt: '2020-10-11T00:00:01.000Z',
      clearedAt: null,
    })

    // Within the same hour nothing about the alert changed: its row is not rewritten.
    const updatedAt = async () => (await sqlRow<{ u: string }>(fleet.database, "SELECT updated_at AS u FROM alerts WHERE subject = 'DY-1'"))!.u
    clock.set('2020-10-11T00:30:00.000Z')
    await api(fleet, 'POST', '/api/v1/alerts/evaluate')
    expect(await updatedAt()).toBe('2020-10-11T00:00:01.000Z')

    // Evaluating again keeps one open alert per cabinet; 3 days makes it critical.
    clock.set('2020-10-13T01:00:00.000Z')
    await api(fleet, 'POST', '/api/v1/alerts/evaluate')
    const again = (await api<AlertList>(fleet, 'GET', '/api/v1/alerts?kind=offline')).body.alerts
    expect(again).toHaveLength(2)
    expect(again.every((a) => a.severity === 'critical')).toBe(true)
    expect(again.find((a) => a.cabinetId === 'DY-1')!.message).toBe('专柜 DY-1 已运营 73 小时，从未上线')
    expect(await updatedAt()).toBe('2020-10-13T01:00:00.000Z')

    // DY-1 comes online: its alert clears; DY-2 is retired: its alert clears too.
    await connectCabinet(fleet.mqttUrl, creds.get('DY-1')!)
    await expect.poll(async () => (await api<{ online: boolean }>(fleet, 'GET', '/api/v1/cabinets/DY-1')).body.online).toBe(true)
    await api(fleet, 'PATCH', '/api/v1/cabinets/DY-2', { status: 'retired' })
    const cleared = await api<{ cleared: number; open: number }>(fleet, 'POST', '/api/v1/alerts/evaluate')
    expect(cleared.body.cleared).toBeGreaterThanOrEqual(2)
    expect((await api<AlertList>(fleet, 'GET', '/api/v1/alerts?kind=offline')).body.total).toBe(0)
    const history = (await api<AlertList>(fleet, 'GET', '/api/v1/alerts?kind=offline&state=all')).body.alerts
    expect(history.map((a) => [a.cabinetId, a.clearedAt])).toEqual(expect.arrayContaining([['DY-1', '2020-10-13T01:00:00.000Z'], ['DY-2', '2020-10-13T01:00:00.000Z']]))
    await online.close()
  })

  it('is acknowledged by a user of its scope; others get 404, auditors 403', async () => {
    const clock = clockAt('2020-10-10T00:00:00.000Z')
    const fleet = await startFleet({}, { now: clock.now })
    await importCsv(fleet, [csvRow('DY-1', '341125', 'installed'), csvRow('FY-1', '341126', 'installed')])
    clock.set('2020-10-12T00:00:00.000Z')
    await api(fleet, 'POST', '/api/v1/alerts/evaluate')
    const dy = await userToken(fleet, { username: 'dy', role: 'county', countyCode: '341125' })
    const fy = await userToken(fleet, { username: 'fy', role: 'county', countyCode: '341126' })
    const auditor = await userToken(fleet, { username: 'au', role: 'auditor' })
    const mine = (await api<AlertList>(fleet, 'GET', '/api/v1/alerts?kind=offline', undefined, dy)).body.alerts
    expect(mine.map((a) => a.cabinetId)).toEqual(['DY-1'])
    const id = mine[0]!.alertId

    expect((await api(fleet, 'POST', `/api/v1/alerts/${id}/ack`, undefined, fy)).body).toMatchObject({ error: { code: 'ALERT_NOT_FOUND' } })
    expect((await api(fleet, 'POST', `/api/v1/alerts/${id}/ack`, undefined, auditor)).status).toBe(403)
    const acked = await api<{ alert: Alert }>(fleet, 'POST', `/api/v1/alerts/${id}/ack`, undefined, dy)
    expect(acked.body.alert).toMatchObject({ ackedBy: 'dy', ackedAt: '2020-10-12T00:00:00.000Z', clearedAt: null })
    // Acknowledged but not cleared: open, no longer unacked.
    expect((await api<AlertList>(fleet, 'GET', '/api/v1/alerts?kind=offline&state=unacked', undefined, dy)).body.total).toBe(0)
    expect((await api<AlertList>(fleet, 'GET', '/api/v1/alerts?kind=offline&state=open', undefined, dy)).body.total).toBe(1)
    expect((await api(fleet, 'POST', '/api/v1/alerts/no-such-alert/ack', undefined, dy)).status).toBe(404)
  })

  it('raises behind-schedule alerts for counties whose pace will not make the next milestone', async () => {
    const dir = await tempDir('plan-')
    const plan = {
      id: 'two-counties',
      name: '两县试点',
      region: { code: '341100', name: '滁州市' },
      channel: 'cabinet',
      totalQuota: 200,
      counties: [{ code: '341125', name: '定远县', quota: 100 }, { code: '341126', name: '凤阳县', quota: 100 }],
      milestones: [{ id: 'all-installed', date: '2020-12-31', description: '完成全部专柜铺设任务', requires: { installedBp: 10000 } }],
      policy: { minCertifiedShareBp: { cabinet: 5000 }, forwardingPeriod: 'month', reports: { weeklyDueIsoWeekday: 2, monthlyDueDay: 25, quarterly: true } },
    }
    await writeFile(join(dir, 'plan.json'), JSON.stringify(plan))
    const clock = clockAt('2020-11-01T00:00:00.000Z')
    const fleet = await startFleet({ FLEET_PLAN: join(dir, 'plan.json') }, { now: clock.now })
    // 凤阳县 installed 10 long ago, nothing since; 定远县 installed 40 in the last week.
    await importCsv(fleet, csvRows('341126', 'installed', 10))
    clock.set('2020-11-25T00:00:00.000Z')
    await importCsv(fleet, csvRows('341125', 'installed', 40))
    clock.set('2020-12-01T00:00:00.000Z')

    const r = await api<{ counties: Array<{ code: string; next: Record<string, unknown> }> }>(fleet, 'GET', '/api/v1/rollout')
    // 定远县: 60 to go at 40/14 per day → 21 days → 2020-12-22, on track.
    expect(r.body.counties[0]!.next).toMatchObject({ remaining: 60, pacePerDay: 2.86, projectedDate: '2020-12-22', onTrack: true })
    expect(r.body.counties[1]!.next).toMatchObject({ remaining: 90, pacePerDay: 0, projectedDate: null, onTrack: false })

    await api(fleet, 'POST', '/api/v1/alerts/evaluate')
    const behind = (await api<AlertList>(fleet, 'GET', '/api/v1/alerts?kind=behind_schedule')).body.alerts
    expect(behind.map((a) => [a.countyCode, a.severity, a.message])).toEqual([
      ['341126', 'warning', '凤阳县落后于“完成全部专柜铺设任务”（2020-12-31）进度，尚差 90 台；近 14 天无进展'],
    ])
    // After the date it is missed and critical.
    clock.set('2021-01-01T00:00:00.000Z')
    await api(fleet, 'POST', '/api/v1/alerts/evaluate')
    const missed = (await api<AlertList>(fleet, 'GET', '/api/v1/alerts?kind=behind_schedule')).body.alerts
    // Newest first: 定远县's alert is new (its pace stopped with the date passed), 凤阳县's was raised before.
    expect(missed.map((a) => [a.countyCode, a.severity, a.raisedAt])).toEqual([
      ['341125', 'critical', '2021-01-01T00:00:00.000Z'],
      ['341126', 'critical', '2020-12-01T00:00:00.000Z'],
    ])
  })

  it('raises compliance-low alerts for cabinets under the certified share this month, and certificate-expiring alerts 90 days ahead', async () => {
    const clock = clockAt('2020-10-01T00:00:00.000Z')
    const fleet = await startFleet({}, { now: clock.now })
    const post = async (url: string, body: unknown) => expect((await api(fleet, 'POST', url, body)).status, url).toBe(201)
    await post('/api/v1/suppliers', { uscc: aUscc(1), name: '定远县蜂蜜合作社' })
    await post('/api/v1/products', { sku: 'DY-HONEY', name: '定远蜂蜜', supplierUscc: aUscc(1), priceFen: 3990 })
    await post('/api/v1/products', { sku: 'COLA', name: '可乐', supplierUscc: aUscc(1), priceFen: 300 })
    await post('/api/v1/certificates', { sku: 'DY-HONEY', certificateNo: 'AH-2020-001', validFrom: '2019-12-01', validTo: '2020-11-30' })
    const imported = await importCsv(fleet, [csvRow('DY-1', '341125', 'operating', 'dy-coop'), csvRow('DY-2', '341125', 'operating', 'dy-coop')])
    const creds = new Map(imported.body.cabinets!.map((c) => [c.cabinetId, c]))
    // DY-1 sells mostly honey (certified), DY-2 mostly cola.
    for (const [id, honey, cola] of [['DY-1', 3, 1], ['DY-2', 1, 20]] as const) {
      const cab = await connectCabinet(fleet.mqttUrl, creds.get(id)!)
      const lines = [{ sku: 'DY-HONEY', qty: honey, unitPriceFen: 3990 }, { sku: 'COLA', qty: cola, unitPriceFen: 300 }]
      expect((await cab.send(aBatch(id, aChain(id, 1, { soldAt: () => '2020-10-05T04:00:00.000Z', lines: () => lines })))).status).toBe('committed')
    }
    clock.set('2020-10-06T00:00:00.000Z')
    await api(fleet, 'POST', '/api/v1/alerts/evaluate')
    const low = (await api<AlertList>(fleet, 'GET', '/api/v1/alerts?kind=compliance_low')).body.alerts
    // DY-2: 3990 of 9990 fen = 39.93% < 50%.
    expect(low.map((a) => [a.cabinetId, a.severity, a.message])).toEqual([['DY-2', 'warning', '专柜 DY-2 本月扶贫产品销售额占比 39.93%，低于 50.00% 的要求']])
    const op = await userToken(fleet, { username: 'dyop', role: 'operator', operator: 'dy-coop' })
    expect((await api<AlertList>(fleet, 'GET', '/api/v1/alerts?kind=compliance_low', undefined, op)).body.total).toBe(1)

    // 2020-11-30 is 55 days after 2020-10-06: inside the 90-day window.
    const expiring = (await api<AlertList>(fleet, 'GET', '/api/v1/alerts?kind=cert_expiring')).body.alerts
    expect(expiring.map((a) => [a.subject, a.severity, a.detail.daysLeft, a.countyCode])).toEqual([['AH-2020-001', 'warning', 55, '341125']])

    // A county sees the expiring certificates of suppliers registered in it
    // (USCC characters 3–8); a supplier registered outside the plan's counties
    // is for city-wide roles only; operators see none.
    await post('/api/v1/suppliers', { uscc: aUscc(2, '341126'), name: '凤阳县粉丝合作社' })
    await post('/api/v1/suppliers', { uscc: aUscc(3, '340100'), name: '合肥市供应商' })
    await post('/api/v1/products', { sku: 'FY-NOODLE', name: '凤阳粉丝', supplierUscc: aUscc(2, '341126'), priceFen: 1500 })
    await post('/api/v1/products', { sku: 'HF-TEA', name: '合肥茶', supplierUscc: aUscc(3, '340100'), priceFen: 2500 })
    await post('/api/v1/certificates', { sku: 'FY-NOODLE', certificateNo: 'AH-2020-002', validFrom: '2019-11-01', validTo: '2020-10-31' })
    await post('/api/v1/certificates', { sku: 'HF-TEA', certificateNo: 'AH-2020-003', validFrom: '2019-11-01', validTo: '2020-10-31' })
    await api(fleet, 'POST', '/api/v1/alerts/evaluate')
    const subjects = async (token?: string) => (await api<AlertList>(fleet, 'GET', '/api/v1/alerts?kind=cert_expiring', undefined, token)).body.alerts.map((a) => a.subject).sort()
    expect(await subjects()).toEqual(['AH-2020-001', 'AH-2020-002', 'AH-2020-003'])
    expect(await subjects(await userToken(fleet, { username: 'dy', role: 'county', countyCode: '341125' }))).toEqual(['AH-2020-001'])
    const fy = await userToken(fleet, { username: 'fy', role: 'county', countyCode: '341126' })
    expect(await subjects(fy)).toEqual(['AH-2020-002'])
    expect(await subjects(op)).toEqual([])
    // The county can acknowledge its own.
    const fyAlert = (await api<AlertList>(fleet, 'GET', '/api/v1/alerts?kind=cert_expiring', undefined, fy)).body.alerts[0]!
    expect((await api(fleet, 'POST', `/api/v1/alerts/${fyAlert.alertId}/ack`, undefined, fy)).status).toBe(200)

    // A renewal that takes over clears it.
    await post('/api/v1/certificates', { sku: 'DY-HONEY', certificateNo: 'AH-2021-001', validFrom: '2020-12-01', validTo: '2021-11-30' })
    await api(fleet, 'POST', '/api/v1/alerts/evaluate')
    expect(await subjects()).toEqual(['AH-2020-002', 'AH-2020-003'])
  })

  it('applies a partitioned rule one county at a time: each county clears only its own, the rest is cleared after the last', async () => {
    const fleet = await startFleet()
    const store = createAlertStore(fleet.database)
    let n = 0
    const newId = () => `a-${++n}`
    const offline = (cabinetId: string, countyCode: string | null): AlertCondition => ({
      kind: 'offline', subject: cabinetId, severity: 'warning', countyCode, cabinetId, operator: null, message: `专柜 ${cabinetId} 离线`, detail: {},
    })
    const at = '2020-10-10T00:00:00.000Z'
    await store.apply('offline', [offline('DY-1', '341125'), offline('X-1', '110101'), offline('N-1', null)], at, newId)
    await store.apply('offline', [offline('FY-1', '341126')], at, newId, '341126')
    const open = async () => (await store.list({ countyCode: null, operator: null, cabinetOnly: false, state: 'open', kind: 'offline', limit: 100 })).alerts.map((a) => a.subject).sort()
    expect(await open()).toEqual(['DY-1', 'FY-1', 'N-1', 'X-1'])

    // 341125's turn with nothing offline clears DY-1 and nothing of other counties.
    expect(await store.apply('offline', [], at, newId, '341125')).toEqual({ raised: 0, cleared: 1 })
    expect(await open()).toEqual(['FY-1', 'N-1', 'X-1'])
    // After the plan's last county: alerts of counties outside it, or of none, clear.
    expect(await store.clearOutside('offline', ['341125', '341126'], at)).toBe(2)
    expect(await open()).toEqual(['FY-1'])

    // A condition of another county in a county's turn is a bug in the rule, refused whole.
    await expect(store.apply('offline', [offline('DY-2', '341125')], at, newId, '341126')).rejects.toThrow(/DY-2 of county 341125 when asked for 341126/)
    expect(await open()).toEqual(['FY-1'])
  })

  it('runs the interval\'s evaluations only while this process leads; one asked for runs regardless', async () => {
    const database = await openFleetDb({ dialect: 'sqlite', dataDir: await tempDir('alerts-leader-') }, pino({ level: 'silent' }))
    onTestFinished(() => database.close())
    let evaluations = 0
    let leads = false
    const alerts = createAlertService({
      store: createAlertStore(database),
      sources: [{
        kind: 'clock_skew',
        evaluate: async () => {
          evaluations++
          return []
        },
      }],
      now: () => new Date('2026-12-05T00:00:00Z'),
      log: pino({ level: 'silent' }),
      everyMs: 10,
      isLeader: async () => leads,
    })
    onTestFinished(() => alerts.close())
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(evaluations).toBe(0)
    expect(await alerts.evaluate()).toEqual({ raised: 0, cleared: 0, open: 0 })
    expect(evaluations).toBe(1)
    leads = true
    await expect.poll(() => evaluations, { timeout: 2_000 }).toBeGreaterThan(2)
  })

  it('gives the event loop a turn after each rule and after each county of a rule that runs by county', async () => {
    const fleet = await startFleet()
    const { value: r, turns } = await countingTurns(() => api(fleet, 'POST', '/api/v1/alerts/evaluate'))
    expect(r.status).toBe(200)
    // Offline and compliance rules run a turn per county of the plan (8 each), the other two once.
    expect(turns).toBeGreaterThanOrEqual(2 * fleet.plan.counties.length + 2)
  })
})

