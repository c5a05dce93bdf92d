// HTTP bodies of the edge agent's local API.
import { z } from 'zod'
import { Fen } from '../domain/money.js'
import { Payment, SaleLine } from '../messages/sale.js'
import { IsoInstant } from '../domain/time.js'
import { MAX_LINES_PER_SALE } from '../messages/limits.js'
import { SlotId } from '../messages/command.js'

export const PostSaleBody = z.strictObject({
  items: z.array(SaleLine).min(1).max(MAX_LINES_PER_SALE),
  payment: Payment,
  /** Controller time of the sale; the agent's clock when absent. */
  soldAt: IsoInstant.optional(),
  /** Optional client-chosen id (UUID) so a retried POST does not record twice. */
  saleId: z.uuid().optional(),
})
export type PostSaleBody = z.infer<typeof PostSaleBody>

/**
 * What POST /sales accepts (issue 16): PostSaleBody whose lines may leave out
 * unitPriceFen, and then take the cabinet's own price for the sku (a remote
 * price override, else the catalog's). A given price is recorded as given:
 * money has changed hands at it.
 */
export const PostSaleLine = SaleLine.extend({
  unitPriceFen: Fen.optional(),
  /** The slot (货道) it left from, so stock comes off that slot; without it, the sku's fullest slot(s). Not sent upstream. */
  slot: SlotId.optional(),
})
export type PostSaleLine = z.infer<typeof PostSaleLine>
export const PostSaleRequest = PostSaleBody.extend({ items: z.array(PostSaleLine).min(1).max(MAX_LINES_PER_SALE) })
export type PostSaleRequest = z.infer<typeof PostSaleRequest>

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
