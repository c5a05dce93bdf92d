// Telemetry (issue 16 §4): readings from cabinets, kept compactly, read by the alert rules.
export { telemetryModule, TELEMETRY_JOB_CRON, type TelemetryModule } from './module.js'
export { createTelemetryStore, type TelemetryStore, type OwnedLatest, type Reading } from './store.js'
export { createTelemetryIngest, type TelemetryIngest } from './ingest.js'
export { telemetryMaintenance, DOWNSAMPLE_LOOKBACK_HOURS, type Retention } from './maintenance.js'
export { nextLatest, agentsWithin, type LatestTelemetry, type ActiveFault } from './latest.js'
