// Sales: ingest of cabinet sale batches (chain checks, group commit, acks) and
// the per-cabinet, per-day and per-SKU aggregates.
export { createSaleIngest, type IngestMetrics, type SaleIngest, type SaleIngestOptions, type TickWriter } from './ingest.js'
export { createSalesStore, type SalesStore, type TickResult, type TickWrite } from './store.js'
export { createSalesReader, NO_SALES, type SalesReader } from './service.js'
export type { CabinetSalesTotals, ChainHead } from './types.js'
export { SKEW_FROM_RECORDED, SKEW_FUTURE } from './types.js'
export { salesRoutes, type CabinetGuard } from './routes.js'
export { createSaleFlagService, createSaleFlagStore, type OpenSaleFlag, type SaleFlagHold, type SaleFlagService, type SaleFlagStore } from './flags.js'
export { saleFlagRoutes } from './flags-routes.js'
export { CLOCK_SKEW_LIMIT_MS, LIVE_SEND_WINDOW_MS } from './clock-skew.js'
