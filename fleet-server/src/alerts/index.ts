// Alerts: offline too long, behind schedule, compliance below threshold,
// certificate expiring — stored, listed by scope, acknowledged.
export { alertVisibleTo, createAlertService, type AlertListener, type AlertService } from './service.js'
export { createAlertStore, type AlertStore, type AlertCondition, type AlertTransition } from './store.js'
export {
  behindScheduleSource,
  certExpiringSource,
  complianceLowSource,
  offlineSource,
  CERT_EXPIRY_WARNING_DAYS,
  OFFLINE_AFTER_MS,
  type AlertSource,
  type WatchedCabinet,
} from './sources.js'
export { alertRoutes } from './routes.js'
export { forwardingSource, FORWARDING_FAILING_ATTEMPTS, type TroubledBatch } from './forwarding-source.js'
