// GET /api/v1/overview (issue 15) over real sales (real MQTT cabinets, real
// database): figures for the city, a county and an operator; the certified
// share and the below-threshold list; targets' pace and projection on a fixed
// clock; bad dates. The rollout fixes of the same issue are in rollout.test.ts.
import { describe, expect, it } from 'vitest'
import type { Fleet } from '../../fleet-server/src/app.js'
import type { OverviewReply } from '../../shared/src/index.js'
import { BELOW_LIST_MAX } from '../../fleet-server/src/overview/index.js'
import { api } from '../helpers/fleet.js'
import { csvRows, importCsv, userToken } from '../helpers/rollout.js'
import { aCatalog, aClock, aDatedCabinet, fleetWith, line } from './certification.fixtures.js'

const site = (n: number) => ({ siteName: `点位${n}`, venueType: '医院' })

async function overview(fleet: Fleet, token = fleet.adminToken, query = ''): Promise<OverviewReply> {
  const r = await api<OverviewReply>(fleet, 'GET', `/api/v1/overview${query}`, undefined, token)
  expect(r.status, JSON.stringify(r.body)).toBe(200)
  return r.body
}

/**
 * 定远县: dy1 (甲公司) 30% certified this month, dy2 (乙公司) 80%; 凤阳县: fy1
 * (乙公司) certified sales in September only, none in October. The clock:
 * 2020-10-10 10:00 Asia/Shanghai.
 */
async function aSellingFleet() {
  const fleet = await fleetWith({ deps: { now: aClock('2020-10-10T02:00:00Z').now } })
  await aCatalog(fleet, { CERT: { cert: ['2020-01-01'] }, PLAIN: {} })
  const dy1 = await aDatedCabinet(fleet, { countyCode: '341125', operator: '甲公司', ...site(1) })
  const dy2 = await aDatedCabinet(fleet, { countyCode: '341125', operator: '乙公司', ...site(2) })
  const fy1 = await aDatedCabinet(fleet, { countyCode: '341126', operator: '乙公司', ...site(3) })
  await dy1.sell('2020-10-01', [line('PLAIN', 1000)])
  await dy1.sell('2020-10-10', [line('CERT', 600), line('PLAIN', 400)])
  await dy2.sell('2020-10-05', [line('CERT', 800), line('PLAIN', 200)])
  await fy1.sell('2020-09-20', [line('CERT', 500)])
  await fy1.sell('2020-10-10', [line('PLAIN', 300)])
  return { fleet, dy1, dy2, fy1 }
}

