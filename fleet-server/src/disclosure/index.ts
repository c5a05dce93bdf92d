// Public disclosure (公开披露): the cabinets held for non-compliance, published without login where the plan asks.
export { createDisclosureService, lastClosedPeriod, type DisclosureService, type DisclosureDeps } from './service.js'
export { disclosureRoutes } from './routes.js'
