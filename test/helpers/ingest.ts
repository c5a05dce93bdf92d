// A sale ingest on a given database with the fleet's real store and metrics
// and small tick limits, for tests that drive createSaleIngest directly. On
// SQLite it comes with the sales fold (no fold writers: no compliance here),
// closed with it.
import { pino } from 'pino'
import type { FleetDb } from '../../fleet-server/src/db/database.js'
import { createMetrics } from '../../fleet-server/src/metrics/index.js'
import { startSalesFold } from '../../fleet-server/src/sales/fold.js'
import { createSaleIngest, type SaleIngest, type SaleIngestOptions } from '../../fleet-server/src/sales/ingest.js'
import { createSalesStore } from '../../fleet-server/src/sales/store.js'

export async function ingestOn(db: FleetDb, opts: Partial<SaleIngestOptions> & Pick<SaleIngestOptions, 'tickWriters' | 'publish'>): Promise<SaleIngest> {
  const log = pino({ level: 'silent' })
  const fold = db.dialect === 'sqlite' ? startSalesFold({ db, writers: [], log }) : undefined
  const ingest = await createSaleIngest({
    db,
    store: createSalesStore(db),
    committed: () => {},
    now: () => new Date(),
    log,
    metrics: createMetrics(() => null).ingest,
    maxBatchesPerTick: 100,
    maxSalesPerTick: 1000,
    maxQueuedBytes: 1 << 20,
    ...(fold && { fold }),
    ...opts,
  })
  return {
    ...ingest,
    async close() {
      await ingest.close()
      await fold?.close()
    },
  }
}
