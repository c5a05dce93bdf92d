// HTTP answers of the rollout issue: progress against the plan, lifecycle
// history, CSV import, alerts, dashboard sessions (../shared/CONTRACT.md).
import { z } from 'zod'
import { CabinetId } from '../domain/ids.js'
import { CalendarDate, IsoUtc } from '../domain/time.js'
import { CABINET_STATUSES, CountyCode, Role } from './fleet.js'
import { MqttCredentials } from './fleet-views.js'

export const MilestoneState = z.enum(['met', 'due', 'missed'])
export type MilestoneState = z.infer<typeof MilestoneState>

/** One county against one milestone: how far, how fast, and when it would get there. */
export const CountyMilestone = z.object({
  milestoneId: z.string(),
  date: CalendarDate,
  state: MilestoneState,
  /** Cabinets still missing for the requirement (0 when met). */
  remaining: z.number().int(),
  /** Cabinets per day that reached the required stage over the pace window. */
  pacePerDay: z.number(),
  /** Asia/Shanghai date the county would meet it at that pace; null when met or at a standstill. */
  projectedDate: CalendarDate.nullable(),
  /** Met, or projected to be met by the date. */
  onTrack: z.boolean(),
})
export type CountyMilestone = z.infer<typeof CountyMilestone>

export const RolloutCounts = z.object({
  quota: z.number().int(),
  sitesAssigned: z.number().int(),
  installed: z.number().int(),
  operating: z.number().int(),
  online: z.number().int(),
})
export type RolloutCounts = z.infer<typeof RolloutCounts>

/** The rollout counts of a reply's totals and counties. */
export const RolloutTotals = RolloutCounts.extend({
  /** Of `online`, the cabinets not installed (planned, site assigned, retired): connected, but no rollout progress (issue 15). */
  onlineNotInstalled: z.number().int(),
})
export type RolloutTotals = z.infer<typeof RolloutTotals>

export const CountyProgress = RolloutTotals.extend({
  code: CountyCode,
  name: z.string(),
  planned: z.number().int(),
  suspended: z.number().int(),
  retired: z.number().int(),
  /** The county's next milestone not yet met (or the last one missed), null when all are met. */
  next: CountyMilestone.nullable(),
  milestones: z.array(CountyMilestone),
})
export type CountyProgress = z.infer<typeof CountyProgress>

export const MilestoneView = z.object({
  id: z.string(),
  date: CalendarDate,
  description: z.string(),
  state: MilestoneState,
  requires: z.record(z.string(), z.number()),
  /** Counties (within the caller's scope) meeting the requirement now. */
  countiesMet: z.number().int(),
  counties: z.number().int(),
})
export type MilestoneView = z.infer<typeof MilestoneView>

export const RolloutReply = z.object({
  plan: z.object({ id: z.string(), name: z.string(), region: z.object({ code: z.string(), name: z.string() }), totalQuota: z.number().int() }),
  /**
   * Whose figures these are: the city, a county, or an operator's own
   * cabinets (then quotas are 0 and no milestone verdicts: an operator has no
   * quota, the plan's milestones are the counties').
   */
  scope: z.object({ kind: z.enum(['city', 'county', 'operator']), code: z.string().nullable(), name: z.string() }),
  /** The instant the figures were taken, and its Asia/Shanghai date. */
  asOf: IsoUtc,
  today: CalendarDate,
  paceWindowDays: z.number().int(),
  counties: z.array(CountyProgress),
  totals: RolloutTotals,
  milestones: z.array(MilestoneView),
})
export type RolloutReply = z.infer<typeof RolloutReply>

export const CabinetTransition = z.object({
  from: z.enum(CABINET_STATUSES).nullable(),
  to: z.enum(CABINET_STATUSES),
  at: IsoUtc,
  by: z.string(),
  reason: z.string().nullable(),
})
export type CabinetTransition = z.infer<typeof CabinetTransition>

export const TransitionList = z.object({ cabinetId: CabinetId, transitions: z.array(CabinetTransition) })
export type TransitionList = z.infer<typeof TransitionList>

export const ImportQuery = z.strictObject({
  /** Import the good rows and report the bad ones; default: all or nothing. */
  partial: z.stringbool().default(false),
})
export type ImportQuery = z.infer<typeof ImportQuery>

export const ImportRowError = z.object({
  /** Line number in the file; the header is line 1. */
  line: z.number().int(),
  field: z.string().nullable(),
  message: z.string(),
})
export type ImportRowError = z.infer<typeof ImportRowError>

export const ImportReply = z.object({
  rows: z.number().int(),
  imported: z.number().int(),
  rejected: z.array(ImportRowError),
  /** MQTT credentials of every created cabinet: shown once. */
  cabinets: z.array(z.object({ cabinetId: CabinetId, line: z.number().int(), mqtt: MqttCredentials })),
})
export type ImportReply = z.infer<typeof ImportReply>

export const ALERT_KINDS = ['offline', 'behind_schedule', 'compliance_low', 'cert_expiring', 'forwarding_failing', 'sale_id_reused', 'clock_skew', 'signature_invalid', 'stock_out', 'stock_low',
  // Issue 16 §4: telemetry rules (thresholds in the plan's alertRules) and the tampered ledger.
  'temperature_high', 'door_open', 'device_fault', 'outbox_stale', 'disk_full', 'two_agents', 'ledger_tampered'] as const
export const AlertKind = z.enum(ALERT_KINDS)
export type AlertKind = z.infer<typeof AlertKind>

export const AlertView = z.object({
  alertId: z.string(),
  kind: AlertKind,
  severity: z.enum(['warning', 'critical']),
  countyCode: z.string().nullable(),
  cabinetId: z.string().nullable(),
  subject: z.string(),
  message: z.string(),
  detail: z.record(z.string(), z.unknown()),
  raisedAt: IsoUtc,
  /** Set when the condition no longer holds. */
  clearedAt: IsoUtc.nullable(),
  ackedAt: IsoUtc.nullable(),
  ackedBy: z.string().nullable(),
})
export type AlertView = z.infer<typeof AlertView>

export const ListAlertsQuery = z.strictObject({
  /** open = not cleared (acknowledged or not); unacked = open and not acknowledged. */
  state: z.enum(['open', 'unacked', 'all']).default('open'),
  kind: AlertKind.optional(),
  county: CountyCode.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
})
export type ListAlertsQuery = z.infer<typeof ListAlertsQuery>

export const AlertList = z.object({ alerts: z.array(AlertView), total: z.number().int() })
export type AlertList = z.infer<typeof AlertList>

export const AlertIdParams = z.strictObject({ id: z.string().min(1).max(64) })
export const AckAlertReply = z.object({ alert: AlertView })
export const EvaluateAlertsReply = z.object({ raised: z.number().int(), cleared: z.number().int(), open: z.number().int() })
export type EvaluateAlertsReply = z.infer<typeof EvaluateAlertsReply>

export const LoginBody = z.strictObject({ username: z.string().min(1).max(64), password: z.string().min(1).max(200) })
export type LoginBody = z.infer<typeof LoginBody>

export const MeReply = z.object({
  userId: z.string(),
  username: z.string(),
  role: Role,
  countyCode: z.string().nullable(),
  operator: z.string().nullable(),
  /** Name of the county for a county user. */
  countyName: z.string().nullable(),
})
export type MeReply = z.infer<typeof MeReply>

export const SessionReply = MeReply.extend({ expiresAt: IsoUtc })
export type SessionReply = z.infer<typeof SessionReply>
