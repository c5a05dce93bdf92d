// The sales fold (SQLite; issue 13's ingest cost). An ingest tick on SQLite
// writes only the sales. What is derived from them — the per-cabinet, per-day
// and per-sku aggregates, the certified figures (compliance) and the sale-id
// reuse check (sale_ids, sale_flags) — is folded in later, in bulk: every
// per-cabinet tree a tick writes costs a dirty page per cabinet per commit,
// and these trees were most of the commit's work. Folded together, a
// cabinet's rows are written once for all its sales since the last fold.
//
// Nobody sees the lag. The fold is the database's derived work
// (FleetDb.setDerived): it runs before the first statement of anyone but the
// ingest's own ticks, so a read or write after a sale's ack finds it folded,
// as if it had been written with the sale. It also runs on a timer and when
// much is pending, to bound memory and the work left after a crash.
//
// Exact after a crash: the fold commits with the rowid of the last sale it
// folded (meta 'sales_folded_rowid'), and sales only ever append (one writer,
// no deletes), so what is left is exactly the rowids above it. Normally the
// fold takes each tick as it commits — aggregated at once, no sale kept —
// and any rows memory does not cover (a tick not yet reported, a restart, a
// failed fold) are read back from the table.
import type { Logger } from 'pino'
import type { DerivedWork, FleetDb } from '../db/database.js'
import type { SqliteDatabase } from '../db/sqlite.js'
import { createAggregator, type AggregatedSale, type Aggregator, type TickAggregates } from './aggregate.js'

/** A sale as the fold needs it: aggregated, and checked for a reused id. */
export type FoldSale = AggregatedSale & { readonly saleId: string }

export interface FoldBatch {
  readonly cabinetId: string
  /** When the batch arrived: a reused id is flagged as of then. */
  readonly receivedAt: string
  readonly sales: readonly FoldSale[]
}

/** Rowids a committed tick's sales took: (from, to]. */
export interface RowRange {
  readonly from: number
  readonly to: number
}

/** Writes other domains derive from folded sales, in the fold's transaction (compliance's certified figures). */
export type FoldWriter = (agg: TickAggregates) => void

export interface SalesFold {
  /** After a tick's commit: the batches it committed and the rowids their sales took. */
  committed(rows: RowRange, batches: readonly FoldBatch[]): void
  /** Folds what is pending now (through the connection, after whatever holds it). */
  flush(): Promise<void>
  /** Stops the timer, folds what is pending, unregisters. */
  close(): Promise<void>
}

export interface SalesFoldOptions {
  readonly db: FleetDb
  readonly writers: readonly FoldWriter[]
  readonly log: Logger
  /** A fold at least this often while sales are pending. */
  readonly intervalMs?: number
  /** And as soon as this many sales are pending (memory held for them, work left after a crash). */
  readonly maxPendingSales?: number
}

const WATERMARK = 'sales_folded_rowid'
const WATERMARK_SQL = `SELECT value FROM meta WHERE key = '${WATERMARK}'`
const TOP_SQL = 'SELECT max(rowid) AS m FROM sales'
/** What the fold writes, and what its writers write (compliance's figures): nobody else sees them behind it. */
const DERIVED_TABLES = ['cabinet_sales', 'cabinet_day_sales', 'cabinet_day_sku_sales', 'cabinet_day_certified', 'cabinet_month_certified', 'sale_ids', 'sale_flags']
/** Rows read back from the table per fold transaction (recovery after a crash). */
const READ_CHUNK = 20_000

/** A sale whose id may repeat an earlier one of its cabinet. */
interface IdCheck {
  readonly cabinetId: string
  readonly receivedAt: string
  readonly saleId: string
  readonly seq: number
  readonly soldOn: string
}

/**
 * What the ticks committed since the watermark add, taken as they commit:
 * their aggregates, and the few sales whose ids are not known new. No sale
 * is kept whole until the fold (kept a second, each was promoted out of V8's
 * young generation and paid for again by the old one's collector).
 */
