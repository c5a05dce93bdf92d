// The home page's figures (issue 15) for the caller's scope, read through the
// owners' named queries: sales and certified share from the compliance
// figures (per cabinet over today / month / year, per day for the trend),
// targets' progress, forwarding counts and rollout progress. A city or county
// sees its area; an operator only its own cabinets, titled with its name and
// without a quota (an operator has none).
import {
  AppError,
  shanghaiDate,
  shareBp,
  type OverviewBelow,
  type OverviewCountySales,
  type OverviewDay,
  type OverviewFig,
  type OverviewQuery,
  type OverviewReply,
  type OverviewTarget,
  type Plan,
  type PlanTarget,
} from '../../../shared/src/index.js'
import { cabinetScope, type Principal } from '../access/index.js'
import type { CabinetRow } from '../cabinets/index.js'
import { addDays, type CabinetFigures, type ComplianceService, type ComplianceStore } from '../compliance/index.js'
import type { ForwardingService } from '../forwarding/index.js'
import type { RolloutService } from '../rollout/index.js'
import { measuredTo, targetPace, targetsFor, type TargetViewer } from './targets.js'

/** Days in the trend, asOf included. */
export const TREND_DAYS = 30
/** Below-threshold cabinets listed; belowCount tells how many there are in all. */
export const BELOW_LIST_MAX = 100

export interface OverviewServiceDeps {
  readonly plan: () => Plan
  readonly figures: Pick<ComplianceStore, 'figuresByCabinet' | 'dayTotals'>
  readonly compliance: Pick<ComplianceService, 'threshold' | 'judge'>
  readonly forwarding: Pick<ForwardingService, 'counts'>
  readonly rollout: Pick<RolloutService, 'progress'>
  /** Products certified on `date`, per county of their suppliers (the certification domain's). */
  readonly certifiedProducts: (date: string) => Promise<ReadonlyMap<string, number>>
  /** The cabinets matching the filter (the cabinets store's listAll). */
  readonly cabinets: (filter: { countyCode?: string; operator?: string }) => Promise<ReadonlyArray<Pick<CabinetRow, 'cabinetId' | 'siteName' | 'operator'>>>
  readonly now: () => Date
}

export interface OverviewService {
  overview(by: Principal, q: OverviewQuery): Promise<OverviewReply>
  /** Progress of the targets `viewer` sees, as of `asOf` (reports carry it too). */
  targets(viewer: TargetViewer, asOf: string): Promise<OverviewTarget[]>
}

const dateInvalid = (date: string, today: string) =>
  new AppError('OVERVIEW_DATE_INVALID', `date ${date} is after today (${today}, Asia/Shanghai); figures are as of a day that has begun`, 400, { date, today })

interface Filter {
  readonly countyCode?: string
  readonly operator?: string
}

function fig(rows: readonly CabinetFigures[]): OverviewFig {
  let salesCount = 0
  let amountFen = 0
  let certifiedAmountFen = 0
  for (const r of rows) {
    salesCount += r.salesCount
    amountFen += r.amountFen
    certifiedAmountFen += r.certifiedFen
  }
  return { salesCount, amountFen, certifiedAmountFen, shareBp: shareBp(certifiedAmountFen, amountFen) }
}

