import { z } from 'zod'
import { Uuid } from '../domain/ids.js'

/** Codes a server may put in a rejected reply. */
export const RejectCode = z.enum([
  'BAD_MESSAGE',
  'MESSAGE_TOO_LARGE',
  'UNSUPPORTED_VERSION',
  'CABINET_MISMATCH',
  'SALE_TOTAL_MISMATCH',
  'SALE_SEQ_GAP',
  'SALE_CHAIN_BROKEN',
  'SALE_TAMPERED',
  // Issue 16 §2: an enrolled cabinet's batch without its signature, or with a wrong one.
  'SIGNATURE_MISSING',
  'SIGNATURE_INVALID',
])
export type RejectCode = z.infer<typeof RejectCode>

/**
 * cabinets/{id}/down/replies. `committed` is sent only after the sales are in
 * the server's database: it is the only thing that lets a cabinet clear its
 * outbox (the broker's PUBACK says nothing about storage).
 */
export const ReplyMsg = z.discriminatedUnion('status', [
  z.strictObject({
    v: z.literal(1),
    type: z.literal('reply'),
    status: z.literal('committed'),
    batchId: Uuid,
    /** Every sale with seq <= ackedSeq is committed on the server. */
    ackedSeq: z.number().int().min(0),
    ackedHash: z.string(),
  }),
  z.strictObject({
    v: z.literal(1),
    type: z.literal('reply'),
    status: z.literal('rejected'),
    /** Absent when the message was too broken to read one. */
    batchId: Uuid.optional(),
    code: RejectCode,
    message: z.string(),
    /** For SALE_SEQ_GAP: the seq the server needs next. */
    expectedSeq: z.number().int().min(1).optional(),
    /** The highest seq the server has committed for this cabinet. */
    committedSeq: z.number().int().min(0).optional(),
  }),
])
export type ReplyMsg = z.infer<typeof ReplyMsg>
