// Public disclosure (公开披露, issue 15): when the plan's policy turns it on,
// the cabinets forwarding holds as NOT_COMPLIANT for the last closed period
// (the plan's forwarding period kind, Asia/Shanghai), each with only its id,
// county, site, operator, period and certified share. Other hold reasons
// (sync, tampering, duplicate sale ids) are not a finding against the
// channel and stay internal. Off: "not found", so nothing says it exists.
import {
  shanghaiDate,
  type HeldPeriod,
  type Plan,
  type PublicHeldCabinet,
  type PublicHeldCabinets,
} from '../../../shared/src/index.js'
import { AppError } from '../../../shared/src/index.js'
import { addDays, periodOf, type Period } from '../compliance/index.js'

export interface DisclosureService {
  /** Whether the plan's policy asks for the public page. */
  isOn(): boolean
  /** The public list; NOT_FOUND when the policy is off. */
  heldCabinets(): Promise<PublicHeldCabinets>
}

export interface DisclosureDeps {
  readonly plan: () => Plan
  /** Every held cabinet-period (forwarding status, city-wide). */
  readonly held: () => Promise<readonly HeldPeriod[]>
  readonly cabinet: (cabinetId: string) => Promise<{ countyCode: string; siteName: string | null; operator: string | null } | null>
  readonly thresholdBp: () => number
  readonly now: () => Date
  /** A monotonic clock in ms for the answer's cache (default performance.now). */
  readonly monotonicMs?: () => number
}

/**
 * How long one answer is reused, in ms: the page is public and unauthenticated
 * (only the per-address rate limit in front), while the list changes at most
 * with a forwarding pass; 30 s bounds the database reads any number of
 * visitors cause to two per minute.
 */
export const DISCLOSURE_CACHE_MS = 30_000

export const disclosureOff = () => new AppError('NOT_FOUND', 'public disclosure is not enabled by the plan\'s policy', 404, undefined, '本地区未开启公开披露')

/** The period before the one `today` is in. */
export function lastClosedPeriod(kind: Plan['policy']['forwardingPeriod'], today: string): Period {
  return periodOf(kind, addDays(periodOf(kind, today).from, -1))
}

export function createDisclosureService(deps: DisclosureDeps): DisclosureService {
  const isOn = () => deps.plan().policy.publicDisclosure
  const monotonic = deps.monotonicMs ?? (() => performance.now())
  // Concurrent visitors share one read; a failed read is not kept.
  let cached: { periodId: string; at: number; answer: Promise<PublicHeldCabinets> } | null = null

  async function build(period: Period): Promise<PublicHeldCabinets> {
    const plan = deps.plan()
    const order = new Map(plan.counties.map((c, i) => [c.code, i]))
    const rows: Array<PublicHeldCabinet & { order: number }> = []
    for (const h of await deps.held()) {
      if (h.reason !== 'NOT_COMPLIANT' || h.period !== period.id) continue
      const c = await deps.cabinet(h.cabinetId)
      if (!c) continue
      const shareBp = typeof h.details.shareBp === 'number' ? h.details.shareBp : 0
      rows.push({
        order: order.get(c.countyCode) ?? order.size,
        cabinetId: h.cabinetId,
        countyName: plan.counties.find((x) => x.code === c.countyCode)?.name ?? c.countyCode,
        siteName: c.siteName,
        operator: c.operator,
        period: h.period,
        certifiedShareBp: shareBp,
      })
    }
    rows.sort((a, b) => a.order - b.order || (a.cabinetId < b.cabinetId ? -1 : a.cabinetId > b.cabinetId ? 1 : 0))
    return {
      period: { id: period.id, from: period.from, to: period.to },
      thresholdBp: deps.thresholdBp(),
      cabinets: rows.map(({ order: _order, ...r }) => r),
    }
  }

  return {
    isOn,
    heldCabinets() {
      if (!isOn()) return Promise.reject(disclosureOff())
      const period = lastClosedPeriod(deps.plan().policy.forwardingPeriod, shanghaiDate(deps.now()))
      const at = monotonic()
      if (cached && cached.periodId === period.id && at - cached.at < DISCLOSURE_CACHE_MS) return cached.answer
      const answer = build(period)
      const entry = { periodId: period.id, at, answer }
      cached = entry
      answer.catch(() => {
        if (cached === entry) cached = null
      })
      return answer
    },
  }
}
