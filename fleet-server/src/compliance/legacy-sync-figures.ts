// TEMPORARY (issue 13, until the sales and forwarding stores move to
// FleetDb): the synchronous figure writes the sales tick still makes inside
// its better-sqlite3 transaction, and the reads forwarding makes inside its
// own. SQLite only. Delete at merge, once sales wires
// tickWriters: [(tx, agg) => complianceStore.recordTick(tx, agg)] and
// forwarding awaits ComplianceStore's async days/months/certifiedLines.
import type { CabinetRange, Db } from '../db/index.js'
import type { CertifiedIndex } from './certified-index.js'
import { tickFigures, type CertifiedLine, type DayFigures, type TickSales } from './store.js'

export interface LegacySyncFigures {
  /** ComplianceStore.recordTick, synchronously on the raw connection. */
  recordTick(agg: TickSales): void
  days(r: CabinetRange): DayFigures[]
  months(r: CabinetRange): DayFigures[]
  certifiedLines(cabinetId: string, from: string, to: string): CertifiedLine[]
}

export function createLegacySyncFigures(db: Db, index: CertifiedIndex): LegacySyncFigures {
  const upsert = (table: string, key: string) =>
    db.prepare<[string, string, number, number, number]>(
      `INSERT INTO ${table} (cabinet_id, ${key}, sales_count, amount_fen, certified_fen) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (cabinet_id, ${key}) DO UPDATE SET
         sales_count = sales_count + excluded.sales_count,
         amount_fen = amount_fen + excluded.amount_fen,
         certified_fen = certified_fen + excluded.certified_fen`,
    )
  const addDay = upsert('cabinet_day_certified', 'day')
  const addMonth = upsert('cabinet_month_certified', 'month')
  type Row = { cabinet_id: string; county_code: string; day: string; sales_count: number; amount_fen: number; certified_fen: number }
  const days = db.prepare<[string, string], Row>(
    `SELECT c.cabinet_id, cb.county_code, c.day, c.sales_count, c.amount_fen, c.certified_fen
     FROM cabinet_day_certified c JOIN cabinets cb ON cb.cabinet_id = c.cabinet_id
     WHERE c.cabinet_id > ? AND c.cabinet_id <= ? ORDER BY c.cabinet_id, c.day`,
  )
  const months = db.prepare<[string, string], Row>(
    `SELECT c.cabinet_id, cb.county_code, c.month AS day, c.sales_count, c.amount_fen, c.certified_fen
     FROM cabinet_month_certified c JOIN cabinets cb ON cb.cabinet_id = c.cabinet_id
     WHERE c.cabinet_id > ? AND c.cabinet_id <= ? ORDER BY c.cabinet_id, c.month`,
  )
  const toDay = (r: Row): DayFigures => ({ cabinetId: r.cabinet_id, countyCode: r.county_code, day: r.day, salesCount: r.sales_count, amountFen: r.amount_fen, certifiedFen: r.certified_fen })
  const lines = db.prepare<[string, string, string], { sku: string; cert: string; uscc: string; qty: number; amount: number }>(
    `SELECT x.sku, x.cert, p.supplier_uscc AS uscc, sum(x.qty) AS qty, sum(x.amount_fen) AS amount FROM (
       SELECT s.sku, s.qty, s.amount_fen,
         (SELECT v.certificate_no FROM certified_spans v WHERE v.sku = s.sku AND s.day BETWEEN v.day_from AND v.day_to
          ORDER BY v.day_from DESC, v.certificate_no LIMIT 1) AS cert
       FROM cabinet_day_sku_sales s WHERE s.cabinet_id = ? AND s.day BETWEEN ? AND ?) x
     JOIN products p ON p.sku = x.sku
     WHERE x.cert IS NOT NULL GROUP BY x.sku, x.cert ORDER BY x.sku, x.cert`,
  )
  return {
    recordTick(agg) {
      const f = tickFigures(index, agg)
      for (const d of f.days) addDay.run(d.cabinet_id, d.day, d.sales_count, d.amount_fen, d.certified_fen)
      for (const m of f.months) addMonth.run(m.cabinet_id, m.month, m.sales_count, m.amount_fen, m.certified_fen)
    },
    days: (r) => days.all(r.after, r.through).map(toDay),
    months: (r) => months.all(r.after, r.through).map(toDay),
    certifiedLines: (cabinetId, from, to) => lines.all(cabinetId, from, to).map((r) => ({ sku: r.sku, certificateNo: r.cert, supplierUscc: r.uscc, qty: r.qty, amountFen: r.amount })),
  }
}
