// SQL for certified figures, kept at write time so no query ever computes them:
//   cabinet_day_certified    per cabinet and day: sales count, amount, certified amount;
//   cabinet_month_certified  the same per month (YYYY-MM).
// Ingest adds each tick's sales to both inside the tick's own transaction
// (recordTick), judging every sku line with the in-memory certified index, so
// the figures are never behind committed sales. A catalog change applies only
// its delta inside its own transaction (applyCatalogChange): for each day whose
// certified status flipped for a sku, ± that sku's amount on that day, from
// cabinet_day_sku_sales (indexed by sku, day). A month query for 2,700 cabinets
// reads ~2,700 month rows. Migration 5 rebuilt both tables once from the
// aggregates for databases written before this rule.
import type { CabinetRange, Db } from '../db/index.js'
import { createCertifiedIndex, flips, type CertifiedIndex } from './certified-index.js'
import { addDays, daysBetween, periodOf } from './periods.js'

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

/** What one ingest tick added (the sales domain's per-tick aggregates, as far as figures need them). */
export interface TickSales {
  readonly days: ReadonlyMap<string, { readonly cabinetId: string; readonly day: string; readonly count: number; readonly amountFen: number }>
  readonly skus: ReadonlyMap<string, { readonly cabinetId: string; readonly day: string; readonly sku: string; readonly amountFen: number }>
}

export type ComplianceStore = ReturnType<typeof createSqliteComplianceStore>

const NONE = { from: '9999-12-31', to: '0000-01-01' } // an empty range

