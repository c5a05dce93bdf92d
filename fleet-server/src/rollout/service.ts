// Rollout progress against the plan: per county quota, sites assigned,
// installed, operating, online now; milestone states (met / due / missed) on
// the injected clock; and a projection of each county's next milestone at its
// pace over the last paceWindowDays. The plan is data: any region, any size.
import {
  shanghaiDate,
  type CabinetStatus,
  type CountyMilestone,
  type CountyProgress,
  type Milestone,
  type MilestoneState,
  type Plan,
  type RolloutReply,
  type RolloutTotals,
} from '../../../shared/src/index.js'
import { cabinetScope, type Principal } from '../access/index.js'
import type { Liveness } from '../cabinets/index.js'
import type { RolloutStore, ScopeFilter, StatusCount, StepCount } from './store.js'

export interface RolloutService {
  /** Progress within the principal's scope (a county user: its county only). */
  progress(by: Principal): Promise<RolloutReply>
}

export interface RolloutServiceDeps {
  readonly store: RolloutStore
  readonly plan: () => Plan
  readonly liveness: Pick<Liveness, 'onlineIds'>
  readonly now: () => Date
  /** Days of history the pace is measured over. */
  readonly paceWindowDays?: number
}

const DAY_MS = 86_400_000
export const DEFAULT_PACE_WINDOW_DAYS = 14 // two weeks: long enough to smooth a weekend, short enough to show a stall

type Metric = 'sitesAssigned' | 'installed' | 'operating'

/** Cabinets a county needs at each stage for a milestone (ceil of the basis points of its quota). */
export function requirement(m: Milestone, quota: number): Partial<Record<Metric, number>> {
  const r = m.requires
  const need: Partial<Record<Metric, number>> = {}
  const bp = (x: number | undefined) => (x === undefined ? 0 : Math.ceil((x * quota) / 10_000))
  if (r.sitesAssignedBp !== undefined) need.sitesAssigned = bp(r.sitesAssignedBp)
  if (r.installedBp !== undefined) need.installed = bp(r.installedBp)
  if (r.operatingBp !== undefined || r.operatingMin !== undefined) {
    // A county with no quota has nothing to operate.
    need.operating = Math.max(bp(r.operatingBp), quota > 0 ? (r.operatingMin ?? 0) : 0)
  }
  return need
}

/** met when reached; otherwise due through the end of the date (Asia/Shanghai), missed after. */
export function milestoneState(isMet: boolean, date: string, today: string): MilestoneState {
  if (isMet) return 'met'
  return today <= date ? 'due' : 'missed'
}

const CACHE_SCOPES = 256 // one entry per county, operator and the city: far fewer in practice

/** A county's figures from the database and the plan: everything of its progress but the live online counts. */
type CountyFigures = Omit<CountyProgress, 'online' | 'onlineNotInstalled'>

export function createRolloutService({ store, plan, liveness, now, paceWindowDays = DEFAULT_PACE_WINDOW_DAYS }: RolloutServiceDeps): RolloutService {
  // The database part of the answer per scope, and the county figures worked
  // out from it (milestones, pace, projections), valid while no cabinet
  // changed status (store.version), on the same day, under the same plan.
  // Online counts are live and never cached: liveness.onlineIds() is this
  // process's sessions plus, on PostgreSQL, the other servers' (refreshed about
  // once a second), so every replica reports the same figure.
  const cache = new Map<string, { version: string; today: string; plan: Plan; figures: PlanFigures }>()
  const figures = async (scope: ScopeFilter, p: Plan, today: string, version: string) => {
    const key = `${scope.countyCode ?? ''}|${scope.operator ?? ''}`
    const hit = cache.get(key)
    if (hit && hit.version === version && hit.today === today && hit.plan === p) return hit.figures
    // The pace window: the last paceWindowDays Asia/Shanghai days, today included.
    const [counts, steps] = await Promise.all([store.counts(scope), store.steps(addDays(today, 1 - paceWindowDays), scope)])
    const fresh = planFigures(p, counts, steps, paceWindowDays, today)
    if (cache.size >= CACHE_SCOPES) cache.clear()
    cache.set(key, { version, today, plan: p, figures: fresh })
    return fresh
  }
  return {
    async progress(by) {
      const p = plan()
      const at = now()
      const today = shanghaiDate(at)
      const s = cabinetScope(by)
      const scope: ScopeFilter = { countyCode: s.countyCode ?? null, operator: s.operator ?? null }

      const version = await store.version()
      const { byCounty, present } = await figures(scope, p, today, version)
      // `online` counts every cabinet connected now (../shared/CONTRACT.md).
      // Issue 15 asked that a connection of a cabinet not installed (a test
      // bench, a cabinet not yet on site) not pass for rollout progress: those
      // are counted again apart, as the part of `online` the dashboard names.
      const { online, notInstalled: onlineApart } = await store.countOnline(liveness.onlineIds(), scope, version)
      // An operator sees the counties it has cabinets in, and no quota: the
      // plan's quotas and milestones are the counties' (issue 15: an operator
      // with 10 cabinets was shown whole counties' quotas and verdicts).
      const isOperator = scope.operator !== null
      const visible = p.counties.filter((c) => (scope.countyCode ? c.code === scope.countyCode : isOperator ? present.has(c.code) || online.has(c.code) || onlineApart.has(c.code) : true))
      const counties: CountyProgress[] = visible.map((c) => {
        const f = byCounty.get(c.code)!
        return {
          code: f.code,
          name: f.name,
          quota: isOperator ? 0 : f.quota,
          sitesAssigned: f.sitesAssigned,
          installed: f.installed,
          operating: f.operating,
          online: online.get(c.code) ?? 0,
          onlineNotInstalled: onlineApart.get(c.code) ?? 0,
          planned: f.planned,
          suspended: f.suspended,
          retired: f.retired,
          next: isOperator ? null : f.next,
          milestones: isOperator ? [] : f.milestones,
        }
      })

      const totals: RolloutTotals = { quota: 0, sitesAssigned: 0, installed: 0, operating: 0, online: 0, onlineNotInstalled: 0 }
      for (const c of counties) {
        totals.quota += c.quota
        totals.sitesAssigned += c.sitesAssigned
        totals.installed += c.installed
        totals.operating += c.operating
        totals.online += c.online
        totals.onlineNotInstalled += c.onlineNotInstalled
      }
      const milestones = isOperator ? [] : p.milestones.map((m, i) => {
        const countiesMet = counties.filter((c) => c.milestones[i]!.state === 'met').length
        return {
          id: m.id,
          date: m.date,
          description: m.description,
          state: milestoneState(counties.length > 0 && countiesMet === counties.length, m.date, today),
          requires: { ...m.requires },
          countiesMet,
          counties: counties.length,
        }
      })
      const countyName = scope.countyCode === null ? null : (p.counties.find((c) => c.code === scope.countyCode)?.name ?? scope.countyCode)
      return {
        plan: { id: p.id, name: p.name, region: p.region, totalQuota: p.totalQuota },
        scope: isOperator
          ? { kind: 'operator', code: null, name: scope.operator! }
          : scope.countyCode !== null
            ? { kind: 'county', code: scope.countyCode, name: countyName! }
            : { kind: 'city', code: null, name: p.region.name },
        asOf: at.toISOString(),
        today,
        paceWindowDays,
        counties,
        totals,
        milestones,
      }
    },
  }
}

