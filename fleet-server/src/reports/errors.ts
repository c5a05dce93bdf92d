import { AppError, labelZh, type ReportKind } from '../../../shared/src/index.js'

export const periodInvalid = (kind: ReportKind, period: string, expected: string) =>
  new AppError('REPORT_PERIOD_INVALID', `period ${JSON.stringify(period)} is not a ${kind} period: expected ${expected}`, 400, { kind, period, expected }, `“${period}” 不是${labelZh('reportKind', kind)}期间`)

export const periodNotStarted = (period: string, from: string, today: string) =>
  new AppError('REPORT_PERIOD_NOT_STARTED', `period ${period} starts on ${from}, after today (${today}, Asia/Shanghai)`, 400, { period, from, today }, `“${period}” 自 ${from} 开始，晚于今天（${today}，北京时间）`)

export const formatInvalid = (format: string, formats: readonly string[]) =>
  new AppError('REPORT_FORMAT_INVALID', `format ${JSON.stringify(format)} is not one of ${formats.join(', ')}`, 400, { format, expected: formats }, `“${format}”`)

export const countyUnknown = (county: string, known: readonly string[]) =>
  new AppError('REPORT_COUNTY_UNKNOWN', `county ${county} is not in the rollout plan (${known.join(', ')})`, 400, { county }, `“${county}”；可选 ${known.map((k) => `“${k}”`).join('、')}`)

/** Not found, or outside the caller's scope: indistinguishable on purpose. */
export const reportNotFound = (reportId: string) => new AppError('REPORT_NOT_FOUND', `report ${reportId} not found`, 404, { reportId }, `“${reportId}”`)
