// GET /api/v1/overview (issue 15): the home page's figures for the caller's
// scope — sales (today, month, year to date, a 30-day trend, by county), the
// certified share against the plan's threshold, targets with pace and
// projection, forwarding and rollout. Answers use z.object (not strict) so
// adding a field never breaks a client.
import { z } from 'zod'
import { CabinetId } from '../domain/ids.js'
import { Fen } from '../domain/money.js'
import { CalendarDate } from '../domain/time.js'

export const OverviewQuery = z.strictObject({
  /** The Asia/Shanghai day the figures are as of; default today. */
  date: CalendarDate.optional(),
})
export type OverviewQuery = z.infer<typeof OverviewQuery>

/** Sales over a span: count, amount, certified amount and the certified share (basis points, rounded down). */
export const OverviewFig = z.object({
  salesCount: z.number().int(),
  amountFen: Fen,
  certifiedAmountFen: Fen,
  shareBp: z.number().int(),
})
export type OverviewFig = z.infer<typeof OverviewFig>

export const OverviewScope = z.object({
  kind: z.enum(['city', 'county', 'operator']),
  /** The county code (county), null otherwise. */
  code: z.string().nullable(),
  /** 滁州市, 定远县, or the operator's company name. */
  name: z.string(),
})
export type OverviewScope = z.infer<typeof OverviewScope>

export const OverviewDay = z.object({
  date: CalendarDate,
  salesCount: z.number().int(),
  amountFen: Fen,
  certifiedAmountFen: Fen,
})
export type OverviewDay = z.infer<typeof OverviewDay>

export const OverviewCountySales = OverviewFig.extend({ countyCode: z.string(), countyName: z.string() })
export type OverviewCountySales = z.infer<typeof OverviewCountySales>

export const OverviewBelow = z.object({
  cabinetId: CabinetId,
  countyCode: z.string(),
  siteName: z.string().nullable(),
  operator: z.string().nullable(),
  amountFen: Fen,
  certifiedAmountFen: Fen,
  shareBp: z.number().int(),
})
export type OverviewBelow = z.infer<typeof OverviewBelow>

export const TargetState = z.enum(['met', 'due', 'missed'])
export type TargetState = z.infer<typeof TargetState>

export const OverviewTarget = z.object({
  id: z.string(),
  kind: z.enum(['sales_amount', 'certified_products']),
  scope: z.object({ kind: z.enum(['city', 'county', 'unit']), code: z.string().nullable(), name: z.string() }),
  description: z.string(),
  /** sales_amount: what counts (all sales, or certified products' only); null for certified_products. */
  measure: z.enum(['amount', 'certifiedAmount']).nullable(),
  target: z.number().int(),
  /** Reached as of min(asOf, dueDate). */
  actual: z.number().int(),
  unit: z.enum(['fen', 'count']),
  startDate: CalendarDate,
  dueDate: CalendarDate,
  /** On a straight line from 0 at the start date to the target at the due date, as of asOf (rounded down). */
  expectedByNow: z.number().int(),
  /** Where the current pace (actual per day since the start) ends at the due date (rounded down). */
  projected: z.number().int(),
  /** Met, or projected to meet it by the due date. */
  onTrack: z.boolean(),
  state: TargetState,
})
export type OverviewTarget = z.infer<typeof OverviewTarget>

export const OverviewForwarding = z.object({
  sent: z.number().int(),
  pending: z.number().int(),
  held: z.number().int(),
  failed: z.number().int(),
})

export const OverviewRollout = z.object({
  /** The plan's quota for the scope; null for an operator (an operator has no quota). */
  quota: z.number().int().nullable(),
  sitesAssigned: z.number().int(),
  installed: z.number().int(),
  operating: z.number().int(),
  /** Installed, operating or suspended cabinets connected now. */
  online: z.number().int(),
  /** Cabinets connected now that are not installed (planned, site assigned, retired): shown apart. */
  onlineNotInstalled: z.number().int(),
})
export type OverviewRollout = z.infer<typeof OverviewRollout>

export const OverviewReply = z.object({
  scope: OverviewScope,
  asOf: CalendarDate,
  thresholdBp: z.number().int(),
  sales: z.object({
    today: OverviewFig,
    month: OverviewFig,
    year: OverviewFig,
    /** The last 30 days up to asOf, oldest first, every day present. */
    daily: z.array(OverviewDay),
    /** The month to date (the compliance period) per county of the scope, in plan order. */
    byCounty: z.array(OverviewCountySales),
  }),
  compliance: z.object({
    /** This month up to asOf. */
    period: z.object({ from: CalendarDate, to: CalendarDate }),
    /** Cabinets with sales in the period. */
    judgedCabinets: z.number().int(),
    compliantCabinets: z.number().int(),
    /** Judged cabinets below the threshold, lowest share first (at most 100). */
    below: z.array(OverviewBelow),
    belowCount: z.number().int(),
  }),
  targets: z.array(OverviewTarget),
  /** Forwarding and rollout are as they stand now, whatever `date` asks. */
  forwarding: OverviewForwarding,
  rollout: OverviewRollout,
})
export type OverviewReply = z.infer<typeof OverviewReply>
