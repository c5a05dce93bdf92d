// HTTP bodies of planogram and stock (issue 16 §3): set a cabinet's planogram,
// read its stock, record a restock, and the restock (pick) list.
import { z } from 'zod'
import { CabinetId, Uuid } from '../domain/ids.js'
import { IsoUtc } from '../domain/time.js'
import { CommandState, PlanogramParams, PlanogramSlot, RestockBody, RestockId } from '../messages/command.js'

/** PUT /api/v1/cabinets/:id/planogram: the whole planogram (replaces the last). */
export const PutPlanogramBody = PlanogramParams
export type PutPlanogramBody = z.infer<typeof PutPlanogramBody>
export const PutPlanogramReply = z.object({ commandId: Uuid, state: CommandState })
export type PutPlanogramReply = z.infer<typeof PutPlanogramReply>

export const CabinetStockSlot = z.object({
  slot: z.string(),
  sku: z.string(),
  /** The product's name in the city catalogue, null for a sku it does not know. */
  productName: z.string().nullable(),
  capacity: z.number().int(),
  par: z.number().int(),
  qty: z.number().int(),
  oversold: z.number().int(),
  /** Below the low level (stock_low) or at 0 (stock_out). */
  level: z.enum(['ok', 'low', 'out']),
})
export type CabinetStockSlot = z.infer<typeof CabinetStockSlot>

export const CabinetStockReply = z.object({
  cabinetId: CabinetId,
  /** When the stock shown was reported (server clock), null before the first report. */
  reportedAt: IsoUtc.nullable(),
  rev: z.number().int().nullable(),
  slots: z.array(CabinetStockSlot),
  /** The planogram last set through the API, and its command's state (pending until the cabinet applies it). */
  planogram: z.object({ slots: z.array(PlanogramSlot), commandId: Uuid, state: CommandState, setBy: z.string(), setAt: IsoUtc }).nullable(),
})
export type CabinetStockReply = z.infer<typeof CabinetStockReply>

/** POST /api/v1/cabinets/:id/restocks: units by slot, or fill every slot to par. */
export const PostRestockBody = RestockBody
export type PostRestockBody = z.infer<typeof PostRestockBody>
export const PostRestockReply = z.object({ commandId: Uuid, restockId: RestockId, state: CommandState })
export type PostRestockReply = z.infer<typeof PostRestockReply>

export const RESTOCK_LIST_FORMATS = ['json', 'csv', 'xlsx'] as const
export const RestockListQuery = z.strictObject({
  format: z.enum(RESTOCK_LIST_FORMATS).default('json'),
  county: z.string().regex(/^\d{6}$/, '区县代码须为 6 位数字').optional(),
})
export type RestockListQuery = z.infer<typeof RestockListQuery>

export const RestockListLine = z.object({ slot: z.string(), sku: z.string(), productName: z.string().nullable(), par: z.number().int(), qty: z.number().int(), need: z.number().int() })
export const RestockListCabinet = z.object({ cabinetId: CabinetId, siteName: z.string().nullable(), reportedAt: IsoUtc.nullable(), lines: z.array(RestockListLine) })
export const RestockListSite = z.object({ siteName: z.string().nullable(), cabinets: z.array(RestockListCabinet) })
export const SkuTotal = z.object({ sku: z.string(), productName: z.string().nullable(), need: z.number().int() })
/** One county's slots below par by site, and its van load by sku. */
export const RestockListCounty = z.object({ countyCode: z.string(), countyName: z.string(), sites: z.array(RestockListSite), totals: z.array(SkuTotal) })
export const RestockList = z.object({
  generatedAt: IsoUtc,
  counties: z.array(RestockListCounty),
  /** Units to load, by sku, over every county listed. */
  totals: z.array(SkuTotal),
})
export type RestockList = z.infer<typeof RestockList>
