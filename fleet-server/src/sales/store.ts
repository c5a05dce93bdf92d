// SQL for sales and their aggregates (issue 13: one store over SQLite and
// PostgreSQL). One tick of ingest is one transaction, opened by the ingest:
// every accepted batch of the tick (a constraint failure costs only that
// batch) plus one upsert per aggregate key; the ingest then has other domains
// write what they derive from the tick's aggregates (certified figures) in
// the same transaction, so nothing derived is ever behind a committed sale.
// commitTick is the hot path and is written per dialect; the reads are Kysely.
import { sql } from 'kysely'
import { GENESIS_HASH, type SaleView } from '../../../shared/src/index.js'
import type { Executor, FleetDb } from '../db/database.js'
import { classifyDbError, isConstraintViolation } from '../db/dialect.js'
import type { SqliteDatabase } from '../db/sqlite.js'
import { copyRows } from '../db/pg-copy.js'
import { aggregate, lazyAggregate, type TickAggregates } from './aggregate.js'
import type { RowRange } from './fold.js'
import type { BatchSignature, BatchWrite, CabinetSalesTotals, ChainHead } from './types.js'

export interface TamperFlag {
  readonly cabinetId: string
  readonly at: string
}

/** An enrolled cabinet's batch refused for its signature (issue 16 §2): raises its signature_invalid alert. */
export interface SignatureFlag {
  readonly cabinetId: string
  readonly code: 'SIGNATURE_MISSING' | 'SIGNATURE_INVALID'
  readonly at: string
  /** Refusals this flag stands for (the ingest writes one per cabinet per interval). */
  readonly count: number
}

export interface TickWrite {
  readonly batches: readonly BatchWrite[]
  readonly tampered: readonly TamperFlag[]
  readonly signatureFlags?: readonly SignatureFlag[]
}

/**
 * Why a batch did not commit. `unknown_cabinet`: no such cabinet (external broker only);
 * `conflict`: (cabinet, seq) already stored, so the in-memory head was stale;
 * `after_failure`: an earlier batch of the same cabinet failed in this tick.
 */
export type BatchFailure = 'unknown_cabinet' | 'conflict' | 'after_failure'

/** A committed sale that reuses the saleId of an earlier sale of its cabinet (SALE_ID_REUSED). */
export interface ReusedSaleId {
  readonly cabinetId: string
  readonly seq: number
  readonly saleId: string
  readonly earlierSeq: number
}

export interface TickResult {
  /** Index into TickWrite.batches → why it did not commit. The rest committed. */
  readonly failed: ReadonlyMap<number, BatchFailure>
  /** Sales of committed batches flagged SALE_ID_REUSED in this tick. */
  readonly reused: readonly ReusedSaleId[]
  /** Aggregates of the committed batches: what other domains derive their figures from. */
  readonly aggregates: TickAggregates
  /**
   * SQLite: the aggregates, derived figures and sale-id checks of the
   * committed batches were not written; they are the sales fold's (fold.ts),
   * told of them after commit. Absent on PostgreSQL, where the tick wrote them.
   */
  readonly deferred?: { readonly rows: RowRange; readonly batches: readonly BatchWrite[] }
}

/** The seam ingest and views use, on either engine. */
export interface SalesStore {
  loadChainHeads(): Promise<Map<string, ChainHead>>
  chainHead(cabinetId: string): Promise<ChainHead | null>
  /** Hash of the committed sale `seq` of a cabinet; only replays of older sales need it. */
  saleHash(cabinetId: string, seq: number): Promise<string | null>
  /**
   * Writes a tick in the caller's transaction (`ex`, from db.transaction):
   * the committed batches, and on PostgreSQL their aggregates and flags (on
   * SQLite those are the fold's: TickResult.deferred). Per-batch constraint
   * failures are reported in the result; anything else throws, and the
   * caller's transaction rolls back.
   */
  commitTick(ex: Executor, tick: TickWrite): Promise<TickResult>
  totals(cabinetIds: readonly string[]): Promise<Map<string, CabinetSalesTotals>>
  /** Up to `limit` sales of a cabinet with seq > afterSeq, in seq order. */
  list(cabinetId: string, afterSeq: number, limit: number): Promise<SaleView[]>

