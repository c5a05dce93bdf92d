// For tools that open an SQLite fleet database without its server (fleetctl
// db copy): folds the sales a crash left unfolded (fold.ts), with the
// certified figures the server would have written, so what they read is what
// the server would have shown.
import type { Logger } from 'pino'
import { createComplianceStore } from '../compliance/store.js'
import type { FleetDb } from '../db/database.js'
import { salesFolded, startSalesFold } from './fold.js'

export { salesFolded }

export async function foldLeftoverSales(db: FleetDb, log: Logger): Promise<void> {
  if (db.dialect !== 'sqlite') return
  const figures = await createComplianceStore(db, { log })
  try {
    const fold = startSalesFold({ db, writers: [(agg) => figures.recordFolded(agg)], log })
    await fold.close()
  } finally {
    figures.close()
  }
}

