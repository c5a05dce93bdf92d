// The alert and report stores on both engines (issue 13): the same checks
// against a migrated SQLite file and a migrated PostgreSQL database — raise,
// refresh, clear, acknowledge and list alerts; store, list and read reports;
// a scheduled report stored once per kind, period and scope; and two
// evaluations racing on PostgreSQL (two replicas) opening one alert.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAlertStore, type AlertCondition, type AlertStore } from '../../../fleet-server/src/alerts/index.js'
import { openFleetDb, type FleetDb } from '../../../fleet-server/src/db/database.js'
import { createReportStore, type ReportStore } from '../../../fleet-server/src/reports/index.js'
import type { StoredReport } from '../../../fleet-server/src/reports/store.js'
import { startPostgres, type Postgres } from '../../helpers/postgres.js'
import { sqlRow } from '../../helpers/test-db.js'

const log = pino({ level: 'silent' })

let server: Postgres | null = null
const opened: FleetDb[] = []
const dirs: string[] = []

async function openEngine(dialect: 'sqlite' | 'postgres', name: string): Promise<{ db: FleetDb; url: string | null }> {
  if (dialect === 'sqlite') {
    // Opened in beforeAll, where tempDir()'s per-test cleanup cannot register: removed in afterAll.
    const dataDir = await mkdtemp(join(tmpdir(), `${name}-`))
    dirs.push(dataDir)
    const db = await openFleetDb({ dialect, dataDir }, log)
    opened.push(db)
    return { db, url: null }
  }
  const url = await server!.newDatabase(name)
  const db = await openFleetDb({ dialect, url }, log)
  opened.push(db)
  return { db, url }
}