  // Named reads of the sales tables for other domains (issue 13: a table is
  // read only through its owner). `ex` lets a caller read inside its own transaction.

  /** Issue 16 §2: cabinets flagged for refused signatures whose last refusal is at or after `since`. */
  signatureFlags(since: string): Promise<Array<{ cabinetId: string; code: string; firstAt: string; lastAt: string; rejectedCount: number }>>
  /** The first and last seq of a cabinet's sales sold on days from..to (Asia/Shanghai); null when none. */
  seqRangeSold(cabinetId: string, fromDay: string, toDay: string): Promise<{ first: number; last: number } | null>
  /** Stored batch signatures of a cabinet covering any seq in from..to, by first seq. */
  signaturesCovering(cabinetId: string, from: number, to: number): Promise<BatchSignature[]>

}




/** Ids per `IN (…)` list: well under SQLite's 32,766 and PostgreSQL's 65,535 parameters. */
const IN_CHUNK = 1000

type TickCommit = (ex: Executor, tick: TickWrite) => Promise<TickResult>

export function createSalesStore(db: FleetDb): SalesStore {
  const k = db.kysely
  const commitIn: TickCommit = db.dialect === 'sqlite' ? sqliteTickCommit(db.sqlite!) : pgTickCommit()
  const commitTick: TickCommit = async (ex, tick) => {
    // Outside a transaction the tick's writes would commit on their own,
    // before (or without) the caller's other writes: refuse.
    if (!ex.isTransaction) throw new Error('commitTick must run inside db.transaction()')
    return commitIn(ex, tick)
  }
  return {
    async loadChainHeads() {
      const rows = await k.selectFrom('cabinet_sales').select(['cabinet_id', 'last_seq', 'last_hash']).execute()
      const m = new Map<string, ChainHead>()
      for (const r of rows) m.set(r.cabinet_id, { seq: r.last_seq, hash: r.last_hash })
      return m
    },
    // From the sales themselves (UNIQUE (cabinet_id, seq) answers it), not
    // cabinet_sales: ingest asks it without waiting for the fold.
    async chainHead(cabinetId) {
      const r = await k.selectFrom('sales').select(['seq', 'hash']).where('cabinet_id', '=', cabinetId).orderBy('seq', 'desc').limit(1).executeTakeFirst()
      return r ? { seq: r.seq, hash: r.hash } : null
    },
    async saleHash(cabinetId, seq) {
      const r = await k.selectFrom('sales').select('hash').where('cabinet_id', '=', cabinetId).where('seq', '=', seq).executeTakeFirst()
      return r?.hash ?? null
    },
    commitTick,
    async totals(cabinetIds) {
      const found = new Map<string, CabinetSalesTotals>()
      for (let i = 0; i < cabinetIds.length; i += IN_CHUNK) {
        const rows = await k
          .selectFrom('cabinet_sales')
          .select(['cabinet_id', 'sales_count', 'amount_fen', 'last_seq', 'last_sale_at', 'chain_status'])
          .where('cabinet_id', 'in', cabinetIds.slice(i, i + IN_CHUNK))
          .execute()
        for (const r of rows) {
          found.set(r.cabinet_id, {
            count: r.sales_count,
            amountFen: r.amount_fen,
            lastSeq: r.last_seq,
            lastSaleAt: r.last_sale_at || null,
            chainStatus: r.chain_status as CabinetSalesTotals['chainStatus'],
          })
        }
      }
      // In the order asked for, whatever order the engine returned the rows in.
      const m = new Map<string, CabinetSalesTotals>()
      for (const id of cabinetIds) {
        const t = found.get(id)
        if (t) m.set(id, t)
      }
      return m
    },
    async signatureFlags(since) {
      const rows = await k.selectFrom('sale_signature_flags').selectAll().where('last_at', '>=', since).orderBy('cabinet_id').execute()
      return rows.map((r) => ({ cabinetId: r.cabinet_id, code: r.code, firstAt: r.first_at, lastAt: r.last_at, rejectedCount: Number(r.rejected_count) }))
    },
    async seqRangeSold(cabinetId, fromDay, toDay) {
      const r = await k
        .selectFrom('sales')
        .select((eb) => [eb.fn.min<number>('seq').as('first'), eb.fn.max<number>('seq').as('last')])
        .where('cabinet_id', '=', cabinetId)
        .where('sold_on', '>=', fromDay)
        .where('sold_on', '<=', toDay)
        .executeTakeFirst()
      return r && r.first !== null && r.last !== null ? { first: Number(r.first), last: Number(r.last) } : null
    },
    async signaturesCovering(cabinetId, from, to) {
      const rows = await k
        .selectFrom('sale_batch_signatures')
        .select(['batch_id', 'first_seq', 'last_seq', 'sig'])
        .where('cabinet_id', '=', cabinetId)
        .where('first_seq', '<=', to)
        .where('last_seq', '>=', from)
        .orderBy('first_seq')
        .orderBy('batch_id')
        .execute()
      return rows.map((r) => ({ batchId: r.batch_id, firstSeq: Number(r.first_seq), lastSeq: Number(r.last_seq), sig: r.sig }))
    },
    async list(cabinetId, afterSeq, limit) {
      const rows = await k
        .selectFrom('sales')
        .select(['sale_id', 'seq', 'sold_at', 'recorded_at', 'received_at', 'sold_on', 'payment', 'total_fen', 'lines', 'prev_hash', 'hash', 'skew_flag'])
        .where('cabinet_id', '=', cabinetId)
        .where('seq', '>', afterSeq)
        .orderBy('seq')
        .limit(limit)
        .execute()
      return rows.map((r) => ({
        saleId: r.sale_id,
        seq: r.seq,
        soldAt: r.sold_at,
        recordedAt: r.recorded_at,
        payment: r.payment as SaleView['payment'],
        lines: JSON.parse(r.lines) as SaleView['lines'],
        totalFen: r.total_fen,
        prevHash: r.prev_hash,
        hash: r.hash,
        receivedAt: r.received_at,
        soldOn: r.sold_on,
        skewFlag: r.skew_flag,
      }))
    },
  }
}

