// Certified figures, kept at write time so no query ever computes them:
//   cabinet_day_certified    per cabinet and day: sales count, amount, certified amount;
//   cabinet_month_certified  the same per month (YYYY-MM).
// Ingest adds each tick's sales to both inside the tick's own transaction
// (recordTick, given that transaction), judging every sku line with the
// in-memory certified index on SQLite (one process, transactions serialized)
// and with the committed catalog read under a lock on PostgreSQL (several
// servers, transactions concurrent), so the figures are never behind
// committed sales.
// A catalog change applies only its delta inside its own transaction
// (applyCatalogChange, given that transaction): for each day whose certified
// status flipped for a sku, ± that sku's amount on that day, from the sales
// domain's per-sku aggregates (indexed by sku, day). A month query for 2,700
// cabinets reads ~2,700 month rows. Migration 5 rebuilt both tables once from
// the aggregates for databases written before this rule.
// One implementation for SQLite and PostgreSQL (issue 13); other domains'
// tables are read only through their owners' named queries.
import { sql, type RawBuilder } from 'kysely'
import type { Logger } from 'pino'
import { cabinetsMatching, countiesInRange, type CabinetFilter } from '../cabinets/compliance-reads.js'
import { certifiedSpans, lockProducts, suppliersOfProducts } from '../certification/reads.js'
import type { Executor, FleetDb } from '../db/database.js'
import type { CabinetRange } from '../db/index.js'
import type { SqliteDatabase } from '../db/sqlite.js'
import { cabinetSkuSales, skuDayAmounts, skuMonthAmounts } from '../sales/compliance-reads.js'
import { MAX_SKU_SALES_BREAKS, rangeSkuSales, type CabinetSkuDaySales } from '../sales/forwarding-reads.js'
import { covers, createCertifiedIndex, flips, mergeRanges, type CertifiedIndex, type DayRange } from './certified-index.js'
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

export interface DayTotal {
  readonly day: string
  readonly salesCount: number
  readonly amountFen: number
  readonly certifiedFen: number
}

export interface CertifiedLine {
  readonly sku: string
  readonly certificateNo: string
  readonly supplierUscc: string
  readonly qty: number
  readonly amountFen: number
}

export type FiguresFilter = CabinetFilter

/** What one ingest tick added (the sales domain's per-tick aggregates, as far as figures need them). */
export interface TickSales {
  readonly days: ReadonlyMap<string, { readonly cabinetId: string; readonly day: string; readonly count: number; readonly amountFen: number }>
  readonly skus: ReadonlyMap<string, { readonly cabinetId: string; readonly day: string; readonly sku: string; readonly amountFen: number }>
}

export interface ComplianceStore {
  /** The certified days of each sku, as committed (SQLite ingest judges with it; kept in every process). */
  readonly index: CertifiedIndex
  /** Adds one ingest tick's sales to the day and month figures, in the tick's transaction `ex`. */
  recordTick(ex: Executor, agg: TickSales): Promise<void>
  /** SQLite: the same for folded sales (sales/fold.ts), synchronously in the fold's transaction on the one connection. */
  recordFolded(agg: TickSales): void
  /**
   * Applies a catalog change to the figures, in the change's transaction `tx`
   * after the change is written: for every sku touched, the days whose
   * certified status flipped get ± that sku's amount. Exact however
   * certificates overlap, since it compares the merged coverage before and
   * after. The index takes the new coverage when `tx` commits (not at all if
   * it rolls back), in every process on the database.
   */
  applyCatalogChange(tx: Executor, skus: Iterable<string>): Promise<{ flippedDays: number }>
  figuresByCabinet(from: string, to: string, f: FiguresFilter): Promise<CabinetFigures[]>
  /**
   * Sales per day over [from, to] of the cabinets matching `f`, summed over
   * them; days without sales left out (the overview's daily trend, issue 15).
   */
  dayTotals(from: string, to: string, f: FiguresFilter): Promise<DayTotal[]>
  /** All-time certified amount of each cabinet. */
  certifiedTotals(cabinetIds: readonly string[]): Promise<Map<string, number>>
  /** Every cabinet-day of the cabinets in `r`. */
  days(r: CabinetRange): Promise<DayFigures[]>
  /** Every cabinet-month of the cabinets in `r`; `day` holds the month id (YYYY-MM). */
  months(r: CabinetRange): Promise<DayFigures[]>
  certifiedLines(cabinetId: string, from: string, to: string): Promise<CertifiedLine[]>
  /**
   * certifiedLines of many cabinet-periods of the cabinets in `range`, in the
   * order asked, from one read of their sales (a forwarding pass slice's
   * reports: one read per report was most of a month-end pass).
   */
  certifiedLinesIn(range: CabinetRange, periods: ReadonlyArray<{ readonly cabinetId: string; readonly from: string; readonly to: string }>): Promise<CertifiedLine[][]>
  /** Stops following catalog changes. */
  close(): void
}

