// A rollout plan is data: the counties and their quotas, the milestone dates,
// and the policy figures (certified-share thresholds, forwarding period,
// report schedule). Another region is another plan file, not new code.
import { z } from 'zod'
import { CalendarDate } from './time.js'

export const ChannelType = z.enum(['cabinet', 'pavilion', 'zone'])
export type ChannelType = z.infer<typeof ChannelType>

const Bp = z.number().int().min(0).max(10_000)

export const PlanCounty = z.strictObject({
  code: z.string().regex(/^\d{6}$/, 'GB/T 2260 code: 6 digits'),
  name: z.string().min(1),
  quota: z.number().int().min(0),
})

export const Milestone = z.strictObject({
  id: z.string().regex(/^[a-z0-9-]+$/),
  date: CalendarDate,
  description: z.string().min(1),
  /** What each county must have reached by the end of `date` (Asia/Shanghai). */
  requires: z.strictObject({
    sitesAssignedBp: Bp.optional(),
    installedBp: Bp.optional(),
    operatingBp: Bp.optional(),
    operatingMin: z.number().int().min(0).optional(),
  }),
})
export type Milestone = z.infer<typeof Milestone>

export const Policy = z.strictObject({
  /** Minimum certified share of sales amount, in basis points, per channel type. */
  minCertifiedShareBp: z.partialRecord(ChannelType, Bp),
  /** The period each cabinet is judged over before forwarding. */
  forwardingPeriod: z.enum(['day', 'week', 'month']),
  reports: z.strictObject({
    /** ISO weekday (1 = Monday) the weekly report is due. */
    weeklyDueIsoWeekday: z.number().int().min(1).max(7),
    /** Day of the month the monthly report is due. */
    monthlyDueDay: z.number().int().min(1).max(28),
    quarterly: z.boolean(),
  }),
  /**
   * Publish, without login, the cabinets held for non-compliance in the last
   * closed period (issue 15; e.g. 内蒙古's rule that channels selling
   * non-certified goods under the 专柜 name are exposed). Off unless a plan asks.
   */
  publicDisclosure: z.boolean().default(false),
})
export type Policy = z.infer<typeof Policy>

/** Review levels of 扶贫产品认定 (policy 002 二: county, then city 复核, then province 审核). */
export const CERT_REVIEW_STEPS = ['county', 'city', 'province'] as const
export const CertReviewStep = z.enum(CERT_REVIEW_STEPS)
export type CertReviewStep = z.infer<typeof CertReviewStep>

/**
 * How an application for certification runs (issue 15): the review steps in
 * order (a subsequence of county → city → province, county first), the
 * working days of the public notice (公示) after the last one, and how long
 * a certificate issued at its end is valid.
 */
export const CertificationPolicy = z
  .strictObject({
    reviewSteps: z.array(CertReviewStep).min(1),
    publicityWorkingDays: z.number().int().min(1).max(30),
    /** At most 12: the catalogue is valid one year (policy 002 四(二)). */
    validityMonths: z.number().int().min(1).max(12),
  })
  .superRefine((c, ctx) => {
    const order = c.reviewSteps.map((s) => CERT_REVIEW_STEPS.indexOf(s))
    if (c.reviewSteps[0] !== 'county' || order.some((x, i) => i > 0 && x <= order[i - 1]!)) {
      ctx.addIssue({ code: 'custom', path: ['reviewSteps'], message: 'review steps start with county and follow county → city → province without repeats' })
    }
  })
export type CertificationPolicy = z.infer<typeof CertificationPolicy>

/** 滁扶组〔2020〕9号: 县级扶贫部门认定, 公示 5 working days, valid one year. Plans stored before issue 15 get this. */
export const DEFAULT_CERTIFICATION_POLICY: CertificationPolicy = { reviewSteps: ['county'], publicityWorkingDays: 5, validityMonths: 12 }

// ── alert rules (issue 16 §4): the telemetry thresholds as plan data ──

/**
 * When the telemetry alerts fire. Every field has its default, so a plan
 * without the block (or with part of it) gets the rest: chilled goods above
 * 8 °C for 30 min, a door open 10 min, a payment or vending fault, sales
 * unsent for 24 h, a disk above 90 %, two agent processes within 5 min.
 */
export const AlertRules = z.strictObject({
  temperatureHighC: z.number().min(-50).max(100).default(8),
  temperatureHighMinutes: z.number().int().min(1).max(1440).default(30),
  doorOpenMinutes: z.number().int().min(1).max(1440).default(10),
  /** Modules whose active fault raises `device_fault`. */
  faultModules: z.array(z.enum(['payment', 'vending', 'cooling', 'other'])).default(['payment', 'vending']),
  outboxStaleHours: z.number().int().min(1).max(24 * 30).default(24),
  diskFullPct: z.number().min(1).max(100).default(90),
  /** Two agent instance ids reporting for one cabinet within this window raise `two_agents`. */
  twoAgentsWindowMinutes: z.number().int().min(1).max(1440).default(5),
})
export type AlertRules = z.infer<typeof AlertRules>
export const DEFAULT_ALERT_RULES: AlertRules = AlertRules.parse({})

// ── targets (issue 15): what the plan's documents ask to reach by a date ──
// A target's figure is measured over [startDate, dueDate] (Asia/Shanghai
// calendar dates); its pace is linear from startDate, so the start date is
// data too (policy 003 gives the campaign's; policy 000 its year's).