describe('overview', () => {
  it('gives the city its sales today, this month and this year, a 30-day trend and every county', async () => {
    const { fleet, dy1, fy1 } = await aSellingFleet()
    const o = await overview(fleet)
    expect(o.scope).toEqual({ kind: 'city', code: null, name: '滁州市' })
    expect(o.asOf).toBe('2020-10-10')
    expect(o.thresholdBp).toBe(5000)
    expect(o.sales.today).toEqual({ salesCount: 2, amountFen: 1300, certifiedAmountFen: 600, shareBp: 4615 })
    expect(o.sales.month).toEqual({ salesCount: 4, amountFen: 3300, certifiedAmountFen: 1400, shareBp: 4242 })
    expect(o.sales.year).toEqual({ salesCount: 5, amountFen: 3800, certifiedAmountFen: 1900, shareBp: 5000 })
    expect(o.sales.daily).toHaveLength(30)
    expect(o.sales.daily[0]!.date).toBe('2020-09-11')
    expect(o.sales.daily.at(-1)).toEqual({ date: '2020-10-10', salesCount: 2, amountFen: 1300, certifiedAmountFen: 600 })
    const day = (d: string) => o.sales.daily.find((x) => x.date === d)
    expect(day('2020-09-20')).toEqual({ date: '2020-09-20', salesCount: 1, amountFen: 500, certifiedAmountFen: 500 })
    expect(day('2020-10-02')).toEqual({ date: '2020-10-02', salesCount: 0, amountFen: 0, certifiedAmountFen: 0 })
    expect(o.sales.daily.reduce((s, d) => s + d.amountFen, 0)).toBe(3800)
    expect(o.sales.byCounty.map((c) => c.countyCode)).toEqual(['341125', '341126', '341182', '341122', '341124', '341102', '341103', '341181'])
    expect(o.sales.byCounty[0]).toEqual({ countyCode: '341125', countyName: '定远县', salesCount: 3, amountFen: 3000, certifiedAmountFen: 1400, shareBp: 4666 })
    expect(o.sales.byCounty[1]).toMatchObject({ countyCode: '341126', amountFen: 300, certifiedAmountFen: 0, shareBp: 0 })
    // The month's judgement: fy1 (0%) then dy1 (30%) below 50%, dy2 compliant.
    expect(o.compliance).toEqual({
      period: { from: '2020-10-01', to: '2020-10-10' },
      judgedCabinets: 3,
      compliantCabinets: 1,
      below: [
        { cabinetId: fy1.cabinetId, countyCode: '341126', siteName: '点位3', operator: '乙公司', amountFen: 300, certifiedAmountFen: 0, shareBp: 0 },
        { cabinetId: dy1.cabinetId, countyCode: '341125', siteName: '点位1', operator: '甲公司', amountFen: 2000, certifiedAmountFen: 600, shareBp: 3000 },
      ],
      belowCount: 2,
    })
    expect(o.forwarding).toEqual({ sent: 0, pending: expect.any(Number), held: expect.any(Number), failed: 0 })
    // Created with a site: site_assigned (issue 15), not installed, none online as installed.
    expect(o.rollout).toEqual({ quota: 2700, sitesAssigned: 3, installed: 0, operating: 0, online: 3, onlineNotInstalled: 3 })
    expect(o.targets.map((t) => t.id)).toEqual(['city-sales-2020', 'certified-products-341125', 'certified-products-341126', 'certified-products-341182', 'certified-products-341122', 'certified-products-341124', 'certified-products-341181'])
  })

  it('gives a county official its county only, and an operator its own cabinets under its own name without a quota', async () => {
    const { fleet, dy1 } = await aSellingFleet()
    const county = await overview(fleet, await userToken(fleet, { username: 'dy', role: 'county', countyCode: '341125' }))
    expect(county.scope).toEqual({ kind: 'county', code: '341125', name: '定远县' })
    expect(county.sales.today).toEqual({ salesCount: 1, amountFen: 1000, certifiedAmountFen: 600, shareBp: 6000 })
    expect(county.sales.year).toMatchObject({ amountFen: 3000, certifiedAmountFen: 1400 })
    expect(county.sales.daily.reduce((s, d) => s + d.amountFen, 0)).toBe(3000)
    expect(county.sales.byCounty.map((c) => c.countyCode)).toEqual(['341125'])
    expect(county.compliance).toMatchObject({ judgedCabinets: 2, compliantCabinets: 1, belowCount: 1, below: [{ cabinetId: dy1.cabinetId }] })
    expect(county.rollout).toMatchObject({ quota: 415, sitesAssigned: 2 })
    // Its own target only: a city-wide figure would reveal the other counties' sum.
    expect(county.targets.map((t) => t.id)).toEqual(['certified-products-341125'])

    const op = await overview(fleet, await userToken(fleet, { username: 'yi', role: 'operator', operator: '乙公司' }))
    expect(op.scope).toEqual({ kind: 'operator', code: null, name: '乙公司' })
    expect(op.sales.today).toEqual({ salesCount: 1, amountFen: 300, certifiedAmountFen: 0, shareBp: 0 })
    expect(op.sales.month).toMatchObject({ salesCount: 2, amountFen: 1300, certifiedAmountFen: 800 })
    expect(op.sales.year).toMatchObject({ amountFen: 1800, certifiedAmountFen: 1300 })
    expect(op.sales.byCounty.map((c) => [c.countyCode, c.amountFen])).toEqual([['341125', 1000], ['341126', 300]])
    expect(op.compliance).toMatchObject({ judgedCabinets: 2, compliantCabinets: 1, belowCount: 1 })
    expect(op.rollout).toEqual({ quota: null, sitesAssigned: 2, installed: 0, operating: 0, online: 2, onlineNotInstalled: 2 })
    expect(op.targets).toEqual([])
  })

  it('reports a target\'s actual, linear pace and projection on the given day, and its state after the due date', async () => {
    const { fleet } = await aSellingFleet()
    const target = (o: OverviewReply, id: string) => o.targets.find((t) => t.id === id)!
    const now = await overview(fleet)
    // 5亿元 of certified sales 2020-09-01..12-31 (122 days); 40 days gone by 10-10.
    expect(target(now, 'city-sales-2020')).toEqual({
      id: 'city-sales-2020',
      kind: 'sales_amount',
      scope: { kind: 'city', code: null, name: '滁州市' },
      description: '12月底前全市扶贫产品销售额达到5亿元以上',
      measure: 'certifiedAmount',
      target: 50_000_000_000,
      actual: 1900,
      unit: 'fen',
      startDate: '2020-09-01',
      dueDate: '2020-12-31',
      expectedByNow: Math.floor((50_000_000_000 * 40) / 122),
      projected: Math.floor((1900 * 122) / 40),
      onTrack: false,
      state: 'due',
    })
    // 60 certified products of 定远县's suppliers by 09-30: one, and the date has passed.
    expect(target(now, 'certified-products-341125')).toMatchObject({ actual: 1, target: 60, unit: 'count', expectedByNow: 60, projected: 1, state: 'missed', onTrack: false })
    expect(target(now, 'certified-products-341126')).toMatchObject({ actual: 0, state: 'missed' })

    // As of 09-20 (day 20 of 30; of 122): the September sale counts, October's do not.
    const sept = await overview(fleet, fleet.adminToken, '?date=2020-09-20')
    expect(sept.asOf).toBe('2020-09-20')
    expect(sept.sales.month).toMatchObject({ amountFen: 500, certifiedAmountFen: 500 })
    expect(target(sept, 'city-sales-2020')).toMatchObject({ actual: 500, expectedByNow: Math.floor((50_000_000_000 * 20) / 122), projected: Math.floor((500 * 122) / 20), state: 'due' })
    expect(target(sept, 'certified-products-341125')).toMatchObject({ actual: 1, expectedByNow: 40, projected: 1, state: 'due', onTrack: false })
  })

  it('refuses a date after today and a malformed one with 400 and a code', async () => {
    const fleet = await fleetWith({ deps: { now: aClock('2020-10-10T02:00:00Z').now } })
    const late = await api<{ error: { code: string } }>(fleet, 'GET', '/api/v1/overview?date=2020-10-11')
    expect(late.status).toBe(400)
    expect(late.body.error.code).toBe('OVERVIEW_DATE_INVALID')
    for (const q of ['?date=2020-13-01', '?date=yesterday', '?day=2020-10-01']) {
      const r = await api<{ error: { code: string } }>(fleet, 'GET', `/api/v1/overview${q}`)
      expect(r.status, q).toBe(400)
      expect(r.body.error.code, q).toBe('VALIDATION_FAILED')
    }
    // Just after midnight in Shanghai (16:05 UTC the day before) the new day is today.
    const midnight = await fleetWith({ deps: { now: aClock('2020-10-10T16:05:00Z').now } })
    expect((await overview(midnight)).asOf).toBe('2020-10-11')
  })

  it('answers for the whole 2,700-cabinet plan from per-cabinet figures: exact sums, the 100 worst listed of all below', async () => {
    const fleet = await fleetWith({ deps: { now: aClock('2020-10-10T02:00:00Z').now } })
    const rows = fleet.plan.counties.flatMap((c) => csvRows(c.code, 'operating', c.quota))
    expect((await importCsv(fleet, rows)).body.imported).toBe(2700)
    const ids = rows.map((r) => r.split(',')[0]!)
    // The compliance figures as ingest keeps them (written directly: only the
    // reads are under test): 30 days to 10-10, 1,000 fen a day per cabinet;
    // every other cabinet 60% certified, the rest 40%.
    const days = Array.from({ length: 30 }, (_, i) => new Date(Date.UTC(2020, 8, 11 + i)).toISOString().slice(0, 10))
    const dayRows = ids.flatMap((id, i) => days.map((day) => ({ cabinet_id: id, day, sales_count: 1, amount_fen: 1000, certified_fen: i % 2 === 0 ? 600 : 400 })))
    const k = fleet.database.kysely
    for (let i = 0; i < dayRows.length; i += 1000) await k.insertInto('cabinet_day_certified').values(dayRows.slice(i, i + 1000)).execute()
    const monthRows = ids.flatMap((id, i) => [
      { cabinet_id: id, month: '2020-09', sales_count: 20, amount_fen: 20_000, certified_fen: 20 * (i % 2 === 0 ? 600 : 400) },
      { cabinet_id: id, month: '2020-10', sales_count: 10, amount_fen: 10_000, certified_fen: 10 * (i % 2 === 0 ? 600 : 400) },
    ])
    for (let i = 0; i < monthRows.length; i += 1000) await k.insertInto('cabinet_month_certified').values(monthRows.slice(i, i + 1000)).execute()

    const o = await overview(fleet)
    expect(o.sales.today).toEqual({ salesCount: 2700, amountFen: 2_700_000, certifiedAmountFen: 1350 * 1000, shareBp: 5000 })
    expect(o.sales.month).toMatchObject({ salesCount: 27_000, amountFen: 27_000_000 })
    expect(o.sales.year).toMatchObject({ salesCount: 81_000, amountFen: 81_000_000, certifiedAmountFen: 40_500_000 })
    expect(o.sales.daily.every((d) => d.amountFen === 2_700_000)).toBe(true)
    expect(o.sales.byCounty.map((c) => c.salesCount)).toEqual(fleet.plan.counties.map((c) => c.quota * 10))
    expect(o.compliance).toMatchObject({ judgedCabinets: 2700, compliantCabinets: 1350, belowCount: 1350 })
    expect(o.compliance.below).toHaveLength(BELOW_LIST_MAX)
    // Equal shares: the larger amount first, then by id; every one has its site.
    expect(o.compliance.below.every((b) => b.shareBp === 4000 && b.siteName !== null)).toBe(true)
    expect(o.compliance.below.map((b) => b.cabinetId)).toEqual([...o.compliance.below.map((b) => b.cabinetId)].sort())
    expect(o.rollout).toMatchObject({ quota: 2700, operating: 2700, online: 0 })
  })
})
