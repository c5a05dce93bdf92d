// The cabinet's sale ledger: one SQLite file, the only truth about sales until
// the server commits them. Invariants: seq is gapless from 1, each hash chains
// to the previous one, and lastAckedSeq <= lastSeq.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { Database, type SqliteDatabase } from './sqlite.js'
import {
  AppError, GENESIS_HASH, lineTotalFen, saleHash, toIsoUtc, uuidv7,
  type CatalogItem, type CatalogMsg, type CommandResult, type Payment, type PlanogramSlot, type Sale, type SaleLine,
} from '../../../shared/src/edge.js'
import { migrate } from './migrations.js'

export interface SaleInput {
  items: SaleLine[]
  payment: Payment
  soldAt?: string | undefined
  saleId?: string | undefined
  /** The controller's slot per line, when it gave one (stock; not part of the sale). */
  slots?: ReadonlyArray<string | undefined> | undefined
}

/** Runs inside the sale's transaction (stock): a throw rolls the sale back. */
export type SaleHook = (lines: readonly SaleLine[], slots: ReadonlyArray<string | undefined>) => void

export interface RecordResult {
  saleId: string
  seq: number
  /** false when a sale with this client-supplied saleId was already recorded. */
  created: boolean
}

export interface LedgerOptions {
  dataDir: string
  cabinetId: string
  /** Test only: PRAGMA max_page_count, so inserts can hit SQLITE_FULL. */
  maxPages?: number | undefined
}

interface SaleRow {
  seq: number
  sale_id: string
  sold_at: string
  recorded_at: string
  payment: Payment
  lines: string
  total_fen: number
  prev_hash: string
  hash: string
}

type Statements = ReturnType<typeof prepare>