interface Pending {
  /** The watermark these ticks start from: they cover rowids (base, top]. */
  readonly base: number
  top: number
  readonly agg: Aggregator
  /** Sales whose ids are not above their cabinet's ceiling: looked up at the fold, once the range's ids are recorded. */
  readonly suspects: IdCheck[]
  sales: number
}

const emptyPending = (base: number): Pending => ({ base, top: base, agg: createAggregator(), suspects: [], sales: 0 })

export function startSalesFold(opts: SalesFoldOptions): SalesFold {
  const { db, log } = opts
  const conn = db.sqlite
  if (!conn) throw new Error('the sales fold is SQLite only')
  const intervalMs = opts.intervalMs ?? 1_000
  const maxPendingSales = opts.maxPendingSales ?? 20_000
  const stmt = statements(conn)

  // The database's watermark as last read or written; null = read it at the next fold.
  let folded: number | null = null
  // What the ticks committed since the watermark add, when memory has all of them; null = read from the table.
  let pending: Pending | null = null
  let soon: NodeJS.Immediate | null = null
  let closed = false
  // The per-cabinet ceiling of sale ids seen, so an id above it (the normal
  // case: agents mint time-ordered UUIDv7) is known new without a probe.
  const idCeiling = new Map<string, string>()

  /** Writes what `p` holds — the sales with rowids `from` < rowid <= `to` — and the watermark `to`. */
  function foldRange(p: Pending, from: number, to: number): void {
    const agg = p.agg.result()
    for (const c of agg.cabinets.values()) stmt.upsertCabinet.run(c.cabinetId, c.count, c.amountFen, c.skewedCount, c.lastSeq, c.lastHash, c.lastSaleAt)
    for (const d of agg.days.values()) stmt.upsertDay.run(d.cabinetId, d.day, d.count, d.amountFen)
    for (const k of agg.skus.values()) stmt.upsertSku.run(k.cabinetId, k.day, k.sku, k.qty, k.amountFen)
    // Every id of the range in one statement, straight from the sales: no
    // statement run per sale (measured ~1 µs of the ~3 a row took).
    stmt.recordSaleIds.run(from, to)
    for (const c of p.suspects) checkSuspect(c)
    for (const w of opts.writers) w(agg)
    stmt.setWatermark.run(String(to))
  }

  /**
   * Adds committed batches to `p`, in commit order: their aggregates, and
   * the sales whose ids are not above their cabinet's ceiling. Called as each
   * tick commits, too: a cabinet's ceiling is then exact (see isAboveCeiling).
   */
  function take(p: Pending, batches: readonly FoldBatch[]): void {
    p.agg.add(batches)
    for (const b of batches) {
      for (const s of b.sales) {
        p.sales++
        if (!isAboveCeiling(b.cabinetId, s.saleId)) p.suspects.push({ cabinetId: b.cabinetId, receivedAt: b.receivedAt, saleId: s.saleId, seq: s.seq, soldOn: s.soldOn })
      }
    }
  }

  /**
   * True when `saleId` is above every id its cabinet has had (and is then the
   * new ceiling). A ceiling not in memory is read from sale_ids, which then
   * holds every id of the cabinet: the sales not yet folded are the ones
   * taken before this one, in commit order, and a cabinet with any of those
   * has its ceiling in memory (forgotten only with them: idCeiling.clear()
   * goes with pending = null).
   */
  function isAboveCeiling(cabinetId: string, saleId: string): boolean {
    let ceiling = idCeiling.get(cabinetId)
    if (ceiling === undefined) {
      ceiling = stmt.maxSaleId.get(cabinetId)?.id ?? ''
      idCeiling.set(cabinetId, ceiling)
    }
    if (saleId <= ceiling) return false
    idCeiling.set(cabinetId, saleId)
    return true
  }

  /**
   * A sale reusing the id of an earlier sale of its cabinet is flagged
   * (SALE_ID_REUSED, issue 12): stored all the same, its periods held until
   * an official resolves it. Sales fold in commit order, which is each chain's
   * seq order, so "earlier" is the one with the lowest seq below this one's.
   */
  function checkSuspect({ cabinetId, receivedAt, saleId, seq, soldOn }: IdCheck): void {
    const earlier = stmt.earlierWithId.get(cabinetId, saleId, seq)
    if (!earlier) return
    stmt.insertFlag.run(cabinetId, seq, saleId, earlier.seq, soldOn, earlier.sold_on, receivedAt)
    log.warn({ cabinetId, seq, saleId, earlierSeq: earlier.seq }, 'sale reuses an earlier sale id; stored and flagged')
  }

  /** Sales with rowids in (from, to], in rowid order, as one-sale batches. */
  function readBack(from: number, to: number): FoldBatch[] {
    const out: FoldBatch[] = []
    for (const r of stmt.readRange.iterate(from, to)) {
      out.push({
        cabinetId: r.cabinet_id,
        receivedAt: r.received_at,
        sales: [{
          saleId: r.sale_id,
          seq: r.seq,
          soldAt: r.sold_at,
          soldAtMs: Date.parse(r.sold_at),
          soldOn: r.sold_on,
          totalFen: r.total_fen,
          lines: JSON.parse(r.lines) as FoldSale['lines'],
          hash: r.hash,
          skewFlag: r.skew_flag,
        }],
      })
    }
    return out
  }

  /**
   * One fold step, inside a transaction: from the watermark as the database
   * holds it (another connection — fleetctl db copy — may have folded too),
   * up to the table's top, or one chunk of it when memory does not cover it.
   * Returns the new watermark.
   */
  function step(): number {
    const from = readWatermark()
    let to = stmt.maxRowid.get()?.m ?? 0
    if (to <= from) return from
    if (folded !== null && from !== folded) {
      // Folded by someone else since: what memory holds, and the id ceilings, may be stale.
      pending = null
      idCeiling.clear()
    }
    let p: Pending
    if (pending !== null && pending.base === from && pending.top <= to && pending.sales > 0) {
      // Memory covers (from, pending.top]; the table the rest, if any (a tick not yet reported).
      p = pending
      if (p.top < to) take(p, readBack(p.top, to))
    } else {
      to = Math.min(to, from + READ_CHUNK)
      p = emptyPending(from)
      take(p, readBack(from, to))
    }
    foldRange(p, from, to)
    return to
  }

  function run(db: SqliteDatabase): void {
    // In a transaction of its own (IMMEDIATE: the watermark read and the
    // writes under one write lock), or a savepoint of the caller's.
    const inCaller = db.inTransaction
    const once = db.transaction(step)
    try {
      for (;;) {
        folded = inCaller ? once() : once.immediate()
        pending = emptyPending(folded)
        if ((stmt.maxRowid.get()?.m ?? 0) <= folded) return
      }
    } catch (err) {
      // Nothing of the failed transaction stays; start again from the database's watermark.
      folded = null
      pending = null
      idCeiling.clear()
      log.error({ err }, 'folding sales failed')
      throw err
    }
  }

  function readWatermark(): number {
    const row = stmt.getWatermark.get()
    // Migration 11 writes it; without it nobody knows which sales were counted.
    if (!row) throw new Error(`meta '${WATERMARK}' is missing: the sales fold cannot know which sales are aggregated`)
    return Number(row.value)
  }

  const work: DerivedWork = {
    tables: DERIVED_TABLES,
    // Asked of the table, not of what ticks reported: a tick that committed
    // and is not yet reported (its transaction resolved, the ingest not yet
    // back) is pending too. One index lookup (the rowid tree's right edge).
    pending: () => folded === null || (stmt.maxRowid.get()?.m ?? 0) > folded,
    run,
    undone() {
      folded = null
      pending = null
      idCeiling.clear()
    },
  }
  const unregister = db.setDerived(work)

  const flush = (): Promise<void> => db.exclusive(() => undefined)
  const flushQuietly = (): void => {
    if (closed) return
    flush().catch((err: unknown) => log.error({ err }, 'a scheduled sales fold failed; it is tried again'))
  }
  const timer = setInterval(flushQuietly, intervalMs)
  timer.unref()

  return {
    committed(rows, batches) {
      if (rows.to <= rows.from || pending === null) return
      if (rows.from === pending.top) {
        take(pending, batches)
        pending.top = rows.to
      } else if (rows.to > pending.base) {
        // Not contiguous with what memory holds: the table has it all.
        pending = null
        return
      }
      // (rows.to <= pending.base: a fold already read this tick back from the table.)
      if (pending.sales >= maxPendingSales && soon === null) {
        soon = setImmediate(() => {
          soon = null
          flushQuietly()
        })
      }
    },
    flush,
    async close() {
      if (closed) return
      closed = true
      clearInterval(timer)
      if (soon) clearImmediate(soon)
      try {
        await flush()
      } finally {
        unregister()
      }
    },
  }
}