/** Sorts a failed batch insert: its own fault (a reason), or null for anything that must abort the tick. */
const batchFailure = (err: unknown): BatchFailure | null => {
  // Only a constraint violation is this batch's own fault; anything else
  // (I/O, disk full, a lost connection) aborts the whole tick and nobody gets an ack.
  const kind = classifyDbError(err)
  if (!isConstraintViolation(kind)) return null
  return kind === 'foreign_key_violation' ? 'unknown_cabinet' : 'conflict'
}

// ---------------------------------------------------------------------------
// SQLite: prepared statements on the one connection, run synchronously inside
// the caller's transaction (Kysely issued BEGIN and holds the connection until
// the callback resolves, so nothing else runs in between). better-sqlite3's
// db.transaction() nested in an open transaction runs as a SAVEPOINT.

function sqliteTickCommit(conn: SqliteDatabase): TickCommit {
  const insertSale = conn.prepare(
    `INSERT INTO sales (sale_id, cabinet_id, seq, sold_at, sold_on, recorded_at, received_at, payment, total_fen, lines, prev_hash, hash, skew_flag)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  )
  const maxRowid = conn.prepare<[], { m: number | null }>('SELECT max(rowid) AS m FROM sales')
  // The cabinet's row may not exist yet (its sales not folded, or none at
  // all): created with empty totals, which the fold adds to. Only for a known
  // cabinet (an external broker may carry unknown ones).
  const flagTampered = conn.prepare<[string, string, string]>(
    `INSERT INTO cabinet_sales (cabinet_id, sales_count, amount_fen, last_seq, last_hash, chain_status, tampered_at, tampered_count)
     SELECT cabinet_id, 0, 0, 0, ?, 'tampered', ?, 1 FROM cabinets WHERE cabinet_id = ?
     ON CONFLICT (cabinet_id) DO UPDATE SET chain_status = 'tampered', tampered_at = coalesce(tampered_at, excluded.tampered_at), tampered_count = tampered_count + 1`,
  )

  const insertSignature = conn.prepare<[string, string, number, number, string, string]>(
    `INSERT INTO sale_batch_signatures (cabinet_id, batch_id, first_seq, last_seq, sig, received_at) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (cabinet_id, batch_id) DO NOTHING`,
  )
  const flagSignature = conn.prepare<[string, string, string, number, string]>(
    `INSERT INTO sale_signature_flags (cabinet_id, code, first_at, last_at, rejected_count)
     SELECT cabinet_id, ?, ?, ?, ? FROM cabinets WHERE cabinet_id = ?
     ON CONFLICT (cabinet_id) DO UPDATE SET code = excluded.code, last_at = excluded.last_at, rejected_count = rejected_count + excluded.rejected_count`,
  )

  const insertSales = (b: BatchWrite): void => {
    const sig = b.signature
    if (sig) insertSignature.run(b.cabinetId, sig.batchId, sig.firstSeq, sig.lastSeq, sig.sig, b.receivedAt)
    for (const s of b.sales) {
      insertSale.run(s.saleId, b.cabinetId, s.seq, s.soldAt, s.soldOn, s.recordedAt, b.receivedAt, s.payment, s.totalFen, s.linesJson, s.prevHash, s.hash, s.skewFlag)
    }
  }

  // A savepoint per batch (nested in the one below, itself nested in the tick's transaction).
  const insertBatch = conn.transaction(insertSales)

  /**
   * The sales only: their aggregates, figures and sale-id checks are the
   * fold's (fold.ts), told the rowids they took. Sales only append, from this
   * one connection, so a tick's committed sales are exactly the rowids
   * between the table's top before and after it.
   */
  const finish = (before: number, committed: readonly BatchWrite[], tick: TickWrite, failed: Map<number, BatchFailure>): TickResult => {
    for (const t of tick.tampered) flagTampered.run(GENESIS_HASH, t.at, t.cabinetId)
    for (const f of tick.signatureFlags ?? []) flagSignature.run(f.code, f.at, f.at, f.count, f.cabinetId)
    const to = committed.length > 0 ? (maxRowid.get()?.m ?? 0) : before
    return { failed, reused: [], aggregates: lazyAggregate(committed), deferred: { rows: { from: before, to }, batches: committed } }
  }

  // The common case: every batch inserts cleanly, so no savepoint per batch
  // (two extra statements per batch, which for one-sale batches cost more than
  // the insert). Any constraint failure throws, rolling the whole attempt back
  // to its savepoint, and the tick is redone with a savepoint per batch below.
  const commitOptimistic = conn.transaction((tick: TickWrite, before: number): TickResult => {
    for (const b of tick.batches) insertSales(b)
    return finish(before, tick.batches, tick, new Map())
  })

  const commitPerBatch = conn.transaction((tick: TickWrite, before: number): TickResult => {
    const failed = new Map<number, BatchFailure>()
    const failedCabinets = new Set<string>()
    const committed: BatchWrite[] = []
    tick.batches.forEach((b, i) => {
      if (failedCabinets.has(b.cabinetId)) {
        failed.set(i, 'after_failure')
        return
      }
      try {
        insertBatch(b)
        committed.push(b)
      } catch (err) {
        const why = batchFailure(err)
        if (why === null || !conn.inTransaction) throw err
        failed.set(i, why)
        failedCabinets.add(b.cabinetId)
      }
    })
    return finish(before, committed, tick, failed)
  })

  return async (_ex, tick) => {
    // The caller's transaction holds the connection: better-sqlite3 must see it open,
    // or the savepoints below would be transactions of their own.
    if (!conn.inTransaction) throw new Error('commitTick must run inside db.transaction()')
    const before = maxRowid.get()?.m ?? 0
    try {
      return commitOptimistic(tick, before)
    } catch (err) {
      if (!isConstraintViolation(classifyDbError(err)) || !conn.inTransaction) throw err
      return commitPerBatch(tick, before)
    }
  }
}

// ---------------------------------------------------------------------------
// PostgreSQL: a statement per table per tick, so a tick costs a handful of
// round trips whatever its size: the sales by COPY, other rows passed as
// arrays and unnest()ed server-side. A failed statement aborts a PostgreSQL
// transaction, hence the savepoints: one around the optimistic insert of the
// whole tick, one per batch when that fails.

interface EarlierSale {
  readonly seq: number
  readonly soldOn: string
}

const saleKey = (cabinetId: string, saleId: string): string => `${cabinetId}\u0000${saleId}`

/**
 * A PostgreSQL text[] literal of `values`, as pg would write it, but made by
 * one native JSON.stringify instead of pg's two regex replaces per element:
 * pg's serialization of a tick's 13 sale columns was ~20 µs a sale of
 * main-thread time, as much as the rest of the tick's JS (bench: PostgreSQL
 * batched ingest), when the sales went this way (they go by COPY now).
 * JSON escapes `"` and `\` as the literal does; any other escape (\b \f \n
 * \r \t \uXXXX: a control character or lone surrogate) the literal would
 * read differently, so then the array goes to pg as is (a JSON-escaped
 * backslash before one of those letters also lands there: slower, still right).
 */
export function textArray(values: readonly string[]): string | readonly string[] {
  const json = JSON.stringify(values)
  return /\\[bfnrtu]/.test(json) ? values : `{${json.slice(1, -1)}}`
}

/** A PostgreSQL bigint[] literal of integers (pg would quote each one). */
function intArray(values: readonly number[]): string {
  return `{${values.join(',')}}`
}

const SALE_COLUMNS = ['sale_id', 'cabinet_id', 'seq', 'sold_at', 'sold_on', 'recorded_at', 'received_at', 'payment', 'total_fen', 'lines', 'prev_hash', 'hash', 'skew_flag']

function pgTickCommit(): TickCommit {
  // COPY, not INSERT ... unnest: about 1.4x the rows per second on this table (db/pg-copy.ts).
  const insertSales = async (ex: Executor, batches: readonly BatchWrite[]): Promise<void> => {
    const rows: Array<Array<string | number>> = []
    for (const b of batches) {
      for (const s of b.sales) {
        rows.push([s.saleId, b.cabinetId, s.seq, s.soldAt, s.soldOn, s.recordedAt, b.receivedAt, s.payment, s.totalFen, s.linesJson, s.prevHash, s.hash, s.skewFlag])
      }
    }
    await copyRows(ex, 'sales', SALE_COLUMNS, rows)
  }

  /**
   * What the tick is judged against, read before any insert of it:
   * - `known`: the tick's cabinets that exist, each locked FOR KEY SHARE until
   *   the commit (so none can be deleted or re-keyed under the tick). This is
   *   the sales table's foreign key, checked once per cabinet per tick; a
   *   per-row foreign key cost about a fifth of the batched ingest's rate
   *   (migration 21 dropped it on PostgreSQL).
   * - `stored`: the earliest stored sale of each (cabinet, saleId) of the
   *   tick that has one. Two servers may write one cabinet, so nothing is
   *   cached: the same query reads the ceiling of each cabinet's ids (index
   *   max), and a probe follows only for the sales not above it (UUIDv7 ids
   *   rise with time, so normally none).
   */
  const beforeTick = async (ex: Executor, batches: readonly BatchWrite[]): Promise<{ known: ReadonlyMap<string, string>; stored: Map<string, EarlierSale> }> => {
    const cabinets = [...new Set(batches.map((b) => b.cabinetId))].sort()
    // Sorted: two servers locking the same cabinets take them in one order.
    const ceilings = await sql<{ cabinet_id: string; id: string | null }>`
      WITH known AS MATERIALIZED (
        SELECT cabinet_id FROM cabinets WHERE cabinet_id = ANY (${textArray(cabinets)}::text[]) ORDER BY cabinet_id FOR KEY SHARE)
      SELECT k.cabinet_id, (SELECT max(s.sale_id) FROM sales s WHERE s.cabinet_id = k.cabinet_id) AS id FROM known k`.execute(ex)
    // The known cabinets, each with the ceiling of its sale ids ('' before its first sale).
    const ceiling = new Map(ceilings.rows.map((r) => [r.cabinet_id, r.id ?? '']))
    const probe = new Map<string, [string, string]>()
    for (const b of batches) {
      const top = ceiling.get(b.cabinetId)
      if (top === undefined) continue
      for (const s of b.sales) if (s.saleId <= top) probe.set(saleKey(b.cabinetId, s.saleId), [b.cabinetId, s.saleId])
    }
    const stored = new Map<string, EarlierSale>()
    if (probe.size === 0) return { known: ceiling, stored }
    const keys = [...probe.values()]
    const rows = await sql<{ cabinet_id: string; sale_id: string; seq: number; sold_on: string }>`
      SELECT DISTINCT ON (s.cabinet_id, s.sale_id) s.cabinet_id, s.sale_id, s.seq, s.sold_on
      FROM unnest(${textArray(keys.map((x) => x[0]))}::text[], ${textArray(keys.map((x) => x[1]))}::text[]) AS k (cabinet_id, sale_id)
      JOIN sales s ON s.cabinet_id = k.cabinet_id AND s.sale_id = k.sale_id
      ORDER BY s.cabinet_id, s.sale_id, s.seq`.execute(ex)
    for (const r of rows.rows) stored.set(saleKey(r.cabinet_id, r.sale_id), { seq: r.seq, soldOn: r.sold_on })
    return { known: ceiling, stored }
  }

  /** Committed sales reusing an earlier id: stored before the tick, or earlier in it (the first one counts). */
  const findReused = (committed: readonly BatchWrite[], stored: ReadonlyMap<string, EarlierSale>) => {
    const inTick = new Map<string, EarlierSale>()
    const reused: Array<ReusedSaleId & { readonly soldOn: string; readonly earlierSoldOn: string; readonly flaggedAt: string }> = []
    for (const b of committed) {
      for (const s of b.sales) {
        const key = saleKey(b.cabinetId, s.saleId)
        const earlier = stored.get(key) ?? inTick.get(key)
        if (earlier) reused.push({ cabinetId: b.cabinetId, seq: s.seq, saleId: s.saleId, earlierSeq: earlier.seq, soldOn: s.soldOn, earlierSoldOn: earlier.soldOn, flaggedAt: b.receivedAt })
        else inTick.set(key, { seq: s.seq, soldOn: s.soldOn })
      }
    }
    return reused
  }

  // Keys in a fixed order, so two servers upserting the same rows take their locks in the same order.
  const sorted = <T>(m: ReadonlyMap<string, T>): T[] => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v)

  // One statement for the three tables (data-modifying WITH clauses): each
  // round trip of a tick waits on the event loop, busy preparing the next tick.
  const writeAggregates = async (ex: Executor, agg: TickAggregates): Promise<void> => {
    if (agg.cabinets.size === 0) return
    const cs = sorted(agg.cabinets)
    const ds = sorted(agg.days)
    const ks = sorted(agg.skus)
    await sql`WITH cabinet_totals AS (
        INSERT INTO cabinet_sales AS t (cabinet_id, sales_count, amount_fen, skewed_count, last_seq, last_hash, last_sale_at)
        SELECT * FROM unnest(${textArray(cs.map((c) => c.cabinetId))}::text[], ${intArray(cs.map((c) => c.count))}::bigint[], ${intArray(cs.map((c) => c.amountFen))}::bigint[],
          ${intArray(cs.map((c) => c.skewedCount))}::bigint[], ${intArray(cs.map((c) => c.lastSeq))}::bigint[], ${textArray(cs.map((c) => c.lastHash))}::text[],
          ${textArray(cs.map((c) => c.lastSaleAt))}::text[])
        ON CONFLICT (cabinet_id) DO UPDATE SET
          sales_count = t.sales_count + excluded.sales_count,
          amount_fen = t.amount_fen + excluded.amount_fen,
          skewed_count = t.skewed_count + excluded.skewed_count,
          last_seq = excluded.last_seq,
          last_hash = excluded.last_hash,
          last_sale_at = GREATEST(coalesce(t.last_sale_at, ''), excluded.last_sale_at)),
      day_totals AS (
        INSERT INTO cabinet_day_sales AS t (cabinet_id, day, sales_count, amount_fen)
        SELECT * FROM unnest(${textArray(ds.map((d) => d.cabinetId))}::text[], ${textArray(ds.map((d) => d.day))}::text[], ${intArray(ds.map((d) => d.count))}::bigint[],
          ${intArray(ds.map((d) => d.amountFen))}::bigint[])
        ON CONFLICT (cabinet_id, day) DO UPDATE SET
          sales_count = t.sales_count + excluded.sales_count,
          amount_fen = t.amount_fen + excluded.amount_fen)
      INSERT INTO cabinet_day_sku_sales AS t (cabinet_id, day, sku, qty, amount_fen)
      SELECT * FROM unnest(${textArray(ks.map((s) => s.cabinetId))}::text[], ${textArray(ks.map((s) => s.day))}::text[], ${textArray(ks.map((s) => s.sku))}::text[],
        ${intArray(ks.map((s) => s.qty))}::bigint[], ${intArray(ks.map((s) => s.amountFen))}::bigint[])
      ON CONFLICT (cabinet_id, day, sku) DO UPDATE SET
        qty = t.qty + excluded.qty,
        amount_fen = t.amount_fen + excluded.amount_fen`.execute(ex)
  }

  /** Runs `fn` in a savepoint; on a constraint failure rolls back to it and returns the reason. */
  const inSavepoint = async (ex: Executor, fn: () => Promise<void>): Promise<BatchFailure | null> => {
    await sql`SAVEPOINT sales_tick`.execute(ex)
    try {
      await fn()
    } catch (err) {
      const why = batchFailure(err)
      if (why === null) throw err
      await sql`ROLLBACK TO SAVEPOINT sales_tick`.execute(ex)
      await sql`RELEASE SAVEPOINT sales_tick`.execute(ex)
      return why
    }
    await sql`RELEASE SAVEPOINT sales_tick`.execute(ex)
    return null
  }

  return async (ex, tick) => {
    // Read before any insert of this tick: what was stored before it.
    const { known, stored } = tick.batches.length > 0 ? await beforeTick(ex, tick.batches) : { known: new Map<string, string>(), stored: new Map<string, EarlierSale>() }
    const failed = new Map<number, BatchFailure>()
    // A cabinet's first batch fails as unknown, its later ones after it (as a foreign key would have it).
    const failedCabinets = new Set<string>()
    const candidates: Array<[number, BatchWrite]> = []
    for (const [i, b] of tick.batches.entries()) {
      if (known.has(b.cabinetId)) candidates.push([i, b])
      else {
        failed.set(i, failedCabinets.has(b.cabinetId) ? 'after_failure' : 'unknown_cabinet')
        failedCabinets.add(b.cabinetId)
      }
    }
    let committed: readonly BatchWrite[] = candidates.length === tick.batches.length ? tick.batches : candidates.map(([, b]) => b)
    // Optimistic: the whole tick in one statement. On a constraint failure,
    // one savepoint per batch, so a bad batch costs only itself.
    if (committed.length > 0 && (await inSavepoint(ex, () => insertSales(ex, committed))) !== null) {
      const good: BatchWrite[] = []
      for (const [i, b] of candidates) {
        if (failedCabinets.has(b.cabinetId)) {
          failed.set(i, 'after_failure')
          continue
        }
        const why = await inSavepoint(ex, () => insertSales(ex, [b]))
        if (why === null) good.push(b)
        else {
          failed.set(i, why)
          failedCabinets.add(b.cabinetId)
        }
      }
      committed = good
    }
    const reused = findReused(committed, stored)
    if (reused.length > 0) {
      await ex
        .insertInto('sale_flags')
        .values(reused.map((r) => ({
          kind: 'SALE_ID_REUSED',
          cabinet_id: r.cabinetId,
          seq: r.seq,
          sale_id: r.saleId,
          earlier_seq: r.earlierSeq,
          sold_on: r.soldOn,
          earlier_sold_on: r.earlierSoldOn,
          flagged_at: r.flaggedAt,
        })))
        .execute()
    }
    const signed = committed.filter((b) => b.signature !== undefined)
    if (signed.length > 0) {
      await ex
        .insertInto('sale_batch_signatures')
        .values(signed.map((b) => ({
          cabinet_id: b.cabinetId,
          batch_id: b.signature!.batchId,
          first_seq: b.signature!.firstSeq,
          last_seq: b.signature!.lastSeq,
          sig: b.signature!.sig,
          received_at: b.receivedAt,
        })))
        .onConflict((oc) => oc.columns(['cabinet_id', 'batch_id']).doNothing())
        .execute()
    }
    for (const f of tick.signatureFlags ?? []) {
      await sql`INSERT INTO sale_signature_flags AS t (cabinet_id, code, first_at, last_at, rejected_count)
        SELECT cabinet_id, ${f.code}, ${f.at}, ${f.at}, ${f.count} FROM cabinets WHERE cabinet_id = ${f.cabinetId}
        ON CONFLICT (cabinet_id) DO UPDATE SET code = excluded.code, last_at = excluded.last_at, rejected_count = t.rejected_count + excluded.rejected_count`.execute(ex)
    }
    const aggregates = aggregate(committed)
    await writeAggregates(ex, aggregates)
    // As on SQLite: a cabinet with no sales yet gets its row, with empty totals.
    for (const t of tick.tampered) {
      await sql`INSERT INTO cabinet_sales AS t (cabinet_id, sales_count, amount_fen, last_seq, last_hash, chain_status, tampered_at, tampered_count)
        SELECT cabinet_id, 0, 0, 0, ${GENESIS_HASH}, 'tampered', ${t.at}, 1 FROM cabinets WHERE cabinet_id = ${t.cabinetId}
        ON CONFLICT (cabinet_id) DO UPDATE SET chain_status = 'tampered', tampered_at = coalesce(t.tampered_at, excluded.tampered_at), tampered_count = t.tampered_count + 1`.execute(ex)
    }
    return {
      // In batch order, as SQLite's store reports them.
      failed: failed.size > 1 ? new Map([...failed].sort(([a], [b]) => a - b)) : failed,
      reused: reused.map(({ cabinetId, seq, saleId, earlierSeq }) => ({ cabinetId, seq, saleId, earlierSeq })),
      aggregates,
    }
  }
}
