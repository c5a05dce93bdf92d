// HTTP bodies of the fleet server API (../shared/CONTRACT.md).
import { z } from 'zod'

/** The policy's own venue words; English aliases map onto them. */
export const VENUE_TYPES = ['机关', '社区', '商场', '高校', '医院', '企业', '车站', '机场', '景区'] as const
const VENUE_ALIASES: Record<string, (typeof VENUE_TYPES)[number]> = {
  government: '机关', community: '社区', mall: '商场', university: '高校', school: '高校',
  hospital: '医院', enterprise: '企业', company: '企业', station: '车站', airport: '机场', scenic: '景区',
}
export const VenueType = z
  .string()
  .transform((s, ctx) => {
    if ((VENUE_TYPES as readonly string[]).includes(s)) return s as (typeof VENUE_TYPES)[number]
    const alias = VENUE_ALIASES[s.toLowerCase()]
    if (alias) return alias
    ctx.addIssue({ code: 'custom', message: `须为 ${VENUE_TYPES.join('、')} 之一（也接受英文别名 ${Object.keys(VENUE_ALIASES).map((a) => `“${a}”`).join('、')}）` })
    return z.NEVER
  })
export type VenueType = (typeof VENUE_TYPES)[number]

export const CABINET_STATUSES = ['planned', 'site_assigned', 'installed', 'operating', 'suspended', 'retired'] as const
export const CabinetStatus = z.enum(CABINET_STATUSES)
export type CabinetStatus = z.infer<typeof CabinetStatus>

export const CountyCode = z.string().regex(/^\d{6}$/, '须为 6 位行政区划代码（GB/T 2260），如 341125')

export const CreateCabinetBody = z.strictObject({
  countyCode: CountyCode,
  operator: z.string().min(1).max(100).optional(),
  siteName: z.string().min(1).max(200).optional(),
  venueType: VenueType.optional(),
  /** Caller-chosen id (e.g. the hardware serial); generated when absent. */
  cabinetId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/).optional(),
})
export type CreateCabinetBody = z.infer<typeof CreateCabinetBody>

export const PatchCabinetBody = z.strictObject({
  status: CabinetStatus.optional(),
  siteName: z.string().min(1).max(200).optional(),
  venueType: VenueType.optional(),
  siteAddress: z.string().min(1).max(300).optional(),
  latitude: z.number().min(-90).max(90).optional(),
  longitude: z.number().min(-180).max(180).optional(),
  /** Why the status changes (kept with the transition). */
  reason: z.string().min(1).max(500).optional(),
})
export type PatchCabinetBody = z.infer<typeof PatchCabinetBody>

export const Role = z.enum(['admin', 'county', 'operator', 'auditor'])
export type Role = z.infer<typeof Role>

export const CreateUserBody = z
  .strictObject({
    username: z.string().regex(/^[A-Za-z0-9_.@-]{2,64}$/),
    role: Role,
    countyCode: CountyCode.optional(),
    operator: z.string().min(1).max(100).optional(),
    password: z.string().min(8).max(200).optional(),
  })
  .superRefine((u, ctx) => {
    if (u.role === 'county' && !u.countyCode) ctx.addIssue({ code: 'custom', path: ['countyCode'], message: '县区用户须指定区县代码' })
    if (u.role === 'operator' && !u.operator) ctx.addIssue({ code: 'custom', path: ['operator'], message: '运营企业用户须指定运营企业' })
  })
export type CreateUserBody = z.infer<typeof CreateUserBody>
