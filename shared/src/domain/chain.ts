// The per-cabinet sale hash chain. Each sale's hash covers its content and the
// previous sale's hash, so the server can detect a gap, an edit of a recorded
// sale, or a fork (two different sales claiming the same seq).
import * as crypto from 'node:crypto'

export const GENESIS_HASH = '0'.repeat(64)

export interface ChainedSaleContent {
  saleId: string
  seq: number
  soldAt: string
  recordedAt: string
  payment: string
  totalFen: number
  lines: ReadonlyArray<{ sku: string; qty: number; unitPriceFen: number }>
  prevHash: string
}

/**
 * One-shot SHA-256 hex: crypto.hash() (Node >= 20.12) skips the Hash object a
 * createHash() chain allocates, which the server pays for every sale it
 * checks. Same bytes either way; the chain is the fallback on older 20.x.
 */
const sha256Hex: (data: string) => string =
  typeof crypto.hash === 'function' ? (data) => crypto.hash('sha256', data, 'hex') : (data) => crypto.createHash('sha256').update(data).digest('hex')

/**
 * sha256 over a canonical, delimiter-separated rendering of the sale. The field
 * order is part of the protocol (v1); changing it needs a new message version.
 */
export function saleHash(cabinetId: string, s: ChainedSaleContent): string {
  let lines = ''
  for (const l of s.lines) lines += `${l.sku}\u001f${l.qty}\u001f${l.unitPriceFen}\u001e`
  return sha256Hex(`v1\u001d${cabinetId}\u001d${s.seq}\u001d${s.saleId}\u001d${s.soldAt}\u001d${s.recordedAt}\u001d${s.payment}\u001d${s.totalFen}\u001d${lines}\u001d${s.prevHash}`)
}