export function createSqliteComplianceStore(db: Db) {
  const index: CertifiedIndex = createCertifiedIndex(db)
  const addDay = db.prepare<[string, string, number, number, number]>(
    `INSERT INTO cabinet_day_certified (cabinet_id, day, sales_count, amount_fen, certified_fen) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (cabinet_id, day) DO UPDATE SET
       sales_count = sales_count + excluded.sales_count,
       amount_fen = amount_fen + excluded.amount_fen,
       certified_fen = certified_fen + excluded.certified_fen`,
  )
  const addMonth = db.prepare<[string, string, number, number, number]>(
    `INSERT INTO cabinet_month_certified (cabinet_id, month, sales_count, amount_fen, certified_fen) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (cabinet_id, month) DO UPDATE SET
       sales_count = sales_count + excluded.sales_count,
       amount_fen = amount_fen + excluded.amount_fen,
       certified_fen = certified_fen + excluded.certified_fen`,
  )
  // A flip of one sku over [from, to]: ± its amount on those days. Every
  // cabinet_day_sku_sales row has its day row (ingest writes both in one
  // transaction; migration 5 built the rows of older data), and (cabinet, day,
  // sku) is unique, so each day row gets at most one term.
  const flipDays = db.prepare<[number, string, string, string]>(
    `UPDATE cabinet_day_certified AS c SET certified_fen = c.certified_fen + ? * s.amount_fen
     FROM cabinet_day_sku_sales AS s
     WHERE s.sku = ? AND s.day BETWEEN ? AND ? AND c.cabinet_id = s.cabinet_id AND c.day = s.day`,
  )
  const flipMonths = db.prepare<[number, string, string, string]>(
    `UPDATE cabinet_month_certified AS m SET certified_fen = m.certified_fen + ? * x.amount_fen
     FROM (SELECT cabinet_id, substr(day, 1, 7) AS month, sum(amount_fen) AS amount_fen
           FROM cabinet_day_sku_sales WHERE sku = ? AND day BETWEEN ? AND ? GROUP BY cabinet_id, month) AS x
     WHERE m.cabinet_id = x.cabinet_id AND m.month = x.month`,
  )

  type Params = { m1: string; m2: string; d1: string; d2: string; d3: string; d4: string; operator: string | null; cabinetId: string | null }
  const byCabinet = db.prepare<[Params], { cabinet_id: string; county_code: string; n: number; amount: number; certified: number }>(
    `SELECT x.cabinet_id, cb.county_code, sum(x.n) AS n, sum(x.amount) AS amount, sum(x.certified) AS certified FROM (
       SELECT cabinet_id, sales_count AS n, amount_fen AS amount, certified_fen AS certified FROM cabinet_month_certified WHERE month BETWEEN @m1 AND @m2
       UNION ALL
       SELECT cabinet_id, sales_count, amount_fen, certified_fen FROM cabinet_day_certified WHERE day BETWEEN @d1 AND @d2
       UNION ALL
       SELECT cabinet_id, sales_count, amount_fen, certified_fen FROM cabinet_day_certified WHERE day BETWEEN @d3 AND @d4
     ) x JOIN cabinets cb ON cb.cabinet_id = x.cabinet_id
     WHERE (@operator IS NULL OR cb.operator = @operator) AND (@cabinetId IS NULL OR x.cabinet_id = @cabinetId)
     GROUP BY x.cabinet_id ORDER BY x.cabinet_id`,
  )
  // One county's cabinets drive the scan (cabinets_by_county, then each
  // cabinet's own rows by primary key) instead of every cabinet-day of the
  // city being read and filtered: a county official's everyday query, and
  // the compliance alert rule's per-county turns, at 20,000 cabinets.
  // CROSS JOIN fixes that join order.
  const inCounty = (table: string, col: string, lo: string, hi: string) =>
    `SELECT c.cabinet_id, c.sales_count AS n, c.amount_fen AS amount, c.certified_fen AS certified
     FROM cabinets k CROSS JOIN ${table} c ON c.cabinet_id = k.cabinet_id AND c.${col} BETWEEN @${lo} AND @${hi}
     WHERE k.county_code = @countyCode`
  const byCabinetInCounty = db.prepare<[Params & { countyCode: string }], { cabinet_id: string; county_code: string; n: number; amount: number; certified: number }>(
    `SELECT x.cabinet_id, cb.county_code, sum(x.n) AS n, sum(x.amount) AS amount, sum(x.certified) AS certified FROM (
       ${inCounty('cabinet_month_certified', 'month', 'm1', 'm2')}
       UNION ALL
       ${inCounty('cabinet_day_certified', 'day', 'd1', 'd2')}
       UNION ALL
       ${inCounty('cabinet_day_certified', 'day', 'd3', 'd4')}
     ) x JOIN cabinets cb ON cb.cabinet_id = x.cabinet_id
     WHERE (@operator IS NULL OR cb.operator = @operator) AND (@cabinetId IS NULL OR x.cabinet_id = @cabinetId)
     GROUP BY x.cabinet_id ORDER BY x.cabinet_id`,
  )
  const cabinetTotal = db.prepare<[string], { certified: number | null }>('SELECT sum(certified_fen) AS certified FROM cabinet_month_certified WHERE cabinet_id = ?')
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

  /** [from, to] as whole months plus the partial months at either end. */
  function split(from: string, to: string): Omit<Params, 'operator' | 'cabinetId'> {
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
    /** The certified days of each sku, as ingest judges them. */
    index,
    /**
     * Adds one ingest tick's sales to the day and month figures. Runs inside the
     * tick's transaction (the sales store calls it after its own aggregates).
     */
    recordTick(agg: TickSales): void {
      const certified = new Map<string, number>()
      for (const k of agg.skus.values()) {
        if (!index.isCertified(k.sku, k.day)) continue
        const dayKey = `${k.cabinetId}\u0000${k.day}`
        certified.set(dayKey, (certified.get(dayKey) ?? 0) + k.amountFen)
      }
      const months = new Map<string, { cabinetId: string; month: string; count: number; amountFen: number; certifiedFen: number }>()
      for (const d of agg.days.values()) {
        const c = certified.get(`${d.cabinetId}\u0000${d.day}`) ?? 0
        addDay.run(d.cabinetId, d.day, d.count, d.amountFen, c)
        const month = d.day.slice(0, 7)
        const mKey = `${d.cabinetId}\u0000${month}`
        const m = months.get(mKey)
        if (m) {
          m.count += d.count
          m.amountFen += d.amountFen
          m.certifiedFen += c
        } else {
          months.set(mKey, { cabinetId: d.cabinetId, month, count: d.count, amountFen: d.amountFen, certifiedFen: c })
        }
      }
      for (const m of months.values()) addMonth.run(m.cabinetId, m.month, m.count, m.amountFen, m.certifiedFen)
    },
    /**
     * Applies a catalog change to the figures: for every sku touched, the days
     * whose certified status flipped get ± that sku's amount. Exact however
     * certificates overlap, since it compares the merged coverage before and
     * after. Run inside the change's transaction, after the change is written;
     * if that transaction rolls back, call catalogRolledBack().
     */
    applyCatalogChange(skus: Iterable<string>): { flippedDays: number } {
      let flippedDays = 0
      for (const sku of new Set(skus)) {
        const { before, after } = index.reload(sku)
        for (const f of flips(before, after)) {
          flipDays.run(f.sign, sku, f.from, f.to)
          flipMonths.run(f.sign, sku, f.from, f.to)
          flippedDays += daysBetween(f.from, f.to) + 1
        }
      }
      return { flippedDays }
    },
    /** The catalog transaction rolled back: the index may hold uncommitted spans. */
    catalogRolledBack: (): void => index.reloadAll(),
    figuresByCabinet(from: string, to: string, f: FiguresFilter): CabinetFigures[] {
      const params = { ...split(from, to), operator: f.operator ?? null, cabinetId: f.cabinetId ?? null }
      const rows = f.countyCode ? byCabinetInCounty.all({ ...params, countyCode: f.countyCode }) : byCabinet.all(params)
      return rows.map((r) => ({ cabinetId: r.cabinet_id, countyCode: r.county_code, salesCount: r.n, amountFen: r.amount, certifiedFen: r.certified }))
    },
    /** All-time certified amount of each cabinet. */
    certifiedTotals(cabinetIds: readonly string[]): Map<string, number> {
      const m = new Map<string, number>()
      for (const id of cabinetIds) m.set(id, cabinetTotal.get(id)?.certified ?? 0)
      return m
    },
    /** Every cabinet-day of the cabinets in `r`. */
    days(r: CabinetRange): DayFigures[] {
      return days.all(r.after, r.through).map(toDay)
    },
    /** Every cabinet-month of the cabinets in `r`; `day` holds the month id (YYYY-MM). */
    months(r: CabinetRange): DayFigures[] {
      return months.all(r.after, r.through).map(toDay)
    },
    certifiedLines(cabinetId: string, from: string, to: string): CertifiedLine[] {
      return lines.all(cabinetId, from, to).map((r) => ({ sku: r.sku, certificateNo: r.cert, supplierUscc: r.uscc, qty: r.qty, amountFen: r.amount }))
    },
  }
}

