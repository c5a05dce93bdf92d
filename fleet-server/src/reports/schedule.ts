// When reports are generated on their own, in Asia/Shanghai time, from the
// plan's policy data (policy.reports):
//   weekly    policy 003 "每周二…报送": on the due weekday (Tuesday) at 06:00, for
//             the ISO week that ended the Sunday before;
//   monthly   policy 000 "每月25日前…反馈上月工作进展": on the 1st at 06:00, for
//             the month just ended — ready 24 days before the 25th, so officials
//             have the figures to write their feedback; a later manual POST takes
//             a fresh snapshot if late-syncing cabinets changed them;
//   quarterly policy 002 "每季度通报" (no fixed day): on the first day of the next
//             quarter at 06:00, when policy.reports.quarterly is true.
// 06:00 so the report is there before office hours. The cron job checks every
// hour what is due (dueReports) and generates what is missing, so a server
// that was down at 06:00 catches up within the hour after it starts; scheduled
// reports are idempotent per kind, period and scope, so checking again is free.
import type { Logger } from 'pino'
import { shanghaiDate, shanghaiDayStartUtc, type Policy, type ReportKind } from '../../../shared/src/index.js'
import { addDays } from '../compliance/index.js'
import { startCronJob, type CronJob } from '../jobs/cron-job.js'
import { previousPeriod, reportPeriodOf, type ReportPeriod } from './periods.js'

/** Hour of day (Asia/Shanghai) scheduled reports are generated. */
export const REPORT_HOUR = 6
/** Every hour on the hour: what is due is generated at 06:00 sharp, or within an hour of a restart. */
export const REPORT_CRON = '0 * * * *'

export interface DueReport {
  readonly kind: ReportKind
  readonly period: ReportPeriod
  /** The instant its generation became due. */
  readonly dueAt: Date
}

const HOUR_MS = 3_600_000
const at0600 = (date: string): Date => new Date(shanghaiDayStartUtc(date).getTime() + REPORT_HOUR * HOUR_MS)

/**
 * The newest report of each kind whose generation time has come at `at`:
 * e.g. from Tuesday 06:00 (Asia/Shanghai) on, the weekly report of the week
 * that ended on the Sunday before; until then, the one of the week before.
 */
export function dueReports(at: Date, policy: Policy['reports']): DueReport[] {
  const today = shanghaiDate(at)
  const out: DueReport[] = []
  const newest = (kind: ReportKind, slotOf: (p: ReportPeriod) => string) => {
    // The period containing today is generated in the next one; if this
    // period's slot has not come yet, the newest due is one period further back.
    const current = reportPeriodOf(kind, today)
    let slot = at0600(slotOf(current))
    let period = previousPeriod(current)
    if (slot.getTime() > at.getTime()) {
      slot = at0600(slotOf(period))
      period = previousPeriod(period)
    }
    out.push({ kind, period, dueAt: slot })
  }
  newest('weekly', (week) => addDays(week.from, policy.weeklyDueIsoWeekday - 1))
  newest('monthly', (month) => month.from)
  if (policy.quarterly) newest('quarterly', (q) => q.from)
  return out
}

/** The date the policy wants a period's report by; null when it names none. */
export function dueOn(p: ReportPeriod, policy: Policy['reports']): string | null {
  switch (p.kind) {
    case 'weekly':
      return addDays(p.to, policy.weeklyDueIsoWeekday)
    case 'monthly':
      return `${addDays(p.to, 1).slice(0, 7)}-${String(policy.monthlyDueDay).padStart(2, '0')}`
    case 'quarterly':
      return null
  }
}

export type ReportSchedule = CronJob

/**
 * Registers the job (hourly: REPORT_CRON, unless `expression` says otherwise,
 * e.g. FLEET_REPORTS_CRON); `run` generates what is due and must not throw.
 */
export function startReportSchedule(deps: { name: string; run: () => Promise<void>; log: Logger; isLeader?: () => Promise<boolean>; expression?: string }): ReportSchedule {
  const { expression = REPORT_CRON, ...rest } = deps
  return startCronJob({ expression, label: 'report schedule', ...rest })
}