beforeAll(async () => {
  server = await startPostgres()
})
afterAll(async () => {
  for (const db of opened) await db.close()
  await server?.close()
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

const cond = (subject: string, over: Partial<AlertCondition> = {}): AlertCondition => ({
  kind: 'offline',
  subject,
  severity: 'warning',
  countyCode: '341125',
  cabinetId: subject,
  operator: 'op-a',
  message: `专柜 ${subject} 离线`,
  detail: { hours: 25, nested: { lastSeenAt: null } },
  ...over,
})

const all = { countyCode: null, operator: null, cabinetOnly: false, state: 'all', kind: null, limit: 100 } as const

describe.each(['sqlite', 'postgres'] as const)('alert store on %s', (dialect) => {
  let db: FleetDb
  let store: AlertStore
  let n = 0
  const newId = () => `alert-${String(++n).padStart(4, '0')}`
  beforeAll(async () => {
    db = (await openEngine(dialect, 'alerts')).db
    store = createAlertStore(db)
  })

  it('raises, refreshes only what changed, clears, acknowledges and lists by filter', async () => {
    const t1 = '2026-12-05T01:00:00.000Z'
    expect(await store.apply('offline', [cond('DY-1'), cond('DY-2', { operator: 'op-b' }), cond('FY-1', { countyCode: '341126', cabinetId: null })], t1, newId)).toEqual({ raised: 3, cleared: 0 })
    expect(await store.openCount()).toBe(3)
    const first = await store.list(all)
    expect(first.total).toBe(3)
    // Newest first, ties by id descending.
    expect(first.alerts.map((a) => a.subject)).toEqual(['FY-1', 'DY-2', 'DY-1'])
    expect(first.alerts[2]).toMatchObject({ kind: 'offline', severity: 'warning', countyCode: '341125', cabinetId: 'DY-1', operator: 'op-a', detail: { hours: 25, nested: { lastSeenAt: null } }, raisedAt: t1, clearedAt: null, ackedAt: null, ackedBy: null })

    // The same verdict again writes nothing; a changed one refreshes that row only.
    const t2 = '2026-12-05T02:00:00.000Z'
    expect(await store.apply('offline', [cond('DY-1'), cond('DY-2', { operator: 'op-b', severity: 'critical' }), cond('FY-1', { countyCode: '341126', cabinetId: null })], t2, newId)).toEqual({ raised: 0, cleared: 0 })
    const updated = async (subject: string) => (await sqlRow<{ u: string }>(db, 'SELECT updated_at AS u FROM alerts WHERE subject = ?', subject))!.u
    expect([await updated('DY-1'), await updated('DY-2')]).toEqual([t1, t2])
    expect((await store.list({ ...all, countyCode: '341125', operator: 'op-b' })).alerts.map((a) => [a.subject, a.severity])).toEqual([['DY-2', 'critical']])
    expect((await store.list({ ...all, cabinetOnly: true })).total).toBe(2)
    expect((await store.list({ ...all, kind: 'clock_skew' })).total).toBe(0)
    expect((await store.list({ ...all, limit: 1 }))).toMatchObject({ total: 3, alerts: [{ subject: 'FY-1' }] })

    // Acknowledged: still open, no longer unacknowledged; a second ack changes nothing.
    const dy1 = first.alerts[2]!.alertId
    await store.ack(dy1, 'dy-official', t2)
    await store.ack(dy1, 'someone-else', '2026-12-05T03:00:00.000Z')
    expect(await store.get(dy1)).toMatchObject({ ackedAt: t2, ackedBy: 'dy-official', clearedAt: null })
    expect((await store.list({ ...all, state: 'unacked' })).alerts.map((a) => a.subject).sort()).toEqual(['DY-2', 'FY-1'])
    expect((await store.list({ ...all, state: 'open' })).total).toBe(3)
    expect(await store.get('no-such-alert')).toBeNull()

    // What no longer holds clears; history stays listed under 'all'.
    const t3 = '2026-12-05T03:00:00.000Z'
    expect(await store.apply('offline', [cond('DY-2', { operator: 'op-b', severity: 'critical' })], t3, newId)).toEqual({ raised: 0, cleared: 2 })
    expect((await store.list({ ...all, state: 'open' })).alerts.map((a) => a.subject)).toEqual(['DY-2'])
    expect(await store.get(dy1)).toMatchObject({ clearedAt: t3 })
    expect((await store.list(all)).total).toBe(3)
    // Raised again after clearing: a new alert, the old one kept.
    expect(await store.apply('offline', [cond('DY-1'), cond('DY-2', { operator: 'op-b', severity: 'critical' })], t3, newId)).toEqual({ raised: 1, cleared: 0 })
    expect((await store.list(all)).total).toBe(4)
    expect(await store.openCount()).toBe(2)
  })

  it('applies a county at a time and clears outside the counties afterwards', async () => {
    const at = '2026-12-05T04:00:00.000Z'
    const kind = 'compliance_low' as const
    await store.apply(kind, [cond('A-1', { kind }), cond('X-1', { kind, countyCode: '110101' }), cond('N-1', { kind, countyCode: null })], at, newId)
    expect(await store.apply(kind, [], at, newId, '341125')).toEqual({ raised: 0, cleared: 1 })
    await expect(store.apply(kind, [cond('A-2', { kind })], at, newId, '341126')).rejects.toThrow(/A-2 of county 341125 when asked for 341126/)
    expect(await store.clearOutside(kind, ['341125', '341126'], at)).toBe(2)
    expect((await store.list({ ...all, kind, state: 'open' })).total).toBe(0)
    // No county left: everything of the kind clears.
    await store.apply(kind, [cond('B-1', { kind })], at, newId)
    expect(await store.clearOutside(kind, [], at)).toBe(1)
  })

  it('raises 6,000 alerts in one verdict (more bound values than either engine takes in one statement), refreshes them all when their text moves on, and clears them', async () => {
    const at = '2026-12-05T05:00:00.000Z'
    const many = Array.from({ length: 6000 }, (_, i) => cond(`M-${String(i).padStart(4, '0')}`, { kind: 'clock_skew' }))
    expect(await store.apply('clock_skew', many, at, newId)).toEqual({ raised: 6000, cleared: 0 })
    expect((await store.list({ ...all, kind: 'clock_skew', state: 'open', limit: 5 })).total).toBe(6000)
    // An hour later every message changed (and one county): all refreshed, none raised.
    const later = '2026-12-05T05:30:00.000Z'
    const moved = many.map((c, i) => ({ ...c, message: `${c.message}（已 26 小时）`, detail: { hours: 26 }, countyCode: i === 0 ? null : c.countyCode }))
    expect(await store.apply('clock_skew', moved, later, newId)).toEqual({ raised: 0, cleared: 0 })
    const sample = await sqlRow<{ n: number }>(db, "SELECT count(*) AS n FROM alerts WHERE kind = 'clock_skew' AND updated_at = ? AND message LIKE '%26 小时%' AND detail = ?", later, '{"hours":26}')
    expect(sample!.n).toBe(6000)
    expect((await store.list({ ...all, kind: 'clock_skew', countyCode: '341125', limit: 1 })).total).toBe(5999)
    expect(await store.apply('clock_skew', [], later, newId)).toEqual({ raised: 0, cleared: 6000 })
  })

  it('opens one alert when two evaluations of the same verdict race (two replicas on PostgreSQL)', async () => {
    // On PostgreSQL two handles on one new database, as two processes would
    // have; on SQLite (one process per file) one handle, its queries serialized.
    let [first, second] = [db, db]
    if (dialect === 'postgres') {
      const { db: one, url } = await openEngine(dialect, 'alerts_race')
      second = await openFleetDb({ dialect, url: url! }, log)
      opened.push(second)
      first = one
    }
    const [a, b] = [createAlertStore(first), createAlertStore(second)]
    const at = '2026-12-05T06:00:00.000Z'
    const verdict = Array.from({ length: 50 }, (_, i) => cond(`R-${i}`, { kind: 'behind_schedule' }))
    for (let round = 0; round < 5; round++) {
      const subjects = verdict.slice(round * 10)
      const [x, y] = await Promise.all([a.apply('behind_schedule', subjects, at, newId), b.apply('behind_schedule', subjects, at, newId)])
      if (round === 0) expect(x.raised + y.raised).toBe(50)
      const open = await a.list({ ...all, kind: 'behind_schedule', state: 'open' })
      expect(open.total).toBe(subjects.length)
    }
  })
})

const report = (over: Partial<StoredReport>): StoredReport => ({
  reportId: 'r-0001',
  kind: 'weekly',
  period: '2026-W48',
  from: '2026-11-23',
  to: '2026-11-29',
  countyCode: null,
  operator: null,
  scope: 'city',
  scopeName: '滁州市',
  createdAt: '2026-12-01T22:00:00.000Z',
  createdBy: 'system',
  scheduled: true,
  content: JSON.stringify({ v: 1, title: '滁州市消费扶贫智能专柜周报', cabinets: [] }),
  ...over,
})

describe.each(['sqlite', 'postgres'] as const)('report store on %s', (dialect) => {
  let store: ReportStore
  beforeAll(async () => {
    store = createReportStore((await openEngine(dialect, 'reports')).db)
  })

  it('stores a scheduled report once per kind, period and scope; manual ones every time', async () => {
    expect(await store.hasScheduled('weekly', '2026-W48', 'city')).toBe(false)
    expect(await store.insert(report({}))).toBe(true)
    expect(await store.hasScheduled('weekly', '2026-W48', 'city')).toBe(true)
    expect(await store.insert(report({ reportId: 'r-0002', createdAt: '2026-12-01T23:00:00.000Z' }))).toBe(false)
    // Another scope, period or kind is another report.
    expect(await store.insert(report({ reportId: 'r-0003', scope: 'county:341125', countyCode: '341125', scopeName: '定远县' }))).toBe(true)
    expect(await store.insert(report({ reportId: 'r-0004', kind: 'monthly', period: '2026-11', from: '2026-11-01', to: '2026-11-30' }))).toBe(true)
    expect(await store.hasScheduled('monthly', '2026-11', 'city')).toBe(true)
    // Manual snapshots of the same scope are all kept, and do not count as the scheduled one.
    expect(await store.insert(report({ reportId: 'r-0005', scheduled: false, createdBy: 'admin', createdAt: '2026-12-02T01:00:00.000Z' }))).toBe(true)
    expect(await store.insert(report({ reportId: 'r-0006', scheduled: false, createdBy: 'admin', createdAt: '2026-12-02T01:00:00.000Z' }))).toBe(true)
    expect(await store.hasScheduled('weekly', '2026-W48', 'operator:op-a')).toBe(false)
  })

  it('reads a report back whole and lists by visibility and filter, newest first', async () => {
    const r = await store.get('r-0001')
    expect(r).toEqual(report({}))
    expect(await store.get('r-0002')).toBeNull()
    await store.insert(report({ reportId: 'r-0007', scheduled: false, scope: 'operator:op-a/county:341125', countyCode: '341125', operator: 'op-a', createdAt: '2026-12-03T00:00:00.000Z' }))
    const everything = { countyCode: null, operator: null }
    // Same created_at: the larger id first.
    expect((await store.list(everything, {})).map((x) => x.reportId)).toEqual(['r-0007', 'r-0006', 'r-0005', 'r-0004', 'r-0003', 'r-0001'])
    expect((await store.list(everything, { kind: 'monthly' })).map((x) => x.reportId)).toEqual(['r-0004'])
    expect((await store.list(everything, { period: '2026-W48', countyCode: '341125' })).map((x) => x.reportId)).toEqual(['r-0007', 'r-0003'])
    expect((await store.list({ countyCode: '341125', operator: null }, {})).map((x) => x.reportId)).toEqual(['r-0007', 'r-0003'])
    expect((await store.list({ countyCode: null, operator: 'op-a' }, {})).map((x) => x.reportId)).toEqual(['r-0007'])
    expect((await store.list({ countyCode: null, operator: 'op-b' }, {}))).toEqual([])
    const [row] = await store.list(everything, { kind: 'monthly' })
    expect(row).toEqual({ ...report({ reportId: 'r-0004', kind: 'monthly', period: '2026-11', from: '2026-11-01', to: '2026-11-30' }), content: undefined })
  })
})
