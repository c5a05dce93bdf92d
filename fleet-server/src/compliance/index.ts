// Compliance: certified figures per cabinet and period, judged against the
// plan's threshold; period arithmetic shared with forwarding.
export { createComplianceService, thresholdOf, withCertifiedTotals, MAX_RANGE_DAYS, type ComplianceService, type ComplianceVerdict, type Threshold } from './service.js'
export { createComplianceStore, CERTIFIED_CHANNEL, type CabinetFigures, type ComplianceStore, type CertifiedLine, type DayFigures, type DayTotal, type FiguresFilter, type TickSales } from './store.js'
export { createCertifiedIndex, flips, mergeRanges, type CertifiedIndex, type DayRange, type Flip } from './certified-index.js'
export { complianceRoutes } from './routes.js'
export * from './periods.js'
