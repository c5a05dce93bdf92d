// Renders a SaleBatchMsg payload from ledger sales, keeping it within the
// protocol's per-message size limit (protocol.md "The sale path", step 2).
import type { KeyObject } from 'node:crypto'
import { signBatch, SIGNATURE_B64_LENGTH, type Sale, type SaleBatchMsg } from '../../../shared/src/edge.js'

/** Signs a batch (issue 16 §2): base64 signature of signedBatchBytes(cabinetId, batchId, hashes). */
export type BatchSigner = (cabinetId: string, batchId: string, hashes: readonly string[]) => string

/** The signer of an enrolled board's key (edge-agent/src/config.ts reads it from DIR/signing-key.pem). */
export const batchSigner = (key: KeyObject): BatchSigner => (cabinetId, batchId, hashes) => signBatch(key, cabinetId, batchId, hashes)

/** `,"sig":"<88 base64 chars>"` */
const SIG_FIELD_BYTES = ',"sig":""'.length + SIGNATURE_B64_LENGTH

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
export function renderBatch(cabinetId: string, batchId: string, sales: readonly Sale[], maxBytes: number, sign?: BatchSigner): RenderedBatch {
  const first = sales[0]
  if (first === undefined) throw new RangeError('renderBatch needs at least one sale')
  const envelope: SaleBatchMsg = { v: 1, type: 'sales', batchId, cabinetId, sales: [] }
  // The envelope ends with `"sales":[]}`; cut before `]}` and put the sales there.
  const head = JSON.stringify(envelope).slice(0, -2)
  // The signature goes after the sales (it covers the ones that fit): its room is kept from the start.
  let bytes = Buffer.byteLength(head) + 2 + (sign ? SIG_FIELD_BYTES : 0)
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
  const sig = sign ? `,"sig":"${sign(cabinetId, batchId, sales.slice(0, parts.length).map((s) => s.hash))}"` : ''
  return { batchId, firstSeq: first.seq, lastSeq: last.seq, count: parts.length, payload: `${head}${parts.join(',')}]${sig}}` }
}