/** Channel of the notice a committed catalog change sends: JSON sku → merged ranges, or '' for "reload everything". */
export const CERTIFIED_CHANNEL = 'certified'
/** PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more; past this, the notice says "reload everything". */
const MAX_NOTICE_BYTES = 7_000
/** Advisory lock (any fixed bigint) on PostgreSQL: held by a catalog change from its flips to its commit (exclusive) and by an ingest tick while it judges (shared). */
const CATALOG_FLIP_LOCK = 0x63_65_72_74 // "cert"
/** Rows per multi-row upsert: 5 parameters each, well under both engines' limits. */
const UPSERT_CHUNK = 1_000

const NONE = { from: '9999-12-31', to: '0000-01-01' } // an empty range

/** One figures row added to (SQLite's prepared form of recordTick's upsert). */
const UPSERT_SQL = (table: string, key: string) =>
  `INSERT INTO ${table} (cabinet_id, ${key}, sales_count, amount_fen, certified_fen) VALUES (?, ?, ?, ?, ?)
   ON CONFLICT (cabinet_id, ${key}) DO UPDATE SET
     sales_count = sales_count + excluded.sales_count,
     amount_fen = amount_fen + excluded.amount_fen,
     certified_fen = certified_fen + excluded.certified_fen`

interface Split {
  m1: string
  m2: string
  d1: string
  d2: string
  d3: string
  d4: string
}

