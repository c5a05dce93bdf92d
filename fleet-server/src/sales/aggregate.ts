// Aggregates one tick's accepted batches in memory, so the store writes one
// upsert per key (cabinet; cabinet × day; cabinet × day × sku) instead of one
// per sale. Days are Asia/Shanghai dates of soldAt: certification and reports
// judge sales by the date they were made.
import type { SaleRecord } from './types.js'

/** What aggregation reads of a sale. */
export type AggregatedSale = Pick<SaleRecord, 'seq' | 'soldAt' | 'soldAtMs' | 'soldOn' | 'totalFen' | 'lines' | 'hash' | 'skewFlag'>

/** What aggregation reads of a batch. */
export interface AggregatedBatch {
  readonly cabinetId: string
  readonly sales: readonly AggregatedSale[]
}

export interface CabinetAggregate {
  readonly cabinetId: string
  count: number
  amountFen: number
  skewedCount: number
  lastSeq: number
  lastHash: string
  /** Normalised ISO UTC (ms precision), so SQL max() on strings is a time max. */
  lastSaleAt: string
  lastSaleAtMs: number
}

export interface DayAggregate {
  readonly cabinetId: string
  readonly day: string
  count: number
  amountFen: number
}

export interface SkuAggregate {
  readonly cabinetId: string
  readonly day: string
  readonly sku: string
  qty: number
  amountFen: number
}

export interface TickAggregates {
  readonly cabinets: Map<string, CabinetAggregate>
  readonly days: Map<string, DayAggregate>
  readonly skus: Map<string, SkuAggregate>
}

export function aggregate<B extends AggregatedBatch>(batches: Iterable<B>): TickAggregates {
  const a = createAggregator()
  a.add(batches)
  return a.result()
}

/**
 * Aggregates batches added over time, in commit order, as aggregate() would
 * all of them at once: the sales fold adds each tick's as it commits, so no
 * sale is kept until the fold (every per-sale object kept for a second was
 * promoted out of V8's young generation, and paid for again by the old one's
 * collector).
 */
export interface Aggregator {
  add(batches: Iterable<AggregatedBatch>): void
  /** The aggregates of everything added; nothing is added after. */
  result(): TickAggregates
}

export function createAggregator(): Aggregator {
  const cabinets = new Map<string, CabinetAggregate>()
  const days = new Map<string, DayAggregate>()
  const skus = new Map<string, SkuAggregate>()
  // Looked up by the parts (cabinet, then day, then sku), not by the joined
  // keys the maps above use: a joined key is a new string per sale and line,
  // hashed on every lookup, which was most of this function's cost. The
  // joined keys are made once per new entry.
  const cabinetDays = new Map<string, Map<string, DayState>>()
  const add = (batches: Iterable<AggregatedBatch>): void => {
    for (const b of batches) {
      const cabinetId = b.cabinetId
      let c = cabinets.get(cabinetId)
      let dayStates = cabinetDays.get(cabinetId)
      if (!c || !dayStates) {
        c = { cabinetId, count: 0, amountFen: 0, skewedCount: 0, lastSeq: 0, lastHash: '', lastSaleAt: '', lastSaleAtMs: Number.NEGATIVE_INFINITY }
        cabinets.set(cabinetId, c)
        dayStates = new Map()
        cabinetDays.set(cabinetId, dayStates)
      }
      for (const s of b.sales) {
        c.count++
        c.amountFen += s.totalFen
        if (s.skewFlag !== 0) c.skewedCount++
        // Batches of one cabinet arrive in chain order, so the last one seen is the head.
        c.lastSeq = s.seq
        c.lastHash = s.hash
        if (s.soldAtMs > c.lastSaleAtMs) {
          c.lastSaleAtMs = s.soldAtMs
          c.lastSaleAt = s.soldAt // normalised in result(), once per cabinet
        }
        let ds = dayStates.get(s.soldOn)
        if (!ds) {
          const key = `${cabinetId}\u0000${s.soldOn}`
          ds = { key, day: { cabinetId, day: s.soldOn, count: 0, amountFen: 0 }, skus: new Map() }
          days.set(key, ds.day)
          dayStates.set(s.soldOn, ds)
        }
        const d = ds.day
        d.count++
        d.amountFen += s.totalFen
        for (const l of s.lines) {
          let k = ds.skus.get(l.sku)
          if (!k) {
            k = { cabinetId, day: s.soldOn, sku: l.sku, qty: 0, amountFen: 0 }
            skus.set(`${ds.key}\u0000${l.sku}`, k)
            ds.skus.set(l.sku, k)
          }
          k.qty += l.qty
          k.amountFen += l.qty * l.unitPriceFen
        }
      }
    }
  }
  const result = (): TickAggregates => {
    for (const c of cabinets.values()) if (c.lastSaleAt !== '') c.lastSaleAt = isoUtcMs(c.lastSaleAt, c.lastSaleAtMs)
    return { cabinets, days, skus }
  }
  return { add, result }
}

/** A cabinet-day being aggregated: its entry in `days` (under `key`) and its skus by name. */
interface DayState {
  readonly key: string
  readonly day: DayAggregate
  readonly skus: Map<string, SkuAggregate>
}

/**
 * aggregate(batches), computed when first read. The SQLite tick hands its
 * aggregates only to the after-commit hook (the fold computes its own), and
 * that hook reads them only while forwarding holds a period open: most ticks
 * never need them.
 */
export function lazyAggregate<B extends AggregatedBatch>(batches: readonly B[]): TickAggregates {
  return new LazyAggregates(batches)
}

/**
 * A class, not an object literal with getters. With the literal (its getters
 * new closures on every call, holding the tick's batches) every tick's sales
 * outlived two scavenges: ~0.8 KB a message was promoted out of V8's young
 * generation, the most of the server's (measured by --trace-gc-nvp with a
 * tracer array hung on the records). The likely cause: V8 keeps accessors in
 * the object's hidden class, so each literal got one of its own, made in the
 * old generation, and those dead old objects kept the closures alive until
 * the next full GC.
 */
class LazyAggregates implements TickAggregates {
  private agg: TickAggregates | undefined
  constructor(private readonly batches: readonly AggregatedBatch[]) {}
  private get(): TickAggregates {
    return (this.agg ??= aggregate(this.batches))
  }
  get cabinets(): Map<string, CabinetAggregate> {
    return this.get().cabinets
  }
  get days(): Map<string, DayAggregate> {
    return this.get().days
  }
  get skus(): Map<string, SkuAggregate> {
    return this.get().skus
  }
}

/**
 * `soldAt` in toISOString()'s form (ms precision). A decoded soldAt that is 24
 * characters long is already that form (YYYY-MM-DDTHH:MM:SS.sssZ, the schema's
 * pattern with a 3-digit fraction), as agents send it: toISOString() would
 * give the same text back, at ~440 ns a call.
 */
function isoUtcMs(soldAt: string, soldAtMs: number): string {
  return soldAt.length === 24 ? soldAt : new Date(soldAtMs).toISOString()
}