function prepare(db: SqliteDatabase) {
  return {
    insertSale: db.prepare<NewSaleValues>(
      `INSERT INTO sales (seq, sale_id, sold_at, recorded_at, payment, lines, total_fen, prev_hash, hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sale_id) DO NOTHING`,
    ),
    seqOfSaleId: db.prepare<[string], { seq: number }>('SELECT seq FROM sales WHERE sale_id = ?'),
    tail: db.prepare<[], { seq: number; hash: string }>('SELECT seq, hash FROM sales ORDER BY seq DESC LIMIT 1'),
    salesFrom: db.prepare<[number, number], SaleRow>('SELECT * FROM sales WHERE seq >= ? ORDER BY seq LIMIT ?'),
    recordedAtOf: db.prepare<[number], { recorded_at: string }>('SELECT recorded_at FROM sales WHERE seq = ?'),
    getMeta: db.prepare<[string], { value: unknown }>('SELECT value FROM meta WHERE key = ?'),
    setMeta: db.prepare<[string, string | number]>('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    clearCatalog: db.prepare('DELETE FROM catalog'),
    insertCatalogItem: db.prepare<[string, string, number, number, string | null]>(
      'INSERT OR REPLACE INTO catalog (sku, name, price_fen, is_certified, certificate_no) VALUES (?, ?, ?, ?, ?)',
    ),
    catalogItems: db.prepare<[], { sku: string; name: string; price_fen: number; is_certified: number; certificate_no: string | null }>(
      'SELECT * FROM catalog ORDER BY sku',
    ),
    catalogPrice: db.prepare<[string], { price_fen: number }>('SELECT price_fen FROM catalog WHERE sku = ?'),
    getCommand: db.prepare<[string], { kind: string; state: string; result: string }>('SELECT kind, state, result FROM commands WHERE command_id = ?'),
    putCommand: db.prepare<[string, string, string, string, string, string]>(
      `INSERT INTO commands (command_id, kind, state, result, received_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (command_id) DO UPDATE SET state = excluded.state, result = excluded.result, updated_at = excluded.updated_at`,
    ),
    setPriceOverride: db.prepare<[string, number, string, string]>(
      `INSERT INTO price_overrides (sku, price_fen, command_id, set_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (sku) DO UPDATE SET price_fen = excluded.price_fen, command_id = excluded.command_id, set_at = excluded.set_at`,
    ),
    priceOverrides: db.prepare<[], { sku: string; price_fen: number }>('SELECT sku, price_fen FROM price_overrides ORDER BY sku'),
    clearPlanogram: db.prepare('DELETE FROM planogram'),
    insertSlot: db.prepare<[string, string, number, number]>('INSERT INTO planogram (slot, sku, capacity, par) VALUES (?, ?, ?, ?)'),
    planogram: db.prepare<[], PlanogramSlot>('SELECT slot, sku, capacity, par FROM planogram ORDER BY slot'),
  }
}

/** Opens (creating and migrating when needed) DIR/ledger.db. Throws AppError('CONFIG_INVALID') for another cabinet's ledger. */
export function openLedger(opts: LedgerOptions): Ledger {
  mkdirSync(opts.dataDir, { recursive: true })
  const db = new Database(join(opts.dataDir, 'ledger.db'))
  try {
    db.pragma('journal_mode = WAL')
    // The sale must survive power loss once POST /sales has answered 201; this
    // build's WAL default (NORMAL) may lose the last commits.
    db.pragma('synchronous = FULL')
    db.pragma('foreign_keys = ON')
    // 1 MiB page cache: a simulator runs thousands of ledgers in one process.
    db.pragma('cache_size = -1024')
    db.pragma('journal_size_limit = 8388608') // 8 MiB: WAL file truncated back after checkpoints
    if (opts.maxPages !== undefined) db.pragma(`max_page_count = ${opts.maxPages}`)
    migrate(db)
    const stmts = prepare(db)
    const owner = stmts.getMeta.get('cabinetId')?.value
    if (owner === undefined) stmts.setMeta.run('cabinetId', opts.cabinetId)
    else if (owner !== opts.cabinetId) {
      throw new AppError('CONFIG_INVALID', `ledger in ${opts.dataDir} belongs to cabinet ${String(owner)}, not ${opts.cabinetId}`, 500)
    }
    const tail = stmts.tail.get()
    const acked = Number(stmts.getMeta.get('lastAckedSeq')?.value ?? 0)
    const catalogVersion = stmts.getMeta.get('catalogVersion')?.value
    const prices = new Map(stmts.priceOverrides.all().map((r) => [r.sku, r.price_fen] as const))
    return new Ledger(db, stmts, opts.cabinetId, {
      lastSeq: tail?.seq ?? 0,
      lastHash: tail?.hash ?? GENESIS_HASH,
      lastAckedSeq: Math.min(acked, tail?.seq ?? 0),
      catalogVersion: catalogVersion === undefined ? null : Number(catalogVersion),
      isSalesLocked: Number(stmts.getMeta.get('salesLocked')?.value ?? 0) === 1,
      prices,
    })
  } catch (err) {
    db.close()
    throw err
  }
}

interface LedgerState {
  lastSeq: number
  lastHash: string
  lastAckedSeq: number
  catalogVersion: number | null
  /** Sales refused by a remote `lock` until an `unlock` (kept across restarts). */
  isSalesLocked: boolean
  /** Price overrides by sku (remote `price` commands), cached: the sale path reads them. */
  prices: Map<string, number>
}

/** A remote command as the ledger remembers it (de-duplication, and the result to report again). */
export interface StoredCommand {
  readonly kind: string
  readonly state: string
  readonly result: CommandResult
}

/** A new sale's values: seq, sale_id, sold_at, recorded_at, payment, lines, total_fen, prev_hash, hash. */
type NewSaleValues = [number, string, string, string, string, string, number, string, string]

export class Ledger {
  private saleHook: SaleHook | null = null
  // One transaction with the stock decrement (issue 16 §3): both or neither
  // survive a crash. Built once: better-sqlite3 builds a wrapper and its
  // variants on every db.transaction() call, ~7 µs of a sale.
  private readonly insertSale: (values: NewSaleValues, input: SaleInput) => number

  constructor(
    private readonly db: SqliteDatabase,
    private readonly stmts: Statements,
    readonly cabinetId: string,
    private readonly state: LedgerState,
  ) {
    this.insertSale = db.transaction((values: NewSaleValues, input: SaleInput) => {
      const n = stmts.insertSale.run(...values).changes
      if (n === 1) this.saleHook?.(input.items, input.slots ?? [])
      return n
    })
  }

  get lastSeq(): number {
    return this.state.lastSeq
  }

  get lastAckedSeq(): number {
    return this.state.lastAckedSeq
  }

  get catalogVersion(): number | null {
    return this.state.catalogVersion
  }

  /** Sales not yet committed by the server (seq is gapless, so a subtraction). */
  get pending(): number {
    return this.state.lastSeq - this.state.lastAckedSeq
  }

  /**
   * Records one paid sale durably. A single INSERT is one implicit transaction
   * (WAL, synchronous=FULL): when it returns the sale is on disk. The chain tail
   * is cached, so the hot path does no reads. Idempotent on a client-supplied
   * saleId. Throws AppError('LEDGER_WRITE_FAILED') and records nothing if the
   * write fails.
   */
  record(input: SaleInput, nowMs: number): RecordResult {
    const recordedAt = new Date(nowMs).toISOString()
    // Kept as the controller reports it, even if skewed; the server flags skew.
    const soldAt = input.soldAt === undefined ? recordedAt : normaliseSoldAt(input.soldAt)
    const saleId = input.saleId === undefined ? uuidv7(nowMs) : input.saleId.toLowerCase()
    const seq = this.state.lastSeq + 1
    const prevHash = this.state.lastHash
    const totalFen = lineTotalFen(input.items)
    const hash = saleHash(this.cabinetId, { saleId, seq, soldAt, recordedAt, payment: input.payment, totalFen, lines: input.items, prevHash })
    let changes: number
    try {
      changes = this.insertSale([seq, saleId, soldAt, recordedAt, input.payment, JSON.stringify(input.items), totalFen, prevHash, hash], input)
    } catch (err) {
      this.reloadTail()
      throw ledgerWriteFailed(err)
    }
    if (changes === 0) {
      const existing = this.stmts.seqOfSaleId.get(saleId)
      if (!existing) throw new AppError('LEDGER_WRITE_FAILED', `sale ${saleId} conflicted but cannot be read back`, 503)
      return { saleId, seq: existing.seq, created: false }
    }
    this.state.lastSeq = seq
    this.state.lastHash = hash
    return { saleId, seq, created: true }
  }

  /** Registers what runs inside each new sale's transaction (the stock decrement). */
  onSale(hook: SaleHook): void {
    this.saleHook = hook
  }

  /** The ledger's connection, for a domain whose tables live beside the sales (stock) and join their transactions. */
  get sqlite(): SqliteDatabase {
    return this.db
  }

  /** Up to `limit` sales from `fromSeq` upward, oldest first, as sent upstream. */
  salesFrom(fromSeq: number, limit: number): Sale[] {
    return this.stmts.salesFrom.all(fromSeq, limit).map((r) => ({
      saleId: r.sale_id,
      seq: r.seq,
      soldAt: r.sold_at,
      recordedAt: r.recorded_at,
      payment: r.payment,
      lines: JSON.parse(r.lines) as SaleLine[],
      totalFen: r.total_fen,
      prevHash: r.prev_hash,
      hash: r.hash,
    }))
  }

  /** recordedAt of the oldest unacknowledged sale, null when none is pending. */
  oldestPendingRecordedAt(): string | null {
    if (this.pending === 0) return null
    return this.stmts.recordedAtOf.get(this.state.lastAckedSeq + 1)?.recorded_at ?? null
  }

  /** Durably moves the acknowledged mark (down too: a rewind resends). Clamped to [0, lastSeq]. */
  setLastAckedSeq(seq: number): number {
    const next = Math.max(0, Math.min(seq, this.state.lastSeq))
    if (next !== this.state.lastAckedSeq) {
      this.stmts.setMeta.run('lastAckedSeq', next)
      this.state.lastAckedSeq = next
    }
    return next
  }

  /**
   * Replaces the catalog in one transaction when `msg.version` is newer (or,
   * with `isReapply`, the same: a remote catalog-refresh); returns whether it did.
   */
  applyCatalog(msg: CatalogMsg, isReapply = false): boolean {
    const apply = this.db.transaction((m: CatalogMsg) => {
      const current = this.state.catalogVersion
      if (current !== null && (m.version < current || (m.version === current && !isReapply))) return false
      this.stmts.clearCatalog.run()
      for (const it of m.items) {
        this.stmts.insertCatalogItem.run(it.sku, it.name, it.priceFen, it.isCertified ? 1 : 0, it.certificateNo ?? null)
      }
      this.stmts.setMeta.run('catalogVersion', m.version)
      return true
    })
    const applied = apply.immediate(msg)
    if (applied) this.state.catalogVersion = msg.version
    return applied
  }

  catalogItems(): CatalogItem[] {
    return this.stmts.catalogItems.all().map((r) => ({
      sku: r.sku,
      name: r.name,
      priceFen: r.price_fen,
      isCertified: r.is_certified === 1,
      ...(r.certificate_no !== null && { certificateNo: r.certificate_no }),
    }))
  }

  get isSalesLocked(): boolean {
    return this.state.isSalesLocked
  }

  /** Durably locks or unlocks sales (a remote command). */
  setSalesLocked(isLocked: boolean): void {
    this.stmts.setMeta.run('salesLocked', isLocked ? 1 : 0)
    this.state.isSalesLocked = isLocked
  }

  /** The price a sale of `sku` takes when the controller gives none: an override wins over the catalog. */
  effectivePriceFen(sku: string): number | null {
    return this.state.prices.get(sku) ?? this.stmts.catalogPrice.get(sku)?.price_fen ?? null
  }

  priceOverrides(): ReadonlyMap<string, number> {
    return this.state.prices
  }

  setPriceOverride(sku: string, priceFen: number, commandId: string, nowMs: number): void {
    this.stmts.setPriceOverride.run(sku, priceFen, commandId, new Date(nowMs).toISOString())
    this.state.prices.set(sku, priceFen)
  }

  /** Replaces the planogram in one transaction. */
  setPlanogram(slots: readonly PlanogramSlot[]): void {
    this.db.transaction((list: readonly PlanogramSlot[]) => {
      this.stmts.clearPlanogram.run()
      for (const s of list) this.stmts.insertSlot.run(s.slot, s.sku, s.capacity, s.par)
    }).immediate(slots)
  }

  planogram(): PlanogramSlot[] {
    return this.stmts.planogram.all()
  }

  /** The command as last stored, null for one never seen. */
  command(commandId: string): StoredCommand | null {
    const r = this.stmts.getCommand.get(commandId)
    return r ? { kind: r.kind, state: r.state, result: JSON.parse(r.result) as CommandResult } : null
  }

  /** Stores (or moves on) a command's state and result, durably, before it is reported. */
  putCommand(commandId: string, kind: string, state: string, result: CommandResult, nowMs: number): void {
    const at = new Date(nowMs).toISOString()
    this.stmts.putCommand.run(commandId, kind, state, JSON.stringify(result), at, at)
  }

  close(): void {
    if (this.db.open) this.db.close()
  }

  // After a failed write the cached tail may disagree with the file (an I/O
  // error can strike around the commit); the file is the truth.
  private reloadTail(): void {
    try {
      const tail = this.stmts.tail.get()
      this.state.lastSeq = tail?.seq ?? 0
      this.state.lastHash = tail?.hash ?? GENESIS_HASH
    } catch {
      // Still failing: keep the cache; the next write will fail or succeed on its own.
    }
  }
}

function normaliseSoldAt(soldAt: string): string {
  try {
    return toIsoUtc(soldAt)
  } catch {
    throw new AppError('VALIDATION_FAILED', `soldAt: ${JSON.stringify(soldAt)} is not a real instant`, 400)
  }
}

function ledgerWriteFailed(err: unknown): AppError {
  const code = typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : undefined
  const isFull = code === 'SQLITE_FULL'
  const message = isFull
    ? 'the sale was not recorded: the ledger disk is full'
    : 'the sale was not recorded: the ledger could not be written'
  const appErr = new AppError('LEDGER_WRITE_FAILED', message, isFull ? 507 : 503, { sqliteCode: code ?? null })
  appErr.cause = err // for the log line; never sent to the client
  return appErr
}
