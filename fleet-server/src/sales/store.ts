// SQL for sales and their aggregates. One tick of ingest is one transaction:
// every accepted batch of the tick (each in a savepoint, so a constraint
// failure costs only that batch) plus one upsert per aggregate key, plus what
// other domains derive from the tick's aggregates (certified figures), so
// nothing derived is ever behind a committed sale.
import type { SaleView } from '../../../shared/src/index.js'
import type { Db } from '../db/index.js'
import { classifyDbError, isConstraintViolation } from '../db/dialect.js'
import { aggregate, type TickAggregates } from './aggregate.js'
import type { BatchWrite, CabinetSalesTotals, ChainHead } from './types.js'

export interface TamperFlag {
  readonly cabinetId: string
  readonly at: string
}

export interface TickWrite {
  readonly batches: readonly BatchWrite[]
  readonly tampered: readonly TamperFlag[]
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
}

/** The seam ingest and views use; SQLite today. */
export interface SalesStore {
  loadChainHeads(): Promise<Map<string, ChainHead>>
  chainHead(cabinetId: string): Promise<ChainHead | null>
  /** Hash of the committed sale `seq` of a cabinet; only replays of older sales need it. */
  saleHash(cabinetId: string, seq: number): Promise<string | null>
  /** Commits a tick atomically; throws (committing nothing) on anything but per-batch constraint failures. */
  commitTick(tick: TickWrite): Promise<TickResult>
  totals(cabinetIds: readonly string[]): Promise<Map<string, CabinetSalesTotals>>
  /** Up to `limit` sales of a cabinet with seq > afterSeq, in seq order. */
  list(cabinetId: string, afterSeq: number, limit: number): Promise<SaleView[]>
}

interface DbSale {
  sale_id: string
  seq: number
  sold_at: string
  recorded_at: string
  received_at: string
  sold_on: string
  payment: SaleView['payment']
  total_fen: number
  lines: string
  prev_hash: string
  hash: string
  skew_flag: number
}

export interface SalesStoreOptions {
  /**
   * Writes derived from a tick's aggregates (the certified figures of
   * compliance), run synchronously inside the tick's transaction after the
   * sales aggregates: they commit or roll back with the sales. Must not await.
   */
  readonly onTick?: (agg: TickAggregates) => void
}

