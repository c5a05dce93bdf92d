// The per-cabinet sale hash chain. Each sale's hash covers its content and the
// previous sale's hash, so the server can detect a gap, an edit of a recorded
// sale, or a fork (two different sales claiming the same seq).
import { createHash } from 'node:crypto'

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
 * sha256 over a canonical, delimiter-separated rendering of the sale. The field
 * order is part of the protocol (v1); changing it needs a new message version.
 */
export function saleHash(cabinetId: string, s: ChainedSaleContent): string {
  let lines = ''
  for (const l of s.lines) lines += `${l.sku}\u001f${l.qty}\u001f${l.unitPriceFen}\u001e`
  return createHash('sha256')
    .update(`v1\u001d${cabinetId}\u001d${s.seq}\u001d${s.saleId}\u001d${s.soldAt}\u001d${s.recordedAt}\u001d${s.payment}\u001d${s.totalFen}\u001d${lines}\u001d${s.prevHash}`)
    .digest('hex')
}
