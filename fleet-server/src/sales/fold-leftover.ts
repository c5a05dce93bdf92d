// For tools that open an SQLite fleet database without its server (fleetctl
// db copy): folds the sales a crash left unfolded (fold.ts), with the
// certified figures the server would have written, so what they read is what
// the server would have shown.
import type { Logger } from 'pino'
import { createComplianceStore } from '../compliance/store.js'
import type { FleetDb } from '../db/database.js'
import type { SqliteDatabase } from '../db/sqlite.js'
import { startSalesFold, WATERMARK } from './fold.js'

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

/** Whether every stored sale is folded, as `conn` sees the database (in its transaction's snapshot, if in one). */
export function salesFolded(conn: SqliteDatabase): boolean {
  const w = conn.prepare<[], { value: string }>(`SELECT value FROM meta WHERE key = '${WATERMARK}'`).get()
  const top = conn.prepare<[], { m: number | null }>('SELECT max(rowid) AS m FROM sales').get()?.m ?? 0
  return w !== undefined && Number(w.value) >= top
}
