// Builders of valid, hash-chained sales and batches, as an edge agent would
// send them; tests break one property at a time from there.
import {
  GENESIS_HASH,
  lineTotalFen,
  saleHash,
  uuidv7,
  type Sale,
  type SaleBatchMsg,
  type SaleLine,
} from '../../shared/src/index.js'

export interface ChainOptions {
  /** Seq of the first sale (default 1). */
  fromSeq?: number
  /** Hash the first sale links to (default GENESIS_HASH, or the last of `after`). */
  prevHash?: string
  /** Continue this chain: fromSeq and prevHash follow its last sale. */
  after?: readonly Sale[]
  /** soldAt of sale i (0-based within this call); default: now. */
  soldAt?: (i: number) => string
  /** recordedAt of sale i; default: soldAt. */
  recordedAt?: (i: number) => string
  lines?: (i: number) => SaleLine[]
  payment?: Sale['payment']
}

export const aLine = (overrides: Partial<SaleLine> = {}): SaleLine => ({ sku: 'DY-HONEY-500G', qty: 1, unitPriceFen: 3990, ...overrides })

/** n valid sales of `cabinetId`, chained to each other and to the given start. */
export function aChain(cabinetId: string, n: number, opts: ChainOptions = {}): Sale[] {
  const last = opts.after?.at(-1)
  let seq = opts.fromSeq ?? (last ? last.seq + 1 : 1)
  let prevHash = opts.prevHash ?? last?.hash ?? GENESIS_HASH
  const out: Sale[] = []
  for (let i = 0; i < n; i++) {
    const soldAt = opts.soldAt?.(i) ?? new Date().toISOString()
    const lines = opts.lines?.(i) ?? [aLine({ sku: `SKU-${i % 3}`, qty: 1 + (i % 2), unitPriceFen: 1000 + i })]
    const sale: Sale = {
      saleId: uuidv7(),
      seq,
      soldAt,
      recordedAt: opts.recordedAt?.(i) ?? soldAt,
      payment: opts.payment ?? 'wechat',
      lines,
      totalFen: lineTotalFen(lines),
      prevHash,
      hash: '',
    }
    sale.hash = saleHash(cabinetId, sale)
    out.push(sale)
    prevHash = sale.hash
    seq++
  }
  return out
}

/** Re-hashes a sale after a test edited it, keeping it internally valid. */
export function rehash(cabinetId: string, sale: Sale): Sale {
  return { ...sale, hash: saleHash(cabinetId, sale) }
}

export function aBatch(cabinetId: string, sales: readonly Sale[], overrides: Partial<SaleBatchMsg> = {}): SaleBatchMsg {
  return { v: 1, type: 'sales', batchId: uuidv7(), cabinetId, sales: [...sales], ...overrides }
}

export const sumFen = (sales: readonly Sale[]): number => sales.reduce((t, s) => t + s.totalFen, 0)
