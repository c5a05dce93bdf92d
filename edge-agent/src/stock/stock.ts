// The cabinet's stock by slot (issue 16 §3), kept in the ledger's SQLite file
// beside the sales: a sale's decrement runs inside the transaction that
// records the sale (Ledger.record calls onSale), so a SIGKILL leaves either
// both or neither. A paid sale is never refused for stock: a slot stops at 0
// and the shortfall is counted in `oversold`. Every change bumps `stockRev`
// (meta), so the server can keep the newest report.
import type { PlanogramSlot, RestockBody, SaleLine, StockSlot } from '../../../shared/src/edge.js'
import { AppError, uuidv7 } from '../../../shared/src/edge.js'
import type { SqliteDatabase } from '../ledger/sqlite.js'

interface SlotRow {
  slot: string
  sku: string
  capacity: number
  par: number
  qty: number
  oversold: number
}

export interface RestockResult {
  restockId: string
  /** false: this restockId was applied before; nothing changed now. */
  created: boolean
  /** Units added per slot (after clamping at capacity). */
  added: Record<string, number>
}

function prepare(db: SqliteDatabase) {
  return {
    all: db.prepare<[], SlotRow>('SELECT slot, sku, capacity, par, qty, oversold FROM stock ORDER BY slot'),
    one: db.prepare<[string], SlotRow>('SELECT slot, sku, capacity, par, qty, oversold FROM stock WHERE slot = ?'),
    ofSku: db.prepare<[string], SlotRow>('SELECT slot, sku, capacity, par, qty, oversold FROM stock WHERE sku = ? ORDER BY qty DESC, slot'),
    clear: db.prepare('DELETE FROM stock'),
    insert: db.prepare<[string, string, number, number, number, number]>('INSERT INTO stock (slot, sku, capacity, par, qty, oversold) VALUES (?, ?, ?, ?, ?, ?)'),
    take: db.prepare<[number, number, string]>('UPDATE stock SET qty = qty - ?, oversold = oversold + ? WHERE slot = ?'),
    setQty: db.prepare<[number, string]>('UPDATE stock SET qty = ? WHERE slot = ?'),
    insertRestock: db.prepare<[string, string, string, string]>('INSERT INTO restocks (restock_id, source, lines, at) VALUES (?, ?, ?, ?) ON CONFLICT (restock_id) DO NOTHING'),
    restockLines: db.prepare<[string], { lines: string }>('SELECT lines FROM restocks WHERE restock_id = ?'),
    rev: db.prepare<[], { value: unknown }>("SELECT value FROM meta WHERE key = 'stockRev'"),
    setRev: db.prepare<[number]>("INSERT INTO meta (key, value) VALUES ('stockRev', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
  }
}

export class Stock {
  private readonly stmts: ReturnType<typeof prepare>
  private rev: number

  /**
   * @param changed called after every change (possibly still inside the
   *   enclosing transaction: it must only schedule, never read or throw).
   */
  constructor(
    private readonly db: SqliteDatabase,
    private readonly now: () => number,
    private readonly changed: () => void,
  ) {
    this.stmts = prepare(db)
    this.rev = Number(this.stmts.rev.get()?.value ?? 0)
  }

  get revision(): number {
    return this.rev
  }

  slots(): StockSlot[] {
    return this.stmts.all.all()
  }

  /**
   * Sets the slots from a planogram (in the caller's transaction when there is
   * one): a slot keeping its sku keeps its qty (clamped to the new capacity)
   * and its oversold count; a new or re-assigned slot starts at 0.
   */
  applyPlanogram(slots: readonly PlanogramSlot[]): void {
    this.db.transaction(() => {
      const before = new Map(this.stmts.all.all().map((r) => [r.slot, r] as const))
      this.stmts.clear.run()
      for (const s of slots) {
        const was = before.get(s.slot)
        const isKept = was !== undefined && was.sku === s.sku
        this.stmts.insert.run(s.slot, s.sku, s.capacity, s.par, isKept ? Math.min(was.qty, s.capacity) : 0, isKept ? was.oversold : 0)
      }
      this.bump()
    }).immediate()
  }

  /**
   * A sale's lines come off the stock. Runs inside Ledger.record's
   * transaction; never throws for business reasons (the sale is paid).
   * `slots[i]` is the controller's slot for line i, when it gave one.
   */
  onSale(lines: readonly SaleLine[], slots: ReadonlyArray<string | undefined>): void {
    let isChanged = false
    lines.forEach((line, i) => {
      const named = slots[i] === undefined ? undefined : this.stmts.one.get(slots[i])
      // The named slot, else the sku's slots fullest first; a sku in no slot is not stocked here.
      const from = named ? [named] : this.stmts.ofSku.all(line.sku)
      if (from.length === 0) return
      let left = line.qty
      for (const s of from) {
        const take = Math.min(left, s.qty)
        if (take > 0) this.stmts.take.run(take, 0, s.slot)
        left -= take
        if (left === 0) break
      }
      // The shortfall is counted on the slot it should have come from.
      if (left > 0) this.stmts.take.run(0, left, from[0]!.slot)
      isChanged = true
    })
    if (isChanged) this.bump()
  }

  /**
   * Adds units to slots (clamped at capacity) or fills every slot to its par,
   * once per restockId. Throws AppError VALIDATION_FAILED for a slot the
   * planogram does not have (nothing applied).
   */
  restock(body: RestockBody, source: 'local' | 'command'): RestockResult {
    const nowMs = this.now()
    const restockId = body.restockId ?? uuidv7(nowMs)
    return this.db.transaction((): RestockResult => {
      const seen = this.stmts.restockLines.get(restockId)
      if (seen) return { restockId, created: false, added: JSON.parse(seen.lines) as Record<string, number> }
      const added: Record<string, number> = {}
      if ('fill' in body) {
        for (const s of this.stmts.all.all()) {
          if (s.qty >= s.par) continue
          added[s.slot] = s.par - s.qty
          this.stmts.setQty.run(s.par, s.slot)
        }
      } else {
        for (const l of body.slots) {
          const s = this.stmts.one.get(l.slot)
          if (!s) throw new AppError('VALIDATION_FAILED', `slot ${l.slot} is not in this cabinet's planogram`, 400, { slot: l.slot }, `货道 “${l.slot}” 不在本专柜的货道配置中`)
          const qty = Math.min(s.capacity, s.qty + l.qty)
          added[s.slot] = qty - s.qty
          this.stmts.setQty.run(qty, s.slot)
        }
      }
      this.stmts.insertRestock.run(restockId, source, JSON.stringify(added), new Date(nowMs).toISOString())
      this.bump()
      return { restockId, created: true, added }
    }).immediate()
  }

  private bump(): void {
    this.rev += 1
    this.stmts.setRev.run(this.rev)
    this.changed()
  }
}
