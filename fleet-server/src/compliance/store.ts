// SQL for certified figures, derived from the ingest aggregates and never
// from raw sales:
//   cabinet_day_certified    per cabinet and day: amount and certified amount,
//                            judged from cabinet_day_sku_sales against certified_spans;
//   cabinet_month_certified  the same rolled up per month;
//   cabinet_certified_state  the cabinet_sales totals both were refreshed at.
// A cabinet's figures are fresh while cabinet_sales (which ingest updates with
// every new sale) still shows those totals — a 2,700-row check — so a query
// recomputes only cabinets that got sales since, and only their changed days.
// A catalog change deletes the day rows of the skus and days it touches and
// marks those cabinets stale, in the change's own transaction. A month query
// for 2,700 cabinets then reads ~2,700 month rows instead of ~3 M sku rows.
import type { Db } from '../db/index.js'
import { addDays, periodOf } from './periods.js'

export interface CabinetFigures {
  readonly cabinetId: string
  readonly countyCode: string
  readonly salesCount: number
  readonly amountFen: number
  readonly certifiedFen: number
}

export interface DayFigures extends CabinetFigures {
  /** A day (YYYY-MM-DD) or, from monthFigures, a month (YYYY-MM). */
  readonly day: string
}

export interface CertifiedLine {
  readonly sku: string
  readonly certificateNo: string
  readonly supplierUscc: string
  readonly qty: number
  readonly amountFen: number
}

export interface FiguresFilter {
  readonly countyCode?: string
  readonly operator?: string
  readonly cabinetId?: string
}

export type ComplianceStore = ReturnType<typeof createSqliteComplianceStore>

const CERTIFIED_OF_DAY = `(SELECT coalesce(sum(s.amount_fen), 0) FROM cabinet_day_sku_sales s
   WHERE s.cabinet_id = d.cabinet_id AND s.day = d.day
     AND EXISTS (SELECT 1 FROM certified_spans v WHERE v.sku = s.sku AND s.day BETWEEN v.day_from AND v.day_to))`

const NONE = { from: '9999-12-31', to: '0000-01-01' } // an empty range

