export { createTelemetry, type Telemetry, type TelemetryDeps } from './telemetry.js'
