export { auditModule } from './module.js'
export { buildAuditExport } from './export.js'
