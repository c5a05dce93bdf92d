// Rollout progress against the seeded Chuzhou plan after a scripted
// deployment of 1,000 cabinets, milestone states around their dates (on an
// injected clock), projections, and a plan of another region loaded as data.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Database } from '../../fleet-server/src/db/sqlite.js'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { migrate } from '../../fleet-server/src/db/index.js'
import { MIGRATIONS } from '../../fleet-server/src/db/migrations.js'
import { api, connectCabinet, startFleet, tempDir } from '../helpers/fleet.js'
import { clockAt, csvRow, csvRows, importCsv, rollout, type CountyRow, type Rollout } from '../helpers/rollout.js'
import { createRolloutService, createRolloutStore } from '../../fleet-server/src/rollout/index.js'
import type { Principal } from '../../fleet-server/src/access/index.js'
import { onPostgres, sqlRows } from '../helpers/test-db.js'

const patch = (status: string) => ({ status })

describe('GET /api/v1/rollout', () => {
  it('counts exactly after a scripted deployment of 1,000 cabinets and flips milestone states around their dates', async () => {
    const clock = clockAt('2020-09-01T02:00:00.000Z')
    const fleet = await startFleet({}, { now: clock.now })

    // 定远县 415 (quota 415), 凤阳县 300 (quota 355), 明光市 285 (quota 345): 1,000 cabinets.
    const imported = await importCsv(fleet, [
      ...csvRows('341125', 'site_assigned', 200, 1),
      ...csvRows('341125', 'installed', 115, 201),
      ...csvRows('341125', 'operating', 100, 316),
      ...csvRows('341126', 'planned', 100, 1),
      ...csvRows('341126', 'site_assigned', 150, 101),
      ...csvRows('341126', 'installed', 50, 251),
      ...csvRows('341182', 'planned', 200, 1),
      ...csvRows('341182', 'operating', 85, 201),
    ])
    expect(imported.status, JSON.stringify(imported.body).slice(0, 500)).toBe(201)
    expect(imported.body.imported).toBe(1000)
    const creds = new Map(imported.body.cabinets!.map((c) => [c.cabinetId, c]))

    const walk = async (ids: string[], status: string) => {
      for (const id of ids) expect((await api(fleet, 'PATCH', `/api/v1/cabinets/${id}`, patch(status))).status).toBe(200)
    }
    const ids = (county: string, from: number, n: number) => Array.from({ length: n }, (_, i) => `C-${county}-${String(from + i).padStart(5, '0')}`)
    await walk(ids('341125', 316, 5), 'suspended') // operating → suspended: still installed, not operating
    await walk(ids('341126', 101, 3), 'retired') // site withdrawn for good: no longer counts as a site
    await walk(ids('341126', 251, 10), 'operating')
    await walk(ids('341182', 1, 2), 'retired') // planned → retired: changes no figure
    await walk(ids('341125', 1, 20), 'installed')

    for (const id of ['C-341125-00321', 'C-341125-00322', 'C-341126-00251']) await connectCabinet(fleet.mqttUrl, creds.get(id)!)

    await expect.poll(async () => (await rollout(fleet)).totals.online).toBe(3)
    const r = await rollout(fleet)
    const row = (code: string) => r.counties.find((c) => c.code === code)!
    expect(row('341125')).toMatchObject({ name: '定远县', quota: 415, sitesAssigned: 415, installed: 235, operating: 95, online: 2 })
    expect(row('341126')).toMatchObject({ name: '凤阳县', quota: 355, sitesAssigned: 197, installed: 50, operating: 10, online: 1 })
    expect(row('341182')).toMatchObject({ name: '明光市', quota: 345, sitesAssigned: 85, installed: 85, operating: 85, online: 0 })
    for (const code of ['341122', '341124', '341102', '341103', '341181']) expect(row(code)).toMatchObject({ sitesAssigned: 0, installed: 0, operating: 0, online: 0 })
    expect(r.totals).toEqual({ quota: 2700, sitesAssigned: 697, installed: 370, operating: 190, online: 3, onlineNotInstalled: 0 })
    expect(r.counties).toHaveLength(8)

    // Milestones on 2020-09-01: both due; only 定远县 meets the first.
    expect(r.milestones.map((m) => [m.date, m.state, m.countiesMet])).toEqual([['2020-09-30', 'due', 1], ['2020-12-31', 'due', 0]])
    expect(row('341125').milestones[0]).toMatchObject({ state: 'met', onTrack: true, remaining: 0 })
    expect(row('341125').next).toMatchObject({ milestoneId: 'all-installed', state: 'due', remaining: 180 })
    // Projections at the pace of the last 14 days (everything happened today).
    expect(row('341126').next).toMatchObject({ milestoneId: 'sites-fixed-first-batch', remaining: 158, projectedDate: '2020-09-13', onTrack: true })
    expect(row('341182').next).toMatchObject({ remaining: 260, projectedDate: '2020-10-14', onTrack: false })
    expect(row('341122').next).toMatchObject({ remaining: 268, pacePerDay: 0, projectedDate: null, onTrack: false })

    // Around the first date (end of 2020-09-30, Asia/Shanghai = 16:00 UTC).
    clock.set('2020-09-30T15:59:59.999Z')
    expect((await rollout(fleet)).milestones[0]!.state).toBe('due')
    clock.set('2020-09-30T16:00:00.000Z')
    const late = await rollout(fleet)
    expect(late.milestones.map((m) => m.state)).toEqual(['missed', 'due'])
    expect(late.counties.find((c) => c.code === '341125')!.milestones[0]!.state).toBe('met')
    expect(late.counties.find((c) => c.code === '341126')!.milestones[0]!.state).toBe('missed')

    // Every county fixes its sites and runs a first cabinet: met (late, but met).
    const rest = await importCsv(fleet, [
      ...csvRows('341126', 'site_assigned', 158, 301),
      ...csvRows('341182', 'site_assigned', 260, 301),
      ...['341122', '341124', '341102', '341103', '341181'].flatMap((code) => {
        const quota = r.counties.find((c) => c.code === code)!.quota
        return [...csvRows(code, 'operating', 1, 1), ...csvRows(code, 'site_assigned', quota - 1, 2)]
      }),
    ])
    expect(rest.status, JSON.stringify(rest.body).slice(0, 300)).toBe(201)
    const met = await rollout(fleet)
    expect(met.totals.sitesAssigned).toBe(2700)
    expect(met.milestones.map((m) => [m.state, m.countiesMet])).toEqual([['met', 8], ['due', 0]])

    clock.set('2020-12-31T15:59:59.999Z')
    expect((await rollout(fleet)).milestones[1]!.state).toBe('due')
    clock.set('2021-01-01T00:00:00.000Z')
    expect((await rollout(fleet)).milestones.map((m) => m.state)).toEqual(['met', 'missed'])
  })

  it('a county user sees only its county row, and totals of its county', async () => {
    const fleet = await startFleet({}, { now: () => new Date('2020-09-10T00:00:00Z') })
    await importCsv(fleet, [...csvRows('341125', 'installed', 3), ...csvRows('341126', 'operating', 4)])
    const created = await api<{ token: string }>(fleet, 'POST', '/api/v1/users', { username: 'dy', role: 'county', countyCode: '341125' })
    const r = await rollout(fleet, created.body.token)
    expect(r.counties.map((c) => c.code)).toEqual(['341125'])
    expect(r.totals).toEqual({ quota: 415, sitesAssigned: 3, installed: 3, operating: 0, online: 0, onlineNotInstalled: 0 })
    expect(r.milestones[0]).toMatchObject({ state: 'due', countiesMet: 0 })
  })

  it('counts online cabinets within the caller\'s scope only, cached owners or not, unknown ids left out', async () => {
    const fleet = await startFleet({}, { now: () => new Date('2020-09-10T00:00:00Z') })
    await importCsv(fleet, [
      csvRow('C-341125-00001', '341125', 'operating', 'op-a'),
      csvRow('C-341125-00002', '341125', 'operating', 'op-b'),
      csvRow('C-341125-00003', '341125', 'installed', 'op-a'),
      csvRow('C-341126-00001', '341126', 'operating', 'op-a'),
      csvRow('C-341126-00002', '341126', 'operating'),
    ])
    const online = new Set(['C-341125-00001', 'C-341125-00002', 'C-341126-00001', 'C-341126-00002', 'C-GONE-00001'])
    const service = createRolloutService({ store: createRolloutStore(fleet.database), plan: () => fleet.plan, liveness: { onlineIds: () => online.values() }, now: () => new Date('2020-09-10T00:00:00Z') })
    const onlineOf = async (by: Principal) => {
      const r = await service.progress(by)
      return { total: r.totals.online, counties: Object.fromEntries(r.counties.filter((c) => c.online > 0).map((c) => [c.code, c.online])) }
    }
    const admin: Principal = { userId: 'u0', username: 'admin', role: 'admin', countyCode: null, operator: null }
    const opA: Principal = { userId: 'u1', username: 'a', role: 'operator', countyCode: null, operator: 'op-a' }
    const county: Principal = { userId: 'u2', username: 'dy', role: 'county', countyCode: '341125', operator: null }
    // The operator first, while no owner is cached; then again from the cache.
    for (let i = 0; i < 2; i++) expect(await onlineOf(opA)).toEqual({ total: 2, counties: { '341125': 1, '341126': 1 } })
    expect(await onlineOf(county)).toEqual({ total: 2, counties: { '341125': 2 } })
    expect(await onlineOf(admin)).toEqual({ total: 4, counties: { '341125': 2, '341126': 2 } })
    online.add('C-341125-00003') // not cached yet, beside cached ones
    expect(await onlineOf(opA)).toEqual({ total: 3, counties: { '341125': 2, '341126': 1 } })
  })

  // Issue 15, seen: 明光市 online 3, installed 1 — planned cabinets that connected counted as online.
  it('counts every connected cabinet as online (the contract), and names apart the part not installed (issue 15)', async () => {
    const now = () => new Date('2020-09-10T00:00:00Z')
    const fleet = await startFleet({}, { now })
    const imported = await importCsv(fleet, [
      csvRow('C-341182-00001', '341182', 'installed', 'op-a'),
      csvRow('C-341182-00002', '341182', 'planned', 'op-a'),
      csvRow('C-341182-00003', '341182', 'site_assigned'),
      csvRow('C-341182-00004', '341182', 'operating'),
      csvRow('C-341182-00005', '341182', 'operating'),
      csvRow('C-341182-00006', '341182', 'installed'),
    ])
    expect(imported.body.imported).toBe(6)
    expect((await api(fleet, 'PATCH', '/api/v1/cabinets/C-341182-00005', patch('suspended'))).status).toBe(200)
    expect((await api(fleet, 'PATCH', '/api/v1/cabinets/C-341182-00006', patch('retired'))).status).toBe(200)
    const online = new Set(['C-341182-00001', 'C-341182-00002', 'C-341182-00003', 'C-341182-00005', 'C-341182-00006'])
    const service = createRolloutService({ store: createRolloutStore(fleet.database), plan: () => fleet.plan, liveness: { onlineIds: () => online.values() }, now })
    const admin: Principal = { userId: 'u0', username: 'admin', role: 'admin', countyCode: null, operator: null }
    const figures = async (by: Principal = admin) => {
      const r = await service.progress(by)
      const c = r.counties.find((x) => x.code === '341182')!
      return { installed: c.installed, online: c.online, apart: c.onlineNotInstalled, totals: [r.totals.online, r.totals.onlineNotInstalled] }
    }
    expect(await figures()).toEqual({ installed: 3, online: 5, apart: 3, totals: [5, 3] })
    // A status change moves a cabinet across at once (the set is versioned by transitions).
    await api(fleet, 'PATCH', '/api/v1/cabinets/C-341182-00003', patch('installed'))
    expect(await figures()).toEqual({ installed: 4, online: 5, apart: 2, totals: [5, 2] })
    const opA: Principal = { userId: 'u1', username: 'a', role: 'operator', countyCode: null, operator: 'op-a' }
    expect(await figures(opA)).toEqual({ installed: 1, online: 2, apart: 1, totals: [2, 1] })
    // Fewer online than not installed: counted from the online side instead, the same figures.
    online.clear()
    online.add('C-341182-00002')
    expect(await figures()).toEqual({ installed: 4, online: 1, apart: 1, totals: [1, 1] })
    online.clear()
    online.add('C-341182-00001')
    expect(await figures()).toEqual({ installed: 4, online: 1, apart: 0, totals: [1, 0] })
  })

  // The not-installed set is loaded once and then, on SQLite, brought up to
  // date from the transitions since: it must stay what a reload would find.
  it('keeps the online part not installed exact through status changes and new cabinets, step by step or reloaded', async () => {
    const now = () => new Date('2020-09-10T00:00:00Z')
    const fleet = await startFleet({}, { now })
    const counties = ['341125', '341126', '341182']
    const statuses = ['planned', 'site_assigned', 'installed', 'operating', 'suspended', 'retired']
    const idOf = (i: number) => `C-${counties[i % 3]}-${String(i + 1).padStart(5, '0')}`
    let created = 0
    const importSome = async (n: number) => {
      const rows = Array.from({ length: n }, (_, i) => csvRow(idOf(created + i), counties[(created + i) % 3]!, statuses[(created + i) % 4]!, (created + i) % 2 ? 'op-a' : 'op-b'))
      expect((await importCsv(fleet, rows)).body.imported).toBe(n)
      created += n
    }
    await importSome(24)
    const steady = createRolloutStore(fleet.database)
    const reloading = createRolloutStore(fleet.database, { apartSteps: 1 }) // any step pending: loaded whole
    const scopes = [{ countyCode: null, operator: null }, { countyCode: '341126', operator: null }, { countyCode: null, operator: 'op-a' }]
    const truth = async (online: ReadonlySet<string>, scope: (typeof scopes)[number]) => {
      const rows = await sqlRows<{ cabinet_id: string; county_code: string; operator: string | null; status: string }>(fleet.database, 'SELECT cabinet_id, county_code, operator, status FROM cabinets')
      const on: Record<string, number> = {}
      const apart: Record<string, number> = {}
      for (const r of rows) {
        if (!online.has(r.cabinet_id) || (scope.countyCode && r.county_code !== scope.countyCode) || (scope.operator && r.operator !== scope.operator)) continue
        on[r.county_code] = (on[r.county_code] ?? 0) + 1
        if (['planned', 'site_assigned', 'retired'].includes(r.status)) apart[r.county_code] = (apart[r.county_code] ?? 0) + 1
      }
      return { online: on, notInstalled: apart }
    }
    const asObjects = (c: { online: Map<string, number>; notInstalled: Map<string, number> }) => ({ online: Object.fromEntries(c.online), notInstalled: Object.fromEntries(c.notInstalled) })
    let seed = 7
    const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n
    let changed = 0
    for (let step = 0; step < 40; step++) {
      if (step % 10 === 5) await importSome(3)
      // One to three patches between reads (some refused by the lifecycle rules).
      for (let j = 1 + rand(3); j > 0; j--) {
        const res = await api(fleet, 'PATCH', `/api/v1/cabinets/${idOf(rand(created))}`, patch(statuses[rand(statuses.length)]!))
        if (res.status === 200) changed++
      }
      const online = new Set(Array.from({ length: created }, (_, i) => idOf(i)).filter(() => rand(3) > 0))
      const scope = scopes[step % scopes.length]!
      const version = await steady.version()
      const want = await truth(online, scope)
      // Asked several times at once (requests interleave): each answer is exact.
      const answers = await Promise.all([steady.countOnline(online, scope, version), steady.countOnline(online, scope, version), reloading.countOnline(online, scope, version)])
      for (const a of answers) expect(asObjects(a), `step ${step}`).toEqual(want)
    }
    expect(changed).toBeGreaterThan(20)
  })

  it('shows an operator its own cabinets under its own name, with no county quota and no milestone verdicts', async () => {
    const fleet = await startFleet({}, { now: () => new Date('2020-09-10T00:00:00Z') })
    await importCsv(fleet, [
      ...Array.from({ length: 10 }, (_, i) => csvRow(`C-341125-${String(i + 1).padStart(5, '0')}`, i < 6 ? '341125' : '341126', i < 4 ? 'operating' : 'installed', '甲公司')),
      ...csvRows('341125', 'installed', 5, 101),
    ])
    const op = await api<{ token: string }>(fleet, 'POST', '/api/v1/users', { username: 'jia', role: 'operator', operator: '甲公司' })
    const r = (await api<Rollout & { scope: unknown; counties: Array<CountyRow & { next: unknown }> }>(fleet, 'GET', '/api/v1/rollout', undefined, op.body.token)).body
    expect(r.scope).toEqual({ kind: 'operator', code: null, name: '甲公司' })
    expect(r.counties.map((c) => [c.code, c.quota, c.installed, c.milestones.length, c.next])).toEqual([['341125', 0, 6, 0, null], ['341126', 0, 4, 0, null]])
    expect(r.totals).toMatchObject({ quota: 0, installed: 10, operating: 4 })
    expect(r.milestones).toEqual([])
    // The county and the city keep theirs.
    const city = await rollout(fleet)
    expect(city.scope).toEqual({ kind: 'city', code: null, name: '滁州市' })
    expect(city.totals.quota).toBe(2700)
    expect(city.milestones).toHaveLength(2)
  })

  it('starts a cabinet created with a site name and venue type as site_assigned, with a consistent first transition', async () => {
    const fleet = await startFleet({}, { now: () => new Date('2020-09-10T02:00:00Z') })
    const withSite = await api<{ cabinetId: string }>(fleet, 'POST', '/api/v1/cabinets', { countyCode: '341125', siteName: '定远县政务中心', venueType: '机关' })
    const nameOnly = await api<{ cabinetId: string }>(fleet, 'POST', '/api/v1/cabinets', { countyCode: '341125', siteName: '尚未定类的点位' })
    const bare = await api<{ cabinetId: string }>(fleet, 'POST', '/api/v1/cabinets', { countyCode: '341125' })
    const status = async (id: string) => (await api<{ status: string }>(fleet, 'GET', `/api/v1/cabinets/${id}`)).body.status
    expect([await status(withSite.body.cabinetId), await status(nameOnly.body.cabinetId), await status(bare.body.cabinetId)]).toEqual(['site_assigned', 'planned', 'planned'])
    const t = await api<{ transitions: Array<{ from: string | null; to: string }> }>(fleet, 'GET', `/api/v1/cabinets/${withSite.body.cabinetId}/transitions`)
    expect(t.body.transitions.map((x) => [x.from, x.to])).toEqual([[null, 'site_assigned']])
    // Counted as a site assigned, and as that day's step of the pace.
    const r = await rollout(fleet)
    expect(r.counties.find((c) => c.code === '341125')).toMatchObject({ sitesAssigned: 1, installed: 0 })
    expect(r.counties.find((c) => c.code === '341125')!.milestones[0]!.remaining).toBe(415 - 1)
    const steps = await sqlRows<{ sites: number; day: string }>(fleet.database, 'SELECT day, sites FROM rollout_day_steps WHERE county_code = ?', '341125')
    expect(steps.map((x) => [x.day, Number(x.sites)])).toEqual([['2020-09-10', 1]])
    // It goes on from there: installed next, no second site step needed.
    expect((await api(fleet, 'PATCH', `/api/v1/cabinets/${withSite.body.cabinetId}`, patch('installed'))).status).toBe(200)
  })

  it('loads a 20,000-cabinet plan of another region as data, with no code change', async () => {
    const dir = await tempDir('plan-')
    const leagues = ['150100', '150200', '150300', '150400', '150500', '150600', '150700', '150800', '150900', '152200', '152500', '152900']
    const plan = {
      id: 'neimenggu-2020',
      name: '内蒙古自治区消费扶贫专柜布设计划',
      region: { code: '150000', name: '内蒙古自治区' },
      channel: 'cabinet',
      totalQuota: 20_000,
      counties: leagues.map((code, i) => ({ code, name: `盟市${i + 1}`, quota: i < 8 ? 1667 : 1666 })),
      milestones: [{ id: 'all-operating', date: '2020-12-31', description: '全部专柜投入运营', requires: { operatingBp: 10000 } }],
      policy: { minCertifiedShareBp: { cabinet: 10000 }, forwardingPeriod: 'month', reports: { weeklyDueIsoWeekday: 1, monthlyDueDay: 25, quarterly: true } },
    }
    const file = join(dir, 'nmg.json')
    await writeFile(file, JSON.stringify(plan))
    const fleet = await startFleet({ FLEET_PLAN: file }, { now: () => new Date('2020-11-01T00:00:00Z') })
    expect((await importCsv(fleet, csvRows('150100', 'operating', 7))).status).toBe(201)
    const r = await rollout(fleet)
    expect(r.counties).toHaveLength(12)
    expect(r.totals).toMatchObject({ quota: 20_000, operating: 7 })
    expect(r.milestones).toEqual([expect.objectContaining({ id: 'all-operating', state: 'due', countiesMet: 0 })])
    // The same county codes of Chuzhou are unknown here.
    expect((await importCsv(fleet, csvRows('341125', 'planned', 1))).status).toBe(400)
  })

  // SQLite only: PostgreSQL databases start at the baseline (migrations 1-7), never from a version-2 file.
  it.skipIf(onPostgres)('upgrades a database that already holds cabinets: counts, history and pace carry over', async () => {
    const dataDir = await tempDir()
    const db = new Database(join(dataDir, 'fleet.db'))
    migrate(db, MIGRATIONS.filter((m) => m.version < 3), pino({ level: 'silent' }))
    const add = db.prepare(`INSERT INTO cabinets (cabinet_id, county_code, operator, status, secret_hash, credentials_issued_at, created_at, updated_at)
                            VALUES (?, '341125', NULL, ?, 'x', '2020-09-01T00:00:00.000Z', '2020-09-01T00:00:00.000Z', '2020-09-02T00:00:00.000Z')`)
    for (const [id, status] of [['OLD-1', 'planned'], ['OLD-2', 'installed'], ['OLD-3', 'operating'], ['OLD-4', 'suspended']]) add.run(id, status)
    db.close()
    const fleet = await startFleet({}, { dataDir, now: () => new Date('2020-09-05T00:00:00.000Z') })
    const r = await rollout(fleet)
    expect(r.counties.find((c) => c.code === '341125')).toMatchObject({ sitesAssigned: 3, installed: 3, operating: 1 })
    expect(r.counties.find((c) => c.code === '341125')!.milestones[0]).toMatchObject({ remaining: 412, pacePerDay: 0.21 })
    const h = await api<{ transitions: unknown[] }>(fleet, 'GET', '/api/v1/cabinets/OLD-2/transitions')
    expect(h.body.transitions).toEqual([{ from: null, to: 'installed', at: '2020-09-01T00:00:00.000Z', by: 'migration', reason: 'state at schema upgrade' }])
    // Cabinets from before sites were kept must be given one to move on.
    expect((await api(fleet, 'PATCH', '/api/v1/cabinets/OLD-4', { status: 'operating' })).body).toMatchObject({ error: { code: 'CABINET_SITE_REQUIRED' } })
    expect((await api(fleet, 'PATCH', '/api/v1/cabinets/OLD-4', { status: 'operating', siteName: '定远县汽车站', venueType: '车站' })).status).toBe(200)
    expect((await rollout(fleet)).counties.find((c) => c.code === '341125')).toMatchObject({ operating: 2 })
  })
})
