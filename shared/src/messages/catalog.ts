import { z } from 'zod'
import { Uuid } from '../domain/ids.js'
import { Fen } from '../domain/money.js'
import { IsoUtc } from '../domain/time.js'
import { Sku } from './sale.js'

export const CatalogItem = z.strictObject({
  sku: Sku,
  name: z.string().min(1).max(200),
  priceFen: Fen,
  /** Shown on the cabinet as the "扶贫产品" label. */
  isCertified: z.boolean(),
  certificateNo: z.string().max(64).optional(),
})
export type CatalogItem = z.infer<typeof CatalogItem>

/** cabinets/{id}/down/catalog, retained: the full catalog, applied atomically. */
export const CatalogMsg = z.strictObject({
  v: z.literal(1),
  type: z.literal('catalog'),
  version: z.number().int().min(1),
  issuedAt: IsoUtc,
  items: z.array(CatalogItem).max(5_000),
})
export type CatalogMsg = z.infer<typeof CatalogMsg>

/** cabinets/{id}/down/commands. */
export const CommandMsg = z.strictObject({
  v: z.literal(1),
  type: z.literal('command'),
  commandId: Uuid,
  issuedAt: IsoUtc,
  command: z.discriminatedUnion('name', [
    z.strictObject({ name: z.literal('ping') }),
    /** Resend from this seq (server lost data, e.g. restored from a backup). */
    z.strictObject({ name: z.literal('resync'), fromSeq: z.number().int().min(1) }),
  ]),
})
export type CommandMsg = z.infer<typeof CommandMsg>