interface PlanFigures {
  /** Every county of the plan. Frozen: cached and shared by replies. */
  readonly byCounty: ReadonlyMap<string, CountyFigures>
  /** Counties with cabinets or steps in the figures (an operator's scope shows only these). */
  readonly present: ReadonlySet<string>
}

function planFigures(p: Plan, counts: readonly StatusCount[], steps: readonly StepCount[], windowDays: number, today: string): PlanFigures {
  const rows = new Map<string, { counts: Record<CabinetStatus, number>; net: Record<Metric, number> }>()
  const rowOf = (code: string) => {
    let r = rows.get(code)
    if (!r) {
      r = { counts: { planned: 0, site_assigned: 0, installed: 0, operating: 0, suspended: 0, retired: 0 }, net: { sitesAssigned: 0, installed: 0, operating: 0 } }
      rows.set(code, r)
    }
    return r
  }
  for (const c of counts) rowOf(c.countyCode).counts[c.status] += c.n
  // Net change of each stage's count over the window: steps into a stage
  // (or past it) minus steps back out (suspension, retirement).
  for (const st of steps) {
    const net = rowOf(st.countyCode).net
    net.sitesAssigned += st.sitesAssigned
    net.installed += st.installed
    net.operating += st.operating
  }
  const present = new Set(rows.keys())
  const out = new Map<string, CountyFigures>()
  for (const c of p.counties) {
    const r = rowOf(c.code)
    const k = r.counts
    const have: Record<Metric, number> = {
      sitesAssigned: k.site_assigned + k.installed + k.operating + k.suspended,
      installed: k.installed + k.operating + k.suspended,
      operating: k.operating,
    }
    const milestones = Object.freeze(p.milestones.map((m) => Object.freeze(countyMilestone(m, c.quota, have, r.net, windowDays, today))))
    out.set(
      c.code,
      Object.freeze({
        code: c.code,
        name: c.name,
        quota: c.quota,
        sitesAssigned: have.sitesAssigned,
        installed: have.installed,
        operating: have.operating,
        planned: k.planned,
        suspended: k.suspended,
        retired: k.retired,
        next: milestones.find((m) => m.state !== 'met') ?? null,
        milestones: milestones as CountyMilestone[],
      }),
    )
  }
  return { byCounty: out, present }
}

function countyMilestone(
  m: Milestone,
  quota: number,
  have: Record<Metric, number>,
  net: Record<Metric, number>,
  windowDays: number,
  today: string,
): CountyMilestone {
  const need = requirement(m, quota)
  let remaining = 0
  let days = 0
  let pacePerDay = Infinity
  for (const metric of Object.keys(need) as Metric[]) {
    const shortfall = Math.max(0, need[metric]! - have[metric])
    if (shortfall === 0) continue
    const pace = Math.max(0, net[metric]) / windowDays
    remaining = Math.max(remaining, shortfall)
    pacePerDay = Math.min(pacePerDay, pace)
    days = Math.max(days, pace > 0 ? Math.ceil(shortfall / pace) : Infinity)
  }
  const isMet = remaining === 0
  const projectedDate = isMet || !Number.isFinite(days) ? null : addDays(today, days)
  return {
    milestoneId: m.id,
    date: m.date,
    state: milestoneState(isMet, m.date, today),
    remaining,
    pacePerDay: Number.isFinite(pacePerDay) ? Math.round(pacePerDay * 100) / 100 : 0,
    projectedDate,
    onTrack: isMet || (projectedDate !== null && projectedDate <= m.date),
  }
}

function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00.000Z`) + days * DAY_MS).toISOString().slice(0, 10)
}
