// Issue 16 §2: the auditor's export of one cabinet's month — the sale records
// exactly as hashed, the chain's entry hash, and the batch signatures covering
// them — so the chain and the signatures can be checked offline (verify.ts).
import { z } from 'zod'
import { CabinetId } from '../domain/ids.js'
import { Sale } from '../messages/sale.js'

export const AuditMonth = z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, '月份应写作四位年份加两位月份，如 2026-12')

export const AuditExportQuery = z.strictObject({ month: AuditMonth })
export type AuditExportQuery = z.infer<typeof AuditExportQuery>

export const AuditSignature = z.strictObject({
  batchId: z.string(),
  firstSeq: z.number().int().min(1),
  lastSeq: z.number().int().min(1),
  /** base64 Ed25519 over signedBatchBytes(cabinetId, batchId, hashes of firstSeq..lastSeq). */
  sig: z.string(),
})
export type AuditSignature = z.infer<typeof AuditSignature>

export const AuditExport = z.strictObject({
  v: z.literal(1),
  kind: z.literal('fupin-fleet-audit-export'),
  cabinetId: CabinetId,
  month: AuditMonth,
  generatedAt: z.string(),
  /** The cabinet's registered Ed25519 public key (SPKI PEM); null when it never enrolled. */
  publicKey: z.string().nullable(),
  enrolledAt: z.string().nullable(),
  /** prevHash of the first record: the chain this segment continues. */
  entryHash: z.string(),
  /**
   * Consecutive seqs: from the month's first sale to its last (Asia/Shanghai
   * soldAt), widened to whole signed batches. Fields exactly as hashed (saleHash).
   */
  records: z.array(Sale),
  signatures: z.array(AuditSignature),
})
export type AuditExport = z.infer<typeof AuditExport>
