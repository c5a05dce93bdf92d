// Sale flags (issue 12): stored sales an official must look at before the
// cabinet-period they fall in is forwarded. Today one kind: SALE_ID_REUSED, a
// properly chained sale whose saleId an earlier sale of the same cabinet has.
import { z } from 'zod'
import { CabinetId, Uuid } from '../domain/ids.js'
import { CalendarDate, IsoUtc } from '../domain/time.js'
import { CountyCode } from './fleet.js'

export const SALE_FLAG_KINDS = ['SALE_ID_REUSED'] as const
export const SaleFlagKind = z.enum(SALE_FLAG_KINDS)
export type SaleFlagKind = z.infer<typeof SaleFlagKind>

/**
 * What the official found: `genuine` — two real sales that happen to share an
 * id (an agent bug); `duplicate` — one payment recorded twice (the figures are
 * corrected outside this system, see note); `other` — explained in the note.
 */
export const SALE_FLAG_RESOLUTIONS = ['genuine', 'duplicate', 'other'] as const
export const SaleFlagResolution = z.enum(SALE_FLAG_RESOLUTIONS)
export type SaleFlagResolution = z.infer<typeof SaleFlagResolution>

export const SaleFlagView = z.object({
  flagId: z.number().int(),
  kind: SaleFlagKind,
  cabinetId: CabinetId,
  countyCode: CountyCode,
  /** The flagged sale. */
  seq: z.number().int(),
  saleId: Uuid,
  /** The earlier sale of the same cabinet with the same saleId. */
  earlierSeq: z.number().int(),
  /** Asia/Shanghai dates of the two sales: the periods held until resolved. */
  soldOn: CalendarDate,
  earlierSoldOn: CalendarDate,
  flaggedAt: IsoUtc,
  resolution: SaleFlagResolution.nullable(),
  note: z.string().nullable(),
  resolvedBy: z.string().nullable(),
  resolvedAt: IsoUtc.nullable(),
})
export type SaleFlagView = z.infer<typeof SaleFlagView>

export const ListSaleFlagsQuery = z.strictObject({
  state: z.enum(['open', 'resolved', 'all']).default('open'),
  county: CountyCode.optional(),
  cabinetId: CabinetId.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
})
export type ListSaleFlagsQuery = z.infer<typeof ListSaleFlagsQuery>

export const SaleFlagList = z.object({ flags: z.array(SaleFlagView), total: z.number().int() })
export type SaleFlagList = z.infer<typeof SaleFlagList>

export const SaleFlagIdParams = z.strictObject({ id: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER) })

export const ResolveSaleFlagBody = z.strictObject({
  resolution: SaleFlagResolution,
  note: z.string().trim().min(1).max(1000),
})
export type ResolveSaleFlagBody = z.infer<typeof ResolveSaleFlagBody>

export const ResolveSaleFlagReply = z.object({ flag: SaleFlagView })
export type ResolveSaleFlagReply = z.infer<typeof ResolveSaleFlagReply>

/** POST /api/v1/cabinets/:id/tamper/resolve (issue 16 §4): an official clears a cabinet's ledger_tampered flag. */
export const ResolveTamperBody = z.strictObject({
  note: z.string().trim().min(1).max(1000),
})
export type ResolveTamperBody = z.infer<typeof ResolveTamperBody>

export const ResolveTamperReply = z.object({
  cabinetId: z.string(),
  chainStatus: z.literal('ok'),
  tamperedCount: z.number().int(),
  reviewedAt: z.string(),
  reviewedBy: z.string(),
  note: z.string(),
})
export type ResolveTamperReply = z.infer<typeof ResolveTamperReply>