/** Whether every stored sale is folded, as `conn` sees the database (in its transaction's snapshot, if in one). */
export function salesFolded(conn: SqliteDatabase): boolean {
  const w = conn.prepare<[], { value: string }>(WATERMARK_SQL).get()
  const top = conn.prepare<[], { m: number | null }>(TOP_SQL).get()?.m ?? 0
  return w !== undefined && Number(w.value) >= top
}

interface SaleRow {
  cabinet_id: string
  sale_id: string
  seq: number
  sold_at: string
  sold_on: string
  received_at: string
  total_fen: number
  lines: string
  hash: string
  skew_flag: number
}

function statements(conn: SqliteDatabase) {
  return {
    maxRowid: conn.prepare<[], { m: number | null }>(TOP_SQL),
    getWatermark: conn.prepare<[], { value: string }>(WATERMARK_SQL),
    setWatermark: conn.prepare<[string]>(`UPDATE meta SET value = ? WHERE key = '${WATERMARK}'`),
    readRange: conn.prepare<[number, number], SaleRow>(
      `SELECT cabinet_id, sale_id, seq, sold_at, sold_on, received_at, total_fen, lines, hash, skew_flag
       FROM sales WHERE rowid > ? AND rowid <= ? ORDER BY rowid`,
    ),
    upsertCabinet: conn.prepare(
      `INSERT INTO cabinet_sales (cabinet_id, sales_count, amount_fen, skewed_count, last_seq, last_hash, last_sale_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (cabinet_id) DO UPDATE SET
         sales_count = sales_count + excluded.sales_count,
         amount_fen = amount_fen + excluded.amount_fen,
         skewed_count = skewed_count + excluded.skewed_count,
         last_seq = excluded.last_seq,
         last_hash = excluded.last_hash,
         last_sale_at = max(coalesce(last_sale_at, ''), excluded.last_sale_at)`,
    ),
    upsertDay: conn.prepare(
      `INSERT INTO cabinet_day_sales (cabinet_id, day, sales_count, amount_fen) VALUES (?, ?, ?, ?)
       ON CONFLICT (cabinet_id, day) DO UPDATE SET
         sales_count = sales_count + excluded.sales_count,
         amount_fen = amount_fen + excluded.amount_fen`,
    ),
    upsertSku: conn.prepare(
      `INSERT INTO cabinet_day_sku_sales (cabinet_id, day, sku, qty, amount_fen) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (cabinet_id, day, sku) DO UPDATE SET
         qty = qty + excluded.qty,
         amount_fen = amount_fen + excluded.amount_fen`,
    ),
    maxSaleId: conn.prepare<[string], { id: string | null }>('SELECT max(sale_id) AS id FROM sale_ids WHERE cabinet_id = ?'),
    earlierWithId: conn.prepare<[string, string, number], { seq: number; sold_on: string }>(
      'SELECT seq, sold_on FROM sale_ids WHERE cabinet_id = ? AND sale_id = ? AND seq < ? ORDER BY seq LIMIT 1',
    ),
    recordSaleIds: conn.prepare<[number, number]>(
      `INSERT INTO sale_ids (cabinet_id, sale_id, seq, sold_on)
       SELECT cabinet_id, sale_id, seq, sold_on FROM sales WHERE rowid > ? AND rowid <= ?`,
    ),
    insertFlag: conn.prepare(
      `INSERT INTO sale_flags (kind, cabinet_id, seq, sale_id, earlier_seq, sold_on, earlier_sold_on, flagged_at)
       VALUES ('SALE_ID_REUSED', ?, ?, ?, ?, ?, ?, ?)`,
    ),
  }
}