const TargetId = z.string().regex(/^[a-z0-9-]+$/)

/** Whom a target binds: the plan's region, one of its counties, or a unit (单位) whose sales are its operator's cabinets'. */
export const TargetScope = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('city') }),
  z.strictObject({ kind: z.literal('county'), code: z.string().regex(/^\d{6}$/, 'GB/T 2260 code: 6 digits') }),
  z.strictObject({
    kind: z.literal('unit'),
    code: TargetId,
    name: z.string().min(1),
    /** The operator (运营企业) whose cabinets' sales count for the unit. */
    operator: z.string().min(1),
  }),
])
export type TargetScope = z.infer<typeof TargetScope>

const TargetBase = {
  id: TargetId,
  description: z.string().min(1),
  startDate: CalendarDate,
  dueDate: CalendarDate,
  /** The document and clause the target comes from. */
  source: z.string().min(1).optional(),
}

export const SalesAmountTarget = z.strictObject({
  ...TargetBase,
  kind: z.literal('sales_amount'),
  scope: TargetScope,
  /** amount: all sales; certifiedAmount: sales of certified 扶贫产品 only. */
  measure: z.enum(['amount', 'certifiedAmount']),
  amountFen: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
})
export type SalesAmountTarget = z.infer<typeof SalesAmountTarget>

export const CertifiedProductsTarget = z.strictObject({
  ...TargetBase,
  kind: z.literal('certified_products'),
  /** Products of the county's suppliers (by the 统一社会信用代码's division) certified on the date. */
  scope: z.strictObject({ kind: z.literal('county'), code: z.string().regex(/^\d{6}$/, 'GB/T 2260 code: 6 digits') }),
  count: z.number().int().positive(),
})
export type CertifiedProductsTarget = z.infer<typeof CertifiedProductsTarget>

export const PlanTarget = z.discriminatedUnion('kind', [SalesAmountTarget, CertifiedProductsTarget])
export type PlanTarget = z.infer<typeof PlanTarget>

export const Plan = z
  .strictObject({
    id: z.string().regex(/^[a-z0-9-]+$/),
    name: z.string().min(1),
    region: z.strictObject({ code: z.string().regex(/^\d{6}$/), name: z.string().min(1) }),
    channel: ChannelType,
    totalQuota: z.number().int().min(0),
    counties: z.array(PlanCounty).min(1),
    milestones: z.array(Milestone),
    policy: Policy,
    certification: CertificationPolicy.default(DEFAULT_CERTIFICATION_POLICY),
    sources: z.array(z.string()).default([]),
    /** Sales and certification targets with dates (issue 15); none by default. */
    targets: z.array(PlanTarget).default([]),
    /** Telemetry alert thresholds (issue 16 §4); the defaults when absent. */
    alertRules: AlertRules.default(DEFAULT_ALERT_RULES),
  })
  .superRefine((p, ctx) => {
    const sum = p.counties.reduce((s, c) => s + c.quota, 0)
    if (sum !== p.totalQuota) {
      ctx.addIssue({ code: 'custom', path: ['counties'], message: `county quotas sum to ${sum}, but totalQuota is ${p.totalQuota}` })
    }
    const seen = new Set<string>()
    for (const [i, c] of p.counties.entries()) {
      if (seen.has(c.code)) ctx.addIssue({ code: 'custom', path: ['counties', i, 'code'], message: `duplicate county code ${c.code}` })
      seen.add(c.code)
    }
    for (let i = 1; i < p.milestones.length; i++) {
      if (p.milestones[i]!.date < p.milestones[i - 1]!.date) {
        ctx.addIssue({ code: 'custom', path: ['milestones', i, 'date'], message: 'milestones must be in date order' })
      }
    }
    const targetIds = new Set<string>()
    const countyCodes = new Set(p.counties.map((c) => c.code))
    for (const [i, t] of p.targets.entries()) {
      if (targetIds.has(t.id)) ctx.addIssue({ code: 'custom', path: ['targets', i, 'id'], message: `duplicate target id ${t.id}` })
      targetIds.add(t.id)
      if (t.dueDate < t.startDate) ctx.addIssue({ code: 'custom', path: ['targets', i, 'dueDate'], message: `dueDate ${t.dueDate} is before startDate ${t.startDate}` })
      if (t.scope.kind === 'county' && !countyCodes.has(t.scope.code)) {
        ctx.addIssue({ code: 'custom', path: ['targets', i, 'scope', 'code'], message: `county ${t.scope.code} is not one of the plan's counties` })
      }
    }
    if (p.policy.minCertifiedShareBp[p.channel] === undefined) {
      ctx.addIssue({ code: 'custom', path: ['policy', 'minCertifiedShareBp'], message: `no threshold for the plan's channel type ${p.channel}` })
    }
  })
export type Plan = z.infer<typeof Plan>

export class PlanInvalidError extends Error {
  constructor(readonly source: string, readonly detail: string) {
    super(`plan ${source} is invalid:\n${detail}`)
    this.name = 'PlanInvalidError'
  }
}

/** Validates raw plan data; throws PlanInvalidError naming the source and every problem. */
export function parsePlan(raw: unknown, source: string): Plan {
  const r = Plan.safeParse(raw)
  if (!r.success) throw new PlanInvalidError(source, z.prettifyError(r.error))
  return r.data
}
