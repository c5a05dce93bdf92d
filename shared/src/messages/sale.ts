import { z } from 'zod'
import { CabinetId, Uuid } from '../domain/ids.js'
import { Fen } from '../domain/money.js'
import { IsoUtc } from '../domain/time.js'
import { MAX_BATCH_SALES, MAX_LINES_PER_SALE } from './limits.js'

export const Sku = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, '商品编码须为 1–64 位字母、数字或 _ . : -')
export const Payment = z.enum(['wechat', 'alipay', 'unionpay', 'cash'])
export type Payment = z.infer<typeof Payment>
const Hash = z.string().regex(/^[0-9a-f]{64}$/, '须为 64 位十六进制哈希值')

export const SaleLine = z.strictObject({
  sku: Sku,
  qty: z.number().int().min(1).max(10_000),
  unitPriceFen: Fen,
})
export type SaleLine = z.infer<typeof SaleLine>

/** One sale as recorded in the cabinet ledger and sent upstream. */
export const Sale = z.strictObject({
  saleId: Uuid,
  seq: z.number().int().min(1),
  /** When the cabinet's controller says the sale happened (event time). */
  soldAt: IsoUtc,
  /** When the agent wrote it to its ledger (agent wall clock). */
  recordedAt: IsoUtc,
  payment: Payment,
  lines: z.array(SaleLine).min(1).max(MAX_LINES_PER_SALE),
  totalFen: Fen,
  prevHash: Hash,
  hash: Hash,
})
export type Sale = z.infer<typeof Sale>

/** cabinets/{id}/up/sales: consecutive sales, ascending seq. */
export const SaleBatchMsg = z.strictObject({
  v: z.literal(1),
  type: z.literal('sales'),
  batchId: Uuid,
  cabinetId: CabinetId,
  sales: z.array(Sale).min(1).max(MAX_BATCH_SALES),
  /**
   * Issue 16 §2: base64 Ed25519 signature (64 bytes) of signedBatchBytes()
   * (signature.ts) by the key the cabinet enrolled with. Absent from agents
   * that never enrolled (password-provisioned cabinets, simulators).
   */
  sig: z.string().regex(/^[A-Za-z0-9+/]{86}==$/, '签名须为 64 字节的 base64').optional(),
})
export type SaleBatchMsg = z.infer<typeof SaleBatchMsg>

export function lineTotalFen(lines: ReadonlyArray<SaleLine>): number {
  let t = 0
  for (const l of lines) t += l.qty * l.unitPriceFen
  return t
}