/** [from, to] as whole months plus the partial months at either end. */
function split(from: string, to: string): Split {
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

const bin = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

export interface FigureRow {
  cabinet_id: string
  sales_count: number
  amount_fen: number
  certified_fen: number
}

/** One tick's additions to the day and month figures, each sku line judged with `index`. */
export function tickFigures(index: Pick<CertifiedIndex, 'isCertified'>, agg: TickSales): { days: Array<FigureRow & { day: string }>; months: Array<FigureRow & { month: string }> } {
  const certified = new Map<string, number>()
  for (const k of agg.skus.values()) {
    if (!index.isCertified(k.sku, k.day)) continue
    const dayKey = `${k.cabinetId}\u0000${k.day}`
    certified.set(dayKey, (certified.get(dayKey) ?? 0) + k.amountFen)
  }
  const days: Array<FigureRow & { day: string }> = []
  const months = new Map<string, FigureRow & { month: string }>()
  for (const d of agg.days.values()) {
    const c = certified.get(`${d.cabinetId}\u0000${d.day}`) ?? 0
    days.push({ cabinet_id: d.cabinetId, day: d.day, sales_count: d.count, amount_fen: d.amountFen, certified_fen: c })
    const month = d.day.slice(0, 7)
    const mKey = `${d.cabinetId}\u0000${month}`
    const m = months.get(mKey)
    if (m) {
      m.sales_count += d.count
      m.amount_fen += d.amountFen
      m.certified_fen += c
    } else {
      months.set(mKey, { cabinet_id: d.cabinetId, month, sales_count: d.count, amount_fen: d.amountFen, certified_fen: c })
    }
  }
  return { days, months: [...months.values()] }
}

/** Opens the figures over `db` and loads the certified index from the committed catalog. */
export async function createComplianceStore(db: FleetDb, opts: { log?: Logger } = {}): Promise<ComplianceStore> {
  const { kysely } = db
  const index = createCertifiedIndex()
  await index.reloadAll(kysely)

  // A committed catalog change (here or in another process on the same
  // database) hands the index the new coverage of its skus; '' after a
  // missed notice (PostgreSQL reconnect) or an oversized one: re-read all.
  const unlisten = db.listen(CERTIFIED_CHANNEL, (payload) => {
    if (payload !== '') {
      try {
        const parsed = JSON.parse(payload) as Record<string, DayRange[]>
        index.set(new Map(Object.entries(parsed)))
        return
      } catch (err) {
        opts.log?.warn({ err }, 'unreadable certified-index notice; reloading the index')
      }
    }
    index.reloadAll(kysely).catch((err: unknown) => opts.log?.error({ err }, 'certified index reload failed'))
  })

  const rawUpsert = db.sqlite && {
    day: db.sqlite.prepare<[string, string, number, number, number]>(UPSERT_SQL('cabinet_day_certified', 'day')),
    month: db.sqlite.prepare<[string, string, number, number, number]>(UPSERT_SQL('cabinet_month_certified', 'month')),
  }
  /** SQLite: a tick's or a fold's figures, judged with the in-memory index, on the one connection. */
  const recordNow = (agg: TickSales): void => {
    if (!rawUpsert) throw new Error('recordFolded() is SQLite only')
    const { days, months } = tickFigures(index, agg)
    for (const d of days) rawUpsert.day.run(d.cabinet_id, d.day, d.sales_count, d.amount_fen, d.certified_fen)
    for (const m of months) rawUpsert.month.run(m.cabinet_id, m.month, m.sales_count, m.amount_fen, m.certified_fen)
  }

  type FigRow = { cabinet_id: string; county_code: string; n: number; amount: number; certified: number }
  /** FigRow's columns in order, as SQLite's raw mode returns them. */
  type FigTuple = [cabinetId: string, countyCode: string, n: number, amount: number, certified: number]
  // One prepared statement per SQL text: the filters present (county,
  // operator, cabinet) make a handful of shapes, the values are parameters.
  type Statement = ReturnType<SqliteDatabase['prepare']>
  const figuresStatements = new Map<string, Statement>()
  const figuresStatement = (conn: SqliteDatabase, text: string): Statement => {
    let st = figuresStatements.get(text)
    if (!st) {
      st = conn.prepare(text).raw(true)
      figuresStatements.set(text, st)
    }
    return st
  }
  const sums = sql`CAST(sum(x.n) AS BIGINT) AS n, CAST(sum(x.amount) AS BIGINT) AS amount, CAST(sum(x.certified) AS BIGINT) AS certified`

  async function upsert(ex: Executor, table: 'cabinet_day_certified' | 'cabinet_month_certified', rows: readonly FigureRow[]): Promise<void> {
    const key = table === 'cabinet_day_certified' ? 'day' : 'month'
    for (let i = 0; i < rows.length; i += UPSERT_CHUNK) {
      const chunk = rows.slice(i, i + UPSERT_CHUNK)
      await ex
        .insertInto(table)
        .values(chunk as never)
        .onConflict((oc) =>
          oc.columns(['cabinet_id', key] as never).doUpdateSet({
            sales_count: sql`${sql.ref(`${table}.sales_count`)} + excluded.sales_count`,
            amount_fen: sql`${sql.ref(`${table}.amount_fen`)} + excluded.amount_fen`,
            certified_fen: sql`${sql.ref(`${table}.certified_fen`)} + excluded.certified_fen`,
          }),
        )
        .execute()
    }
  }

  /**
   * PostgreSQL: the coverage of the tick's skus as committed, read under the
   * catalog lock (shared: ticks run side by side). A catalog change holds it
   * exclusively from its flips to its commit, so a tick is judged either
   * wholly before a change (and the change's flips, reading the sku sales
   * after it, include it) or wholly after it; never with an index that has
   * not yet heard of a commit (the notice comes a moment later).
   */
  async function committedCoverage(ex: Executor, agg: TickSales): Promise<Pick<CertifiedIndex, 'isCertified'>> {
    const skus = new Set<string>()
    for (const k of agg.skus.values()) skus.add(k.sku)
    await sql`SELECT pg_advisory_xact_lock_shared(${CATALOG_FLIP_LOCK})`.execute(ex)
    const raw = new Map<string, DayRange[]>()
    for (const r of await certifiedSpans(ex, [...skus])) {
      let list = raw.get(r.sku)
      if (!list) raw.set(r.sku, (list = []))
      list.push([r.dayFrom, r.dayTo])
    }
    const merged = new Map([...raw].map(([sku, list]) => [sku, mergeRanges(list)]))
    return { isCertified: (sku, day) => covers(merged.get(sku) ?? [], day) }
  }

  async function periodRows(table: 'cabinet_day_certified' | 'cabinet_month_certified', r: CabinetRange): Promise<DayFigures[]> {
    const col = table === 'cabinet_day_certified' ? 'day' : 'month'
    const [rows, counties] = await Promise.all([
      sql<{ cabinet_id: string; day: string; sales_count: number; amount_fen: number; certified_fen: number }>`
        SELECT cabinet_id, ${sql.ref(col)} AS day, sales_count, amount_fen, certified_fen FROM ${sql.table(table)}
        WHERE cabinet_id > ${r.after} AND cabinet_id <= ${r.through} ORDER BY cabinet_id, ${sql.ref(col)}`.execute(kysely),
      countiesInRange(kysely, r),
    ])
    const out: DayFigures[] = []
    for (const x of rows.rows) {
      const countyCode = counties.get(x.cabinet_id)
      // Figures of a cabinet row that no longer exists are not reported (as the join did).
      if (countyCode === undefined) continue
      out.push({ cabinetId: x.cabinet_id, countyCode, day: x.day, salesCount: x.sales_count, amountFen: x.amount_fen, certifiedFen: x.certified_fen })
    }
    return out
  }

  return {
    index,

    async recordTick(ex, agg) {
      // SQLite, inside a transaction's callback: `ex` holds the one connection,
      // so the prepared statements run in it, as the fold's do.
      if (rawUpsert && ex.isTransaction) return recordNow(agg)
      const { days, months } = tickFigures(db.dialect === 'postgres' ? await committedCoverage(ex, agg) : index, agg)
      // One multi-row upsert per table (keys are unique within each, as PostgreSQL requires).
      if (days.length > 0) await upsert(ex, 'cabinet_day_certified', days)
      if (months.length > 0) await upsert(ex, 'cabinet_month_certified', months)
    },

    recordFolded(agg) {
      recordNow(agg)
    },

    async applyCatalogChange(tx, skus) {
      const unique = [...new Set(skus)]
      if (unique.length === 0) return { flippedDays: 0 }
      // SQLite: transactions are serialized on the one connection and the
      // index takes each commit's coverage synchronously at its commit, so it
      // is the coverage committed before this change.
      let before = (sku: string): readonly DayRange[] => index.ranges(sku)
      if (db.dialect === 'postgres') {
        // Changes run concurrently here. Changes of one sku wait for each
        // other (product rows locked), then each reads the coverage committed
        // before it outside `tx` (`tx` sees its own change), so no flip is
        // applied twice or missed; only then the flip lock, which stops ticks
        // (shared) from the flips to the commit: held for no longer.
        await lockProducts(tx, unique)
        const committedBefore = new Map<string, readonly DayRange[]>()
        for (const sku of unique) committedBefore.set(sku, await index.read(kysely, sku))
        before = (sku) => committedBefore.get(sku) ?? []
        await sql`SELECT pg_advisory_xact_lock(${CATALOG_FLIP_LOCK})`.execute(tx)
      }
      let flippedDays = 0
      const committed = new Map<string, readonly DayRange[]>()
      for (const sku of unique) {
        const after = await index.read(tx, sku)
        committed.set(sku, after)
        for (const f of flips(before(sku), after)) {
          await sql`UPDATE cabinet_day_certified AS c SET certified_fen = c.certified_fen + ${f.sign} * s.amount_fen
            FROM (${skuDayAmounts(tx, sku, f.from, f.to)}) AS s
            WHERE c.cabinet_id = s.cabinet_id AND c.day = s.day`.execute(tx)
          await sql`UPDATE cabinet_month_certified AS m SET certified_fen = m.certified_fen + ${f.sign} * x.amount_fen
            FROM (${skuMonthAmounts(tx, sku, f.from, f.to)}) AS x
            WHERE m.cabinet_id = x.cabinet_id AND m.month = x.month`.execute(tx)
          flippedDays += daysBetween(f.from, f.to) + 1
        }
      }
      const payload = JSON.stringify(Object.fromEntries(committed))
      // SQLite's notice is in-process and unbounded: always the exact ranges
      // (a reload there would run after the next change read the index).
      await db.notify(CERTIFIED_CHANNEL, db.dialect === 'postgres' && Buffer.byteLength(payload) > MAX_NOTICE_BYTES ? '' : payload, tx)
      return { flippedDays }
    },

    async figuresByCabinet(from, to, f) {
      const p = split(from, to)
      const cab = cabinetsMatching(kysely, f)
      let query: RawBuilder<FigRow>
      if (f.countyCode === undefined) {
        query = sql<FigRow>`SELECT x.cabinet_id, k.county_code, ${sums} FROM (
            SELECT cabinet_id, sales_count AS n, amount_fen AS amount, certified_fen AS certified FROM cabinet_month_certified WHERE month BETWEEN ${p.m1} AND ${p.m2}
            UNION ALL
            SELECT cabinet_id, sales_count, amount_fen, certified_fen FROM cabinet_day_certified WHERE day BETWEEN ${p.d1} AND ${p.d2}
            UNION ALL
            SELECT cabinet_id, sales_count, amount_fen, certified_fen FROM cabinet_day_certified WHERE day BETWEEN ${p.d3} AND ${p.d4}
          ) x JOIN (${cab}) k ON k.cabinet_id = x.cabinet_id
          GROUP BY x.cabinet_id, k.county_code ORDER BY x.cabinet_id, k.county_code`
      } else {
        // One county's cabinets drive the scan (cabinets_by_county, then each
        // cabinet's own rows by primary key) instead of every cabinet-day of
        // the city being read and filtered: a county official's everyday
        // query, and the compliance alert rule's per-county turns, at 20,000
        // cabinets. SQLite's CROSS JOIN fixes that join order; PostgreSQL's
        // planner chooses it by itself (and has no CROSS JOIN … ON).
        const join = sql.raw(db.dialect === 'sqlite' ? 'CROSS JOIN' : 'JOIN')
        const inCounty = (table: 'cabinet_month_certified' | 'cabinet_day_certified', lo: string, hi: string) =>
          sql`SELECT c.cabinet_id, k.county_code, c.sales_count AS n, c.amount_fen AS amount, c.certified_fen AS certified
            FROM (${cab}) k ${join} ${sql.table(table)} c ON c.cabinet_id = k.cabinet_id AND ${sql.ref(`c.${table === 'cabinet_month_certified' ? 'month' : 'day'}`)} BETWEEN ${lo} AND ${hi}`
        query = sql<FigRow>`SELECT x.cabinet_id, x.county_code, ${sums} FROM (
            ${inCounty('cabinet_month_certified', p.m1, p.m2)}
            UNION ALL
            ${inCounty('cabinet_day_certified', p.d1, p.d2)}
            UNION ALL
            ${inCounty('cabinet_day_certified', p.d3, p.d4)}
          ) x GROUP BY x.cabinet_id, x.county_code ORDER BY x.cabinet_id, x.county_code`
      }
      if (db.sqlite) {
        // SQLite: the statement prepared once per query shape, its rows read
        // as arrays straight into the figures (the whole-city query is 2,700
        // rows on every dashboard load: no row objects to build and drop).
        const compiled = query.compile(kysely)
        const raw = await db.exclusive((conn) => figuresStatement(conn, compiled.sql).all(compiled.parameters) as FigTuple[])
        const out: CabinetFigures[] = new Array(raw.length)
        for (let i = 0; i < raw.length; i++) {
          const r = raw[i]!
          out[i] = { cabinetId: r[0], countyCode: r[1], salesCount: r[2], amountFen: r[3], certifiedFen: r[4] }
        }
        return out
      }
      const rows = (await query.execute(kysely)).rows
      return rows.map((r) => ({ cabinetId: r.cabinet_id, countyCode: r.county_code, salesCount: r.n, amountFen: r.amount, certifiedFen: r.certified }))
    },

    async dayTotals(from, to, f) {
      const filtered = f.countyCode !== undefined || f.operator !== undefined || f.cabinetId !== undefined
      // City-wide: the day index alone (every figures row is a cabinet's).
      // Filtered: the matching cabinets drive the scan, as in figuresByCabinet.
      const query = filtered
        ? sql<{ day: string; n: number; amount: number; certified: number }>`SELECT c.day, CAST(sum(c.sales_count) AS BIGINT) AS n,
            CAST(sum(c.amount_fen) AS BIGINT) AS amount, CAST(sum(c.certified_fen) AS BIGINT) AS certified
            FROM (${cabinetsMatching(kysely, f)}) k ${sql.raw(db.dialect === 'sqlite' ? 'CROSS JOIN' : 'JOIN')} cabinet_day_certified c
              ON c.cabinet_id = k.cabinet_id AND c.day BETWEEN ${from} AND ${to}
            GROUP BY c.day ORDER BY c.day`
        : sql<{ day: string; n: number; amount: number; certified: number }>`SELECT day, CAST(sum(sales_count) AS BIGINT) AS n,
            CAST(sum(amount_fen) AS BIGINT) AS amount, CAST(sum(certified_fen) AS BIGINT) AS certified
            FROM cabinet_day_certified WHERE day BETWEEN ${from} AND ${to} GROUP BY day ORDER BY day`
      const rows = (await query.execute(kysely)).rows
      return rows.map((r) => ({ day: r.day, salesCount: Number(r.n), amountFen: Number(r.amount), certifiedFen: Number(r.certified) }))
    },

    async certifiedTotals(cabinetIds) {
      const m = new Map<string, number>()
      for (const id of cabinetIds) m.set(id, 0)
      for (let i = 0; i < cabinetIds.length; i += UPSERT_CHUNK) {
        const rows = await kysely
          .selectFrom('cabinet_month_certified')
          .select(['cabinet_id', sql<number>`CAST(sum(certified_fen) AS BIGINT)`.as('certified')])
          .where('cabinet_id', 'in', cabinetIds.slice(i, i + UPSERT_CHUNK))
          .groupBy('cabinet_id')
          .execute()
        for (const r of rows) m.set(r.cabinet_id, r.certified)
      }
      return m
    },

    days: (r) => periodRows('cabinet_day_certified', r),
    months: (r) => periodRows('cabinet_month_certified', r),

    async certifiedLines(cabinetId, from, to) {
      const sales = await cabinetSkuSales(kysely, cabinetId, from, to)
      return (await linesOf(kysely, sales.map((s) => ({ ...s, cabinetId })), [{ cabinetId, from, to }]))[0]!
    },

    async certifiedLinesIn(range, periods) {
      if (periods.length === 0) return []
      let from = periods[0]!.from
      let to = periods[0]!.to
      for (const p of periods) {
        if (p.from < from) from = p.from
        if (p.to > to) to = p.to
      }
      // Runs of days over which no sku's certificate and no period asked
      // changes: the sales are summed over each in SQL, a row per cabinet,
      // sku and run instead of per day (most of a month-end pass's reads).
      const spans = await certifiedSpans(kysely)
      const cuts = new Set<string>()
      for (const day of [...periods.flatMap((p) => [p.from, addDays(p.to, 1)]), ...spans.flatMap((c) => [c.dayFrom, addDays(c.dayTo, 1)])]) {
        if (day > from && day <= to) cuts.add(day)
      }
      const breaks = cuts.size <= MAX_SKU_SALES_BREAKS ? [...cuts].sort() : null
      return linesOf(kysely, await rangeSkuSales(kysely, range, from, to, breaks), periods, spans)
    },

    close: unlisten,
  }
}

/**
 * The certified lines of each period from its cabinet's sku sales (a row per
 * day, or per run of days with one certificate, within one period): a line's
 * certificate is the latest-starting one covering its day (ties: the lowest
 * number), as the catalog shows on that day. `allSpans`: the catalog's spans,
 * when already read.
 */
async function linesOf(
  ex: Executor,
  sales: readonly CabinetSkuDaySales[],
  periods: ReadonlyArray<{ readonly cabinetId: string; readonly from: string; readonly to: string }>,
  allSpans?: Awaited<ReturnType<typeof certifiedSpans>>,
): Promise<CertifiedLine[][]> {
  const skus = [...new Set(sales.map((s) => s.sku))]
  const [spans, suppliers] = await Promise.all([allSpans ?? certifiedSpans(ex, skus), suppliersOfProducts(ex, skus)])
  const bySku = new Map<string, typeof spans>()
  for (const s of spans) {
    let list = bySku.get(s.sku)
    if (!list) bySku.set(s.sku, (list = []))
    list.push(s)
  }
  for (const list of bySku.values()) list.sort((a, b) => bin(b.dayFrom, a.dayFrom) || bin(a.certificateNo, b.certificateNo))
  const byCabinet = new Map<string, CabinetSkuDaySales[]>()
  for (const s of sales) {
    let list = byCabinet.get(s.cabinetId)
    if (!list) byCabinet.set(s.cabinetId, (list = []))
    list.push(s)
  }
  return periods.map(({ cabinetId, from, to }) => {
    const lines = new Map<string, { sku: string; certificateNo: string; supplierUscc: string; qty: number; amountFen: number }>()
    for (const s of byCabinet.get(cabinetId) ?? []) {
      if (s.day < from || s.day > to) continue
      const cert = bySku.get(s.sku)?.find((c) => c.dayFrom <= s.day && s.day <= c.dayTo)
      const supplierUscc = suppliers.get(s.sku)
      if (!cert || supplierUscc === undefined) continue
      const k = `${s.sku}\u0000${cert.certificateNo}`
      const l = lines.get(k)
      if (l) {
        l.qty += s.qty
        l.amountFen += s.amountFen
      } else {
        lines.set(k, { sku: s.sku, certificateNo: cert.certificateNo, supplierUscc, qty: s.qty, amountFen: s.amountFen })
      }
    }
    return [...lines.values()].sort((a, b) => bin(a.sku, b.sku) || bin(a.certificateNo, b.certificateNo))
  })
}