export function createSqliteSalesStore(db: Db, opts: SalesStoreOptions = {}): SalesStore {
  const onTick = opts.onTick
  const heads = db.prepare<[], { cabinet_id: string; last_seq: number; last_hash: string }>('SELECT cabinet_id, last_seq, last_hash FROM cabinet_sales')
  const head = db.prepare<[string], { last_seq: number; last_hash: string }>('SELECT last_seq, last_hash FROM cabinet_sales WHERE cabinet_id = ?')
  const hashOf = db.prepare<[string, number], { hash: string }>('SELECT hash FROM sales WHERE cabinet_id = ? AND seq = ?')
  const insertSale = db.prepare(
    `INSERT INTO sales (sale_id, cabinet_id, seq, sold_at, sold_on, recorded_at, received_at, payment, total_fen, lines, prev_hash, hash, skew_flag)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  )
  const upsertCabinet = db.prepare(
    `INSERT INTO cabinet_sales (cabinet_id, sales_count, amount_fen, skewed_count, last_seq, last_hash, last_sale_at)
     VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (cabinet_id) DO UPDATE SET
       sales_count = sales_count + excluded.sales_count,
       amount_fen = amount_fen + excluded.amount_fen,
       skewed_count = skewed_count + excluded.skewed_count,
       last_seq = excluded.last_seq,
       last_hash = excluded.last_hash,
       last_sale_at = max(coalesce(last_sale_at, ''), excluded.last_sale_at)`,
  )
  const upsertDay = db.prepare(
    `INSERT INTO cabinet_day_sales (cabinet_id, day, sales_count, amount_fen) VALUES (?, ?, ?, ?)
     ON CONFLICT (cabinet_id, day) DO UPDATE SET
       sales_count = sales_count + excluded.sales_count,
       amount_fen = amount_fen + excluded.amount_fen`,
  )
  const upsertSku = db.prepare(
    `INSERT INTO cabinet_day_sku_sales (cabinet_id, day, sku, qty, amount_fen) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (cabinet_id, day, sku) DO UPDATE SET
       qty = qty + excluded.qty,
       amount_fen = amount_fen + excluded.amount_fen`,
  )
  const totalsOf = db.prepare<[string], { sales_count: number; amount_fen: number; last_seq: number; last_sale_at: string | null; chain_status: 'ok' | 'tampered' }>(
    'SELECT sales_count, amount_fen, last_seq, last_sale_at, chain_status FROM cabinet_sales WHERE cabinet_id = ?',
  )
  const listSales = db.prepare<[string, number, number], DbSale>(
    `SELECT sale_id, seq, sold_at, recorded_at, received_at, sold_on, payment, total_fen, lines, prev_hash, hash, skew_flag
     FROM sales WHERE cabinet_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
  )
  // A probe of sales_by_cabinet_sale_id inside the tick's transaction (it also
  // sees sales inserted earlier in the same tick) — only for a sale whose id is
  // not above every id the cabinet ever sent. Agents mint time-ordered UUIDv7
  // ids, so that is the rare case (a reuse, or a clock set back) and the hot
  // path skips the probe. `idCeiling` may run ahead of the database after a
  // rolled-back tick; that costs a needless probe, never a missed flag.
  const earlierWithId = db.prepare<[string, string], { seq: number; sold_on: string }>(
    'SELECT seq, sold_on FROM sales WHERE cabinet_id = ? AND sale_id = ? ORDER BY seq LIMIT 1',
  )
  const maxSaleId = db.prepare<[string], { id: string | null }>('SELECT max(sale_id) AS id FROM sales WHERE cabinet_id = ?')
  const idCeiling = new Map<string, string>()
  const earlierSale = (cabinetId: string, saleId: string): { seq: number; sold_on: string } | undefined => {
    let ceiling = idCeiling.get(cabinetId)
    if (ceiling === undefined) ceiling = maxSaleId.get(cabinetId)?.id ?? ''
    if (saleId > ceiling) {
      idCeiling.set(cabinetId, saleId)
      return undefined
    }
    idCeiling.set(cabinetId, ceiling)
    return earlierWithId.get(cabinetId, saleId)
  }
  const insertFlag = db.prepare(
    `INSERT INTO sale_flags (kind, cabinet_id, seq, sale_id, earlier_seq, sold_on, earlier_sold_on, flagged_at)
     VALUES ('SALE_ID_REUSED', ?, ?, ?, ?, ?, ?, ?)`,
  )
  const flagTampered = db.prepare<[string, string]>(
    `UPDATE cabinet_sales SET chain_status = 'tampered', tampered_at = coalesce(tampered_at, ?), tampered_count = tampered_count + 1
     WHERE cabinet_id = ?`,
  )

  /**
   * Inserts a batch's sales; a sale whose saleId an earlier sale of the cabinet
   * has is stored all the same (the chain vouches for it, money changed hands)
   * and flagged. A replay of the same seq never gets here (chain-check skips it).
   */
  const insertSales = (b: BatchWrite, reused: ReusedSaleId[]): void => {
    for (const s of b.sales) {
      const earlier = earlierSale(b.cabinetId, s.saleId)
      insertSale.run(s.saleId, b.cabinetId, s.seq, s.soldAt, s.soldOn, s.recordedAt, b.receivedAt, s.payment, s.totalFen, s.linesJson, s.prevHash, s.hash, s.skewFlag)
      if (earlier !== undefined) {
        insertFlag.run(b.cabinetId, s.seq, s.saleId, earlier.seq, s.soldOn, earlier.sold_on, b.receivedAt)
        reused.push({ cabinetId: b.cabinetId, seq: s.seq, saleId: s.saleId, earlierSeq: earlier.seq })
      }
    }
  }

  // Nested db.transaction() calls run as savepoints inside the tick's transaction.
  const insertBatch = db.transaction((b: BatchWrite, reused: ReusedSaleId[]) => {
    const mine: ReusedSaleId[] = []
    insertSales(b, mine)
    // Only once the savepoint holds: a batch rolled back flags nothing.
    reused.push(...mine)
  })

  const writeAggregates = (committed: readonly BatchWrite[], tampered: readonly TamperFlag[]): void => {
    const agg = aggregate(committed)
    for (const c of agg.cabinets.values()) upsertCabinet.run(c.cabinetId, c.count, c.amountFen, c.skewedCount, c.lastSeq, c.lastHash, c.lastSaleAt)
    for (const d of agg.days.values()) upsertDay.run(d.cabinetId, d.day, d.count, d.amountFen)
    for (const k of agg.skus.values()) upsertSku.run(k.cabinetId, k.day, k.sku, k.qty, k.amountFen)
    for (const t of tampered) flagTampered.run(t.at, t.cabinetId)
    onTick?.(agg)
  }

  // The common case: every batch inserts cleanly, so no savepoint per batch
  // (two extra statements per batch, which for one-sale batches cost more than
  // the insert). Any constraint failure throws, rolling the whole attempt back,
  // and the tick is redone with a savepoint per batch below.
  const commitOptimistic = db.transaction((tick: TickWrite): TickResult => {
    const reused: ReusedSaleId[] = []
    for (const b of tick.batches) insertSales(b, reused)
    writeAggregates(tick.batches, tick.tampered)
    return { failed: new Map(), reused }
  })

  const commit = db.transaction((tick: TickWrite): TickResult => {
    const failed = new Map<number, BatchFailure>()
    const failedCabinets = new Set<string>()
    const committed: BatchWrite[] = []
    const reused: ReusedSaleId[] = []
    tick.batches.forEach((b, i) => {
      if (failedCabinets.has(b.cabinetId)) {
        failed.set(i, 'after_failure')
        return
      }
      try {
        insertBatch(b, reused)
        committed.push(b)
      } catch (err) {
        // Only a constraint violation is this batch's own fault; anything else
        // (I/O, disk full) aborts the whole tick and nobody gets an ack.
        const kind = classifyDbError(err)
        if (!isConstraintViolation(kind) || !db.inTransaction) throw err
        failed.set(i, kind === 'foreign_key_violation' ? 'unknown_cabinet' : 'conflict')
        failedCabinets.add(b.cabinetId)
      }
    })
    writeAggregates(committed, tick.tampered)
    return { failed, reused }
  })

  return {
    async loadChainHeads() {
      const m = new Map<string, ChainHead>()
      for (const r of heads.iterate()) m.set(r.cabinet_id, { seq: r.last_seq, hash: r.last_hash })
      return m
    },
    async chainHead(cabinetId) {
      const r = head.get(cabinetId)
      return r ? { seq: r.last_seq, hash: r.last_hash } : null
    },
    async saleHash(cabinetId, seq) {
      return hashOf.get(cabinetId, seq)?.hash ?? null
    },
    async commitTick(tick) {
      try {
        return commitOptimistic(tick)
      } catch (err) {
        if (!isConstraintViolation(classifyDbError(err))) throw err
        return commit(tick)
      }
    },
    async totals(cabinetIds) {
      const m = new Map<string, CabinetSalesTotals>()
      for (const id of cabinetIds) {
        const r = totalsOf.get(id)
        if (r) m.set(id, { count: r.sales_count, amountFen: r.amount_fen, lastSeq: r.last_seq, lastSaleAt: r.last_sale_at || null, chainStatus: r.chain_status })
      }
      return m
    },
    async list(cabinetId, afterSeq, limit) {
      return listSales.all(cabinetId, afterSeq, limit).map((r) => ({
        saleId: r.sale_id,
        seq: r.seq,
        soldAt: r.sold_at,
        recordedAt: r.recorded_at,
        payment: r.payment,
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
