// Reports (报表): weekly, monthly and quarterly snapshots for officials, in
// JSON, CSV and XLSX, generated on request and on the policy's schedule.
export { createReportService, scopeKey, SCHEDULE_USER, type ReportService, type ReportServiceDeps } from './service.js'
export { createReportStore, type ReportStore } from './store.js'
export { reportRoutes } from './routes.js'
export { dueReports, dueOn, startReportSchedule, REPORT_CRON, REPORT_HOUR, type DueReport, type ReportSchedule } from './schedule.js'
export { parseReportPeriod, reportPeriodOf, previousPeriod, type ReportPeriod } from './periods.js'
export { renderCsv, CSV_CONTENT_TYPE } from './render-csv.js'
export { renderXlsx, XLSX_CONTENT_TYPE } from './render-xlsx.js'
