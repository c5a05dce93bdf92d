// Renders a SaleBatchMsg payload from ledger sales, keeping it within the
// protocol's per-message size limit (protocol.md "The sale path", step 2).
import type { Sale, SaleBatchMsg } from '../../../shared/src/edge.js'

export interface RenderedBatch {
  batchId: string
  firstSeq: number
  lastSeq: number
  count: number
  payload: string
}

/**
 * Takes the longest prefix of `sales` (at least one) whose batch JSON stays
 * within `maxBytes`. Each sale is stringified once and the payload is joined
 * from those pieces, so measuring costs no second serialisation.
 */
export function renderBatch(cabinetId: string, batchId: string, sales: readonly Sale[], maxBytes: number): RenderedBatch {
  const first = sales[0]
  if (first === undefined) throw new RangeError('renderBatch needs at least one sale')
  const envelope: SaleBatchMsg = { v: 1, type: 'sales', batchId, cabinetId, sales: [] }
  // The envelope ends with `"sales":[]}`; cut before `]}` and put the sales there.
  const head = JSON.stringify(envelope).slice(0, -2)
  let bytes = Buffer.byteLength(head) + 2
  const parts: string[] = []
  let last = first
  for (const sale of sales) {
    const json = JSON.stringify(sale)
    const add = Buffer.byteLength(json) + (parts.length > 0 ? 1 : 0)
    if (parts.length > 0 && bytes + add > maxBytes) break
    bytes += add
    parts.push(json)
    last = sale
  }
  return { batchId, firstSeq: first.seq, lastSeq: last.seq, count: parts.length, payload: `${head}${parts.join(',')}]}` }
}
