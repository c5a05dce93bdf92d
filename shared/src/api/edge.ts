// HTTP bodies of the edge agent's local API.
import { z } from 'zod'
import { Payment, SaleLine } from '../messages/sale.js'
import { IsoInstant } from '../domain/time.js'
import { MAX_LINES_PER_SALE } from '../messages/limits.js'

export const PostSaleBody = z.strictObject({
  items: z.array(SaleLine).min(1).max(MAX_LINES_PER_SALE),
  payment: Payment,
  /** Controller time of the sale; the agent's clock when absent. */
  soldAt: IsoInstant.optional(),
  /** Optional client-chosen id (UUID) so a retried POST does not record twice. */
  saleId: z.uuid().optional(),
})
export type PostSaleBody = z.infer<typeof PostSaleBody>

export const PostSaleReply = z.object({ saleId: z.uuid(), seq: z.number().int() })
export type PostSaleReply = z.infer<typeof PostSaleReply>

export const AgentStatus = z.object({
  cabinetId: z.string(),
  connected: z.boolean(),
  lastSeq: z.number().int(),
  lastAckedSeq: z.number().int(),
  pending: z.number().int(),
  catalogVersion: z.number().int().nullable(),
})
export type AgentStatus = z.infer<typeof AgentStatus>