export function createSqliteComplianceStore(db: Db) {
  const dropDays = db.prepare<[string, string, string]>(
    `DELETE FROM cabinet_day_certified WHERE (cabinet_id, day) IN
       (SELECT cabinet_id, day FROM cabinet_day_sku_sales WHERE sku = ? AND day BETWEEN ? AND ?)`,
  )
  const markStale = db.prepare<[string, string, string]>(
    `DELETE FROM cabinet_certified_state WHERE cabinet_id IN
       (SELECT DISTINCT cabinet_id FROM cabinet_day_sku_sales WHERE sku = ? AND day BETWEEN ? AND ?)`,
  )
  const stale = db.prepare<[number], { cabinet_id: string; sales_count: number; amount_fen: number }>(
    `SELECT cs.cabinet_id, cs.sales_count, cs.amount_fen FROM cabinet_sales cs
     LEFT JOIN cabinet_certified_state st ON st.cabinet_id = cs.cabinet_id
     WHERE st.cabinet_id IS NULL OR st.sales_count != cs.sales_count OR st.amount_fen != cs.amount_fen
     LIMIT ?`,
  )
  const refreshDays = db.prepare<[string]>(
    `INSERT INTO cabinet_day_certified (cabinet_id, day, sales_count, amount_fen, certified_fen)
     SELECT d.cabinet_id, d.day, d.sales_count, d.amount_fen, ${CERTIFIED_OF_DAY}
     FROM cabinet_day_sales d LEFT JOIN cabinet_day_certified c ON c.cabinet_id = d.cabinet_id AND c.day = d.day
     WHERE d.cabinet_id = ? AND (c.cabinet_id IS NULL OR c.sales_count != d.sales_count OR c.amount_fen != d.amount_fen)
     ON CONFLICT (cabinet_id, day) DO UPDATE SET
       sales_count = excluded.sales_count, amount_fen = excluded.amount_fen, certified_fen = excluded.certified_fen`,
  )
  const staleMonths = db.prepare<[string], { month: string }>(
    `SELECT DISTINCT substr(d.day, 1, 7) AS month
     FROM cabinet_day_sales d LEFT JOIN cabinet_day_certified c ON c.cabinet_id = d.cabinet_id AND c.day = d.day
     WHERE d.cabinet_id = ? AND (c.cabinet_id IS NULL OR c.sales_count != d.sales_count OR c.amount_fen != d.amount_fen)`,
  )
  const rollUp = db.prepare<[string, string, string, string, string]>(
    `INSERT INTO cabinet_month_certified (cabinet_id, month, sales_count, amount_fen, certified_fen)
     SELECT ?, ?, sum(sales_count), sum(amount_fen), sum(certified_fen)
     FROM cabinet_day_certified WHERE cabinet_id = ? AND day BETWEEN ? AND ?
     ON CONFLICT (cabinet_id, month) DO UPDATE SET
       sales_count = excluded.sales_count, amount_fen = excluded.amount_fen, certified_fen = excluded.certified_fen`,
  )
  const setState = db.prepare<[string, number, number]>(
    `INSERT INTO cabinet_certified_state (cabinet_id, sales_count, amount_fen) VALUES (?, ?, ?)
     ON CONFLICT (cabinet_id) DO UPDATE SET sales_count = excluded.sales_count, amount_fen = excluded.amount_fen`,
  )
  const refreshStale = db.transaction((limit: number = -1): number => {
    const rows = stale.all(limit)
    for (const r of rows) {
      // Only the days that changed are recomputed, and only their months rolled up again.
      const months = staleMonths.all(r.cabinet_id)
      refreshDays.run(r.cabinet_id)
      for (const { month } of months) {
        const p = periodOf('month', `${month}-01`)
        rollUp.run(r.cabinet_id, month, r.cabinet_id, p.from, p.to)
      }
      setState.run(r.cabinet_id, r.sales_count, r.amount_fen)
    }
    return rows.length
  })

  type Params = { m1: string; m2: string; d1: string; d2: string; d3: string; d4: string; countyCode: string | null; operator: string | null; cabinetId: string | null }
  const byCabinet = db.prepare<[Params], { cabinet_id: string; county_code: string; n: number; amount: number; certified: number }>(
    `SELECT x.cabinet_id, cb.county_code, sum(x.n) AS n, sum(x.amount) AS amount, sum(x.certified) AS certified FROM (
       SELECT cabinet_id, sales_count AS n, amount_fen AS amount, certified_fen AS certified FROM cabinet_month_certified WHERE month BETWEEN @m1 AND @m2
       UNION ALL
       SELECT cabinet_id, sales_count, amount_fen, certified_fen FROM cabinet_day_certified WHERE day BETWEEN @d1 AND @d2
       UNION ALL
       SELECT cabinet_id, sales_count, amount_fen, certified_fen FROM cabinet_day_certified WHERE day BETWEEN @d3 AND @d4
     ) x JOIN cabinets cb ON cb.cabinet_id = x.cabinet_id
     WHERE (@countyCode IS NULL OR cb.county_code = @countyCode) AND (@operator IS NULL OR cb.operator = @operator)
       AND (@cabinetId IS NULL OR x.cabinet_id = @cabinetId)
     GROUP BY x.cabinet_id ORDER BY x.cabinet_id`,
  )
  const cabinetTotal = db.prepare<[string], { certified: number | null }>('SELECT sum(certified_fen) AS certified FROM cabinet_month_certified WHERE cabinet_id = ?')
  type Row = { cabinet_id: string; county_code: string; day: string; sales_count: number; amount_fen: number; certified_fen: number }
  const days = db.prepare<[], Row>(
    `SELECT c.cabinet_id, cb.county_code, c.day, c.sales_count, c.amount_fen, c.certified_fen
     FROM cabinet_day_certified c JOIN cabinets cb ON cb.cabinet_id = c.cabinet_id ORDER BY c.cabinet_id, c.day`,
  )
  const months = db.prepare<[], Row>(
    `SELECT c.cabinet_id, cb.county_code, c.month AS day, c.sales_count, c.amount_fen, c.certified_fen
     FROM cabinet_month_certified c JOIN cabinets cb ON cb.cabinet_id = c.cabinet_id ORDER BY c.cabinet_id, c.month`,
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

  /** [from, to] as whole months plus the partial months at either end. */
  function split(from: string, to: string): Omit<Params, 'countyCode' | 'operator' | 'cabinetId'> {
    const first = periodOf('month', from)
    const last = periodOf('month', to)
    if (first.id === last.id) {
      return first.from === from && last.to === to
        ? { m1: first.id, m2: first.id, d1: NONE.from, d2: NONE.to, d3: NONE.from, d4: NONE.to }
        : { m1: NONE.from, m2: NONE.to, d1: from, d2: to, d3: NONE.from, d4: NONE.to }
    }
    const headWhole = first.from === from
    const tailWhole = last.to === to
    const m1 = headWhole ? first.id : periodOf('month', addDays(first.to, 1)).id
    const m2 = tailWhole ? last.id : periodOf('month', addDays(last.from, -1)).id
    return {
      m1,
      m2,
      d1: headWhole ? NONE.from : from,
      d2: headWhole ? NONE.to : first.to,
      d3: tailWhole ? NONE.from : last.from,
      d4: tailWhole ? NONE.to : to,
    }
  }

  return {
    /** Drops figures a change of a sku's certification over [from, to] affects. Run inside the change's transaction. */
    invalidate(ranges: ReadonlyArray<{ sku: string; from: string; to: string }>): void {
      for (const r of ranges) {
        markStale.run(r.sku, r.from, r.to)
        dropDays.run(r.sku, r.from, r.to)
      }
    },
    /** Recomputes the figures of (at most `limit`) cabinets with sales or catalog changes since; returns how many. */
    refresh: (limit?: number): number => refreshStale(limit),
    figuresByCabinet(from: string, to: string, f: FiguresFilter): CabinetFigures[] {
      refreshStale()
      return byCabinet
        .all({ ...split(from, to), countyCode: f.countyCode ?? null, operator: f.operator ?? null, cabinetId: f.cabinetId ?? null })
        .map((r) => ({ cabinetId: r.cabinet_id, countyCode: r.county_code, salesCount: r.n, amountFen: r.amount, certifiedFen: r.certified }))
    },
    /** All-time certified amount of each cabinet. */
    certifiedTotals(cabinetIds: readonly string[]): Map<string, number> {
      refreshStale()
      const m = new Map<string, number>()
      for (const id of cabinetIds) m.set(id, cabinetTotal.get(id)?.certified ?? 0)
      return m
    },
    /** Every cabinet-day, fresh. */
    allDays(): DayFigures[] {
      refreshStale()
      return days.all().map(toDay)
    },
    /** Every cabinet-month, fresh; `day` holds the month id (YYYY-MM). */
    allMonths(): DayFigures[] {
      refreshStale()
      return months.all().map(toDay)
    },
    certifiedLines(cabinetId: string, from: string, to: string): CertifiedLine[] {
      return lines.all(cabinetId, from, to).map((r) => ({ sku: r.sku, certificateNo: r.cert, supplierUscc: r.uscc, qty: r.qty, amountFen: r.amount }))
    },
  }
}
