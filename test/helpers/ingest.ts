// A sale ingest on a given database with the fleet's real store and metrics
// and small tick limits, for tests that drive createSaleIngest directly.
import { pino } from 'pino'
import type { FleetDb } from '../../fleet-server/src/db/database.js'
import { createMetrics } from '../../fleet-server/src/metrics/index.js'
import { createSaleIngest, type SaleIngest, type SaleIngestOptions } from '../../fleet-server/src/sales/ingest.js'
import { createSalesStore } from '../../fleet-server/src/sales/store.js'

export function ingestOn(db: FleetDb, opts: Partial<SaleIngestOptions> & Pick<SaleIngestOptions, 'tickWriters' | 'publish'>): Promise<SaleIngest> {
  return createSaleIngest({
    db,
    store: createSalesStore(db),
    committed: () => {},
    now: () => new Date(),
    log: pino({ level: 'silent' }),
    metrics: createMetrics(() => null).ingest,
    maxBatchesPerTick: 100,
    maxSalesPerTick: 1000,
    maxQueuedBytes: 1 << 20,
    ...opts,
  })
}
