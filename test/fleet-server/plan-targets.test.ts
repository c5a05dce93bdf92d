// Targets as plan data (issue 15): the bundled Chuzhou targets, validation at
// plan load (PLAN_INVALID), which targets each scope sees, and a target's
// linear pace and projection.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../fleet-server/src/config.js'
import { targetPace, targetsFor } from '../../fleet-server/src/overview/index.js'
import { BUNDLED_PLANS, parsePlan, PlanInvalidError, type Plan } from '../../shared/src/index.js'
import { startFleet, tempDir } from '../helpers/fleet.js'
import { sqlRun } from '../helpers/test-db.js'

const chuzhou = BUNDLED_PLANS['chuzhou-2020']!
const withTargets = (targets: unknown[]): unknown => ({ ...structuredClone(chuzhou), targets })
const sales = (over: Record<string, unknown> = {}) => ({
  id: 't', kind: 'sales_amount', scope: { kind: 'city' }, measure: 'amount', amountFen: 100, startDate: '2020-09-01', dueDate: '2020-12-31', description: '目标', ...over,
})

describe('plan targets', () => {
  it('bundles the Chuzhou targets: 5亿元 of certified sales city-wide by 12-31, 60 certified products per 县/市 by 09-30', () => {
    const city = chuzhou.targets.filter((t) => t.kind === 'sales_amount')
    expect(city).toEqual([expect.objectContaining({ scope: { kind: 'city' }, measure: 'certifiedAmount', amountFen: 500_000_000 * 100, startDate: '2020-09-01', dueDate: '2020-12-31' })])
    const products = chuzhou.targets.filter((t) => t.kind === 'certified_products')
    expect(products.map((t) => (t.scope.kind === 'county' ? t.scope.code : null))).toEqual(['341125', '341126', '341182', '341122', '341124', '341181'])
    for (const t of products) expect(t).toMatchObject({ count: 60, startDate: '2020-09-01', dueDate: '2020-09-30' })
  })

  it('reads a plan stored before targets existed as having none', () => {
    const { targets: _, ...old } = structuredClone(chuzhou)
    expect(parsePlan(old, 'database').targets).toEqual([])
  })

  it.each([
    ['an unknown county', [sales({ scope: { kind: 'county', code: '110101' } })], /110101 is not one of the plan's counties/],
    ['a due date before the start', [sales({ dueDate: '2020-08-31' })], /dueDate 2020-08-31 is before startDate 2020-09-01/],
    ['a duplicate id', [sales(), sales({ measure: 'certifiedAmount' })], /duplicate target id t/],
    ['a certified-products target for the city', [{ id: 'p', kind: 'certified_products', scope: { kind: 'city' }, count: 60, startDate: '2020-09-01', dueDate: '2020-09-30', description: 'x' }], /targets\[0\]\.scope/],
    ['an amount in yuan with decimals', [sales({ amountFen: 5.5 })], /amountFen/],
    ['a unit without its operator', [sales({ scope: { kind: 'unit', code: 'u1', name: '区财政局' } })], /operator/],
    ['an unknown kind', [sales({ kind: 'visits' })], /targets\[0\]/],
    ['an unknown key', [sales({ weight: 2 })], /weight/],
  ])('refuses %s', (_, targets, message) => {
    expect(() => parsePlan(withTargets(targets), 'test.json')).toThrow(PlanInvalidError)
    expect(() => parsePlan(withTargets(targets), 'test.json')).toThrow(message)
  })

  it('refuses a plan file with a bad target at load: PLAN_INVALID naming it', async () => {
    const dir = await tempDir()
    writeFileSync(join(dir, 'plan.json'), JSON.stringify(withTargets([sales({ dueDate: '2020-02-30' })])))
    expect(() => loadConfig({ FLEET_PLAN: join(dir, 'plan.json') }, [])).toThrow(expect.objectContaining({ code: 'PLAN_INVALID', message: expect.stringContaining('dueDate') }))
    writeFileSync(join(dir, 'good.json'), JSON.stringify(withTargets([sales({ scope: { kind: 'unit', code: 'u1', name: '区财政局', operator: '财政局食堂' } })])))
    expect(loadConfig({ FLEET_PLAN: join(dir, 'good.json') }, []).plan.plan.targets).toHaveLength(1)
  })

  it('shows the city every target, a county its own, an operator its units\'', () => {
    const plan = parsePlan(withTargets([
      sales({ id: 'city' }),
      sales({ id: 'dy', scope: { kind: 'county', code: '341125' } }),
      sales({ id: 'unit', scope: { kind: 'unit', code: 'u1', name: '区财政局', operator: '甲公司' } }),
      { id: 'dy-products', kind: 'certified_products', scope: { kind: 'county', code: '341125' }, count: 60, startDate: '2020-09-01', dueDate: '2020-09-30', description: 'x' },
    ]), 'test.json') as Plan
    const ids = (v: Parameters<typeof targetsFor>[1]) => targetsFor(plan, v).map((t) => t.id)
    expect(ids({ kind: 'city' })).toEqual(['city', 'dy', 'unit', 'dy-products'])
    expect(ids({ kind: 'county', code: '341125' })).toEqual(['dy', 'dy-products'])
    expect(ids({ kind: 'county', code: '341126' })).toEqual([])
    expect(ids({ kind: 'operator', operator: '甲公司' })).toEqual(['unit'])
    expect(ids({ kind: 'operator', operator: '乙公司' })).toEqual([])
  })

  it('paces a target linearly over its days, projects the pace so far to the due date, and judges it after', () => {
    // 30 days (09-01..09-30), 60 to reach.
    expect(targetPace(60, 10, '2020-09-01', '2020-09-30', '2020-08-20')).toEqual({ expectedByNow: 0, projected: 10, onTrack: false, state: 'due' })
    expect(targetPace(60, 10, '2020-09-01', '2020-09-30', '2020-09-01')).toEqual({ expectedByNow: 2, projected: 300, onTrack: true, state: 'due' })
    expect(targetPace(60, 10, '2020-09-01', '2020-09-30', '2020-09-10')).toEqual({ expectedByNow: 20, projected: 30, onTrack: false, state: 'due' })
    expect(targetPace(60, 60, '2020-09-01', '2020-09-30', '2020-09-10')).toEqual({ expectedByNow: 20, projected: 180, onTrack: true, state: 'met' })
    expect(targetPace(60, 59, '2020-09-01', '2020-09-30', '2020-09-30')).toEqual({ expectedByNow: 60, projected: 59, onTrack: false, state: 'due' })
    expect(targetPace(60, 59, '2020-09-01', '2020-09-30', '2020-10-01')).toEqual({ expectedByNow: 60, projected: 59, onTrack: false, state: 'missed' })
    expect(targetPace(60, 61, '2020-09-01', '2020-09-30', '2020-12-01')).toMatchObject({ state: 'met', onTrack: true })
    // Fen beyond 2^53 once multiplied by days: exact in integers.
    expect(targetPace(9_000_000_000_000_000, 4_500_000_000_000_001, '2020-01-01', '2020-01-02', '2020-01-01')).toMatchObject({ expectedByNow: 4_500_000_000_000_000, projected: 9_000_000_000_000_002 })
  })

  it('completes a plan stored before targets existed with the configured targets, and keeps a changed stored plan as it was', async () => {
    const dataDir = await tempDir()
    // A database written before targets existed: its stored plan has no targets key.
    const { targets: _, ...old } = structuredClone(chuzhou)
    const storeOld = async (dir: string, plan: unknown) => {
      const f = await startFleet({}, { dataDir: dir, manualClose: true })
      await sqlRun(f.database, "UPDATE meta SET value = ? WHERE key = 'plan'", JSON.stringify(plan))
      await f.close()
    }
    await storeOld(dataDir, old)
    // The bundled plan now has targets; everything else is as stored.
    const second = await startFleet({}, { dataDir, manualClose: true })
    expect(second.plan.targets).toEqual(chuzhou.targets)
    await second.close()
    const third = await startFleet({}, { dataDir, manualClose: true })
    expect(third.plan.targets).toHaveLength(7)
    await third.close()

    // A stored plan whose quotas differ is kept whole, targets or not.
    const otherDir = await tempDir()
    await storeOld(otherDir, { ...old, counties: old.counties.map((c, i) => (i === 0 ? { ...c, quota: c.quota - 1 } : i === 1 ? { ...c, quota: c.quota + 1 } : c)) })
    const b = await startFleet({}, { dataDir: otherDir, manualClose: true })
    expect([b.plan.counties[0]!.quota, b.plan.targets]).toEqual([414, []])
    await b.close()
  })
})
