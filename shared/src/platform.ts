// What the fleet server forwards to the national social poverty-alleviation
// platform (社会扶贫网), and what the stand-in accepts. One batch holds
// per-cabinet, per-period records; the idempotency key makes re-sending safe.
import { z } from 'zod'
import { Fen } from './domain/money.js'
import { CalendarDate, IsoUtc } from './domain/time.js'

export const PLATFORM_IDEMPOTENCY_HEADER = 'idempotency-key'
/** `sha256=<hex HMAC-SHA256 of the raw body with PLATFORM_SECRET>`. */
export const PLATFORM_SIGNATURE_HEADER = 'x-fupin-signature'

export const PlatformLine = z.strictObject({
  sku: z.string(),
  certificateNo: z.string(),
  supplierUscc: z.string(),
  qty: z.number().int().min(0),
  amountFen: Fen,
})

export const PlatformRecord = z.strictObject({
  cabinetId: z.string(),
  countyCode: z.string(),
  period: z.strictObject({ kind: z.enum(['day', 'week', 'month']), id: z.string(), from: CalendarDate, to: CalendarDate }),
  salesCount: z.number().int().min(0),
  amountFen: Fen,
  certifiedAmountFen: Fen,
  /** Certified share in basis points (rounded down). */
  shareBp: z.number().int().min(0).max(10_000),
  lines: z.array(PlatformLine),
  /** Set on a correction: the idempotency key of the batch this record corrects. */
  corrects: z.string().optional(),
  /** 0 for the report; n for the n-th correction of the same cabinet and period. */
  revision: z.number().int().min(0).optional(),
  /** Whether the record met the minimum certified share in force (decided in integer fen). */
  compliant: z.boolean().optional(),
  /** The minimum certified share in force, basis points. */
  minShareBp: z.number().int().min(0).max(10_000).optional(),
})
export type PlatformRecord = z.infer<typeof PlatformRecord>

export const PlatformBatch = z.strictObject({
  v: z.literal(1),
  idempotencyKey: z.string().min(8).max(128),
  kind: z.enum(['report', 'correction']),
  createdAt: IsoUtc,
  source: z.strictObject({ system: z.string(), regionCode: z.string(), regionName: z.string() }),
  records: z.array(PlatformRecord).min(1).max(10_000),
})
export type PlatformBatch = z.infer<typeof PlatformBatch>
