// Compliance (policy 003: certified products ≥ 50% of a cabinet's sales
// amount): per cabinet over a day, week, month or custom range — amount,
// certified amount, share, and whether it meets the threshold in force. The
// threshold is plan data per channel type, never a constant here; `compliant`
// is decided in integer fen with meetsShare (BigInt), `ratio` is for display.
import {
  meetsShare,
  shareBp,
  type CabinetCompliance,
  type ComplianceQuery,
  type ComplianceReply,
  type Plan,
} from '../../../shared/src/index.js'
import { cabinetScope, type Principal } from '../access/index.js'
import { rangeInvalid } from './errors.js'
import { daysBetween, parsePeriod } from './periods.js'
import type { ComplianceStore } from './store.js'

/** Longest custom range one query may cover (days). */
export const MAX_RANGE_DAYS = 400

export interface Threshold {
  readonly bp: number
  readonly channel: string
}

export interface ComplianceVerdict {
  readonly shareBp: number
  readonly ratio: number
  readonly compliant: boolean
}

export interface ComplianceService {
  query(by: Principal, q: ComplianceQuery): Promise<ComplianceReply>
  /** All-time certified amount per cabinet (for the cabinet view). */
  certifiedTotals(cabinetIds: readonly string[]): Promise<Map<string, number>>
  threshold(): Threshold
  judge(certifiedFen: number, amountFen: number): ComplianceVerdict
}

/** The minimum certified share for the plan's channel type (cabinet, pavilion, zone). */
export function thresholdOf(plan: Plan): Threshold {
  const bp = plan.policy.minCertifiedShareBp[plan.channel]
  // parsePlan refuses a plan without a threshold for its own channel.
  if (bp === undefined) throw new Error(`plan ${plan.id} has no minCertifiedShareBp for channel ${plan.channel}`)
  return { bp, channel: plan.channel }
}

/** Figures are kept by ingest and catalog changes (store.ts); a query only reads them. */
export function createComplianceService(deps: { store: ComplianceStore; plan: () => Plan }): ComplianceService {
  const { store } = deps
  const threshold = () => thresholdOf(deps.plan())
  // No sales at all is not "compliant": there is nothing to judge.
  const isCompliant = (certifiedFen: number, amountFen: number, minBp: number): boolean => amountFen > 0 && meetsShare(certifiedFen, amountFen, minBp)
  const judge = (certifiedFen: number, amountFen: number): ComplianceVerdict => {
    const bp = shareBp(certifiedFen, amountFen)
    return { shareBp: bp, ratio: bp / 10_000, compliant: isCompliant(certifiedFen, amountFen, threshold().bp) }
  }

  return {
    async query(by, q) {
      let from: string
      let to: string
      if (q.period !== undefined) {
        const p = parsePeriod(q.period)
        if (!p) throw rangeInvalid(`period ${q.period} is not a real day, ISO week or month`, { period: q.period }, `“${q.period}” 不是实际存在的日、周或月`)
        ;({ from, to } = p)
      } else {
        from = q.from!
        to = q.to!
      }
      if (to < from) throw rangeInvalid(`to (${to}) is before from (${from})`, { from, to }, `截止日期 ${to} 早于起始日期 ${from}`)
      if (daysBetween(from, to) + 1 > MAX_RANGE_DAYS) throw rangeInvalid(`a range covers at most ${MAX_RANGE_DAYS} days; ${from}..${to} is longer`, { from, to }, `一次最多查询 ${MAX_RANGE_DAYS} 天，${from} 至 ${to} 超出`)
      const t = threshold()
      const scope = cabinetScope(by)
      // A filter outside the caller's scope selects nothing rather than widening it.
      const outside = scope.countyCode !== undefined && q.county !== undefined && q.county !== scope.countyCode
      const rows = outside
        ? []
        : await store.figuresByCabinet(from, to, {
            ...((scope.countyCode ?? q.county) !== undefined && { countyCode: scope.countyCode ?? q.county }),
            ...(scope.operator !== undefined && { operator: scope.operator }),
            ...(q.cabinetId !== undefined && { cabinetId: q.cabinetId }),
          })
      let amountFen = 0
      let certifiedAmountFen = 0
      let compliant = 0
      // judge() inlined with the threshold read once: a city query judges 2,700 cabinets.
      const cabinets: CabinetCompliance[] = new Array(rows.length)
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i]!
        const bp = shareBp(r.certifiedFen, r.amountFen)
        const isMet = isCompliant(r.certifiedFen, r.amountFen, t.bp)
        amountFen += r.amountFen
        certifiedAmountFen += r.certifiedFen
        if (isMet) compliant++
        cabinets[i] = { cabinetId: r.cabinetId, countyCode: r.countyCode, amountFen: r.amountFen, certifiedAmountFen: r.certifiedFen, ratio: bp / 10_000, shareBp: bp, compliant: isMet }
      }
      return {
        from,
        to,
        threshold: t.bp / 10_000,
        thresholdBp: t.bp,
        channel: t.channel,
        cabinets,
        summary: { cabinets: cabinets.length, compliant, amountFen, certifiedAmountFen },
      }
    },
    certifiedTotals: (ids) => store.certifiedTotals(ids),
    threshold,
    judge,
  }
}

/**
 * The sales reader the cabinets domain uses, with each cabinet's all-time
 * certified amount added as `certifiedAmountFen`.
 */
export function withCertifiedTotals<R extends { totals(ids: readonly string[]): Promise<Map<string, T>> }, T extends object>(reader: R, compliance: ComplianceService): R {
  return {
    ...reader,
    async totals(ids: readonly string[]) {
      const [totals, certified] = await Promise.all([reader.totals(ids), compliance.certifiedTotals(ids)])
      const out = new Map<string, T>()
      for (const [id, t] of totals) {
        const v = { ...t, certifiedAmountFen: certified.get(id) ?? 0 }
        out.set(id, v)
      }
      return out
    },
  }
}