export function createOverviewService(deps: OverviewServiceDeps): OverviewService {
  async function targets(viewer: TargetViewer, asOf: string): Promise<OverviewTarget[]> {
    const plan = deps.plan()
    const list = targetsFor(plan, viewer)
    // One catalog read per distinct date (every county's count from it).
    const products = new Map<string, Promise<ReadonlyMap<string, number>>>()
    const productsOn = (date: string) => {
      let p = products.get(date)
      if (!p) products.set(date, (p = deps.certifiedProducts(date)))
      return p
    }
    const actualOf = async (t: PlanTarget): Promise<number> => {
      const to = measuredTo(t, asOf)
      if (t.kind === 'certified_products') return (await productsOn(to)).get(t.scope.code) ?? 0
      if (to < t.startDate) return 0
      const f: Filter = t.scope.kind === 'county' ? { countyCode: t.scope.code } : t.scope.kind === 'unit' ? { operator: t.scope.operator } : {}
      const s = fig(await deps.figures.figuresByCabinet(t.startDate, to, f))
      return t.measure === 'certifiedAmount' ? s.certifiedAmountFen : s.amountFen
    }
    const countyName = (code: string) => plan.counties.find((c) => c.code === code)?.name ?? code
    const out: OverviewTarget[] = []
    for (const t of list) {
      const actual = await actualOf(t)
      const target = t.kind === 'sales_amount' ? t.amountFen : t.count
      out.push({
        id: t.id,
        kind: t.kind,
        scope:
          t.scope.kind === 'city'
            ? { kind: 'city', code: null, name: plan.region.name }
            : t.scope.kind === 'county'
              ? { kind: 'county', code: t.scope.code, name: countyName(t.scope.code) }
              : { kind: 'unit', code: t.scope.code, name: t.scope.name },
        description: t.description,
        measure: t.kind === 'sales_amount' ? t.measure : null,
        target,
        actual,
        unit: t.kind === 'sales_amount' ? 'fen' : 'count',
        startDate: t.startDate,
        dueDate: t.dueDate,
        ...targetPace(target, actual, t.startDate, t.dueDate, asOf),
      })
    }
    return out
  }

  return {
    targets,

    async overview(by, q) {
      const plan = deps.plan()
      const today = shanghaiDate(deps.now())
      const asOf = q.date ?? today
      if (asOf > today) throw dateInvalid(asOf, today)
      const s = cabinetScope(by)
      const filter: Filter = { ...(s.countyCode !== undefined && { countyCode: s.countyCode }), ...(s.operator !== undefined && { operator: s.operator }) }
      const viewer: TargetViewer = s.operator !== undefined ? { kind: 'operator', operator: s.operator } : s.countyCode !== undefined ? { kind: 'county', code: s.countyCode } : { kind: 'city' }
      const countyName = (code: string) => plan.counties.find((c) => c.code === code)?.name ?? code
      const scope: OverviewReply['scope'] =
        viewer.kind === 'operator'
          ? { kind: 'operator', code: null, name: viewer.operator }
          : viewer.kind === 'county'
            ? { kind: 'county', code: viewer.code, name: countyName(viewer.code) }
            : { kind: 'city', code: null, name: plan.region.name }

      const monthFrom = `${asOf.slice(0, 7)}-01`
      const trendFrom = addDays(asOf, 1 - TREND_DAYS)
      // Sequential reads: SQLite runs them one at a time anyway, and each is
      // one indexed query over the scope's figures (no query per cabinet).
      const todayRows = await deps.figures.figuresByCabinet(asOf, asOf, filter)
      const monthRows = await deps.figures.figuresByCabinet(monthFrom, asOf, filter)
      const yearRows = await deps.figures.figuresByCabinet(`${asOf.slice(0, 4)}-01-01`, asOf, filter)
      const days = await deps.figures.dayTotals(trendFrom, asOf, filter)
      const progress = await deps.rollout.progress(by)
      const forwarding = await deps.forwarding.counts(filter)
      const targetList = await targets(viewer, asOf)

      const byDay = new Map(days.map((d) => [d.day, d]))
      const daily: OverviewDay[] = []
      for (let d = trendFrom; d <= asOf; d = addDays(d, 1)) {
        const x = byDay.get(d)
        daily.push({ date: d, salesCount: x?.salesCount ?? 0, amountFen: x?.amountFen ?? 0, certifiedAmountFen: x?.certifiedFen ?? 0 })
      }

      // By county over the month: the scope's counties in plan order (an
      // operator's: where it has cabinets or sales).
      const monthByCounty = new Map<string, CabinetFigures[]>()
      for (const r of monthRows) {
        let list = monthByCounty.get(r.countyCode)
        if (!list) monthByCounty.set(r.countyCode, (list = []))
        list.push(r)
      }
      const present = new Set(progress.counties.map((c) => c.code))
      const byCounty: OverviewCountySales[] = plan.counties
        .filter((c) => (viewer.kind === 'county' ? c.code === viewer.code : viewer.kind === 'city' || present.has(c.code) || monthByCounty.has(c.code)))
        .map((c) => ({ countyCode: c.code, countyName: c.name, ...fig(monthByCounty.get(c.code) ?? []) }))

      // The month's judgement: a cabinet without sales is not judged.
      const threshold = deps.compliance.threshold()
      let judgedCabinets = 0
      let compliantCabinets = 0
      const belowRows: Array<{ r: CabinetFigures; shareBp: number }> = []
      for (const r of monthRows) {
        if (r.amountFen <= 0) continue
        judgedCabinets++
        const v = deps.compliance.judge(r.certifiedFen, r.amountFen)
        if (v.compliant) compliantCabinets++
        else belowRows.push({ r, shareBp: v.shareBp })
      }
      // Worst first: lowest share, then the larger amount (more uncertified money).
      belowRows.sort((a, b) => a.shareBp - b.shareBp || b.r.amountFen - a.r.amountFen || (a.r.cabinetId < b.r.cabinetId ? -1 : 1))
      const listed = belowRows.slice(0, BELOW_LIST_MAX)
      const sites = new Map<string, Pick<CabinetRow, 'siteName' | 'operator'>>()
      if (listed.length > 0) for (const c of await deps.cabinets(filter)) sites.set(c.cabinetId, c)
      const below: OverviewBelow[] = listed.map(({ r, shareBp: bp }) => ({
        cabinetId: r.cabinetId,
        countyCode: r.countyCode,
        siteName: sites.get(r.cabinetId)?.siteName ?? null,
        operator: sites.get(r.cabinetId)?.operator ?? null,
        amountFen: r.amountFen,
        certifiedAmountFen: r.certifiedFen,
        shareBp: bp,
      }))

      const t = progress.totals
      return {
        scope,
        asOf,
        thresholdBp: threshold.bp,
        sales: { today: fig(todayRows), month: fig(monthRows), year: fig(yearRows), daily, byCounty },
        compliance: { period: { from: monthFrom, to: asOf }, judgedCabinets, compliantCabinets, below, belowCount: belowRows.length },
        targets: targetList,
        forwarding,
        rollout: {
          quota: viewer.kind === 'operator' ? null : t.quota,
          sitesAssigned: t.sitesAssigned,
          installed: t.installed,
          operating: t.operating,
          online: t.online,
          onlineNotInstalled: t.onlineNotInstalled,
        },
      }
    },
  }
}
