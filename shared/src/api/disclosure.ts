// The public disclosure (公开披露, issue 15) of GET /api/v1/public/held-cabinets:
// where the plan's policy asks for it (内蒙古: channels selling non-certified
// goods under the 专柜 name are exposed publicly), the cabinets held from
// forwarding for non-compliance in the last closed period. Read without
// login, so it carries only what the notice names: no amounts, no sales
// counts, no users — an operator's turnover is not public, its failing is.
import { z } from 'zod'
import { CabinetId } from '../domain/ids.js'
import { CalendarDate } from '../domain/time.js'

export const PublicHeldCabinet = z.object({
  cabinetId: CabinetId,
  countyName: z.string(),
  siteName: z.string().nullable(),
  /** The operating company (运营企业). */
  operator: z.string().nullable(),
  /** The period it was held for (e.g. 2020-09). */
  period: z.string(),
  /** Its certified share of sales in that period, basis points rounded down. */
  certifiedShareBp: z.number().int(),
})
export type PublicHeldCabinet = z.infer<typeof PublicHeldCabinet>

export const PublicHeldCabinets = z.object({
  /** The last closed period of the plan's forwarding period kind (Asia/Shanghai dates). */
  period: z.object({ id: z.string(), from: CalendarDate, to: CalendarDate }),
  /** The policy's minimum certified share the cabinets fell below. */
  thresholdBp: z.number().int(),
  cabinets: z.array(PublicHeldCabinet),
})
export type PublicHeldCabinets = z.infer<typeof PublicHeldCabinets>
