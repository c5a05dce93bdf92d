// HTTP bodies and answers of the certification workflow (issue 15): an
// application (new product + certificate, renewal, change of a certified
// product's facts) → review steps (plan policy) → 公示 with objections →
// effective. Requests are strict; answers use z.object so adding a field
// never breaks a client.
import { z } from 'zod'
import { Fen } from '../domain/money.js'
import { CertReviewStep } from '../domain/plan.js'
import { CalendarDate, IsoUtc } from '../domain/time.js'
import { Sku } from '../messages/sale.js'
import { CertificateNo, ProductFactFields } from './catalog.js'
import { CountyCode } from './fleet.js'

export const APPLICATION_KINDS = ['new', 'renewal', 'change'] as const
export const ApplicationKind = z.enum(APPLICATION_KINDS)
export type ApplicationKind = z.infer<typeof ApplicationKind>

/** A review state is `${step}_review`; `on_hold` is 公示 with an open objection. */
export const APPLICATION_STATES = ['county_review', 'city_review', 'province_review', 'publicity', 'on_hold', 'effective', 'rejected'] as const
export const ApplicationState = z.enum(APPLICATION_STATES)
export type ApplicationState = z.infer<typeof ApplicationState>

/** `moot`: closed without a decision because another objection was upheld. */
export const OBJECTION_STATES = ['open', 'upheld', 'dismissed', 'moot'] as const
export const ObjectionState = z.enum(OBJECTION_STATES)
export type ObjectionState = z.infer<typeof ObjectionState>

const Text = (max: number) => z.string().trim().min(1).max(max)

/** The product as the application declares it (申请书: 产品名称、产地、产品类别、生产资料来源、年产量、供货时间; 常德's 规模、价格区间、经营主体、带贫人数). */
export const ProductFacts = z.strictObject({
  name: Text(200),
  priceFen: Fen,
  /** 产地 */
  origin: Text(200).optional(),
  /** 产品类别 */
  category: Text(100).optional(),
  /** 生产规模, 年产量, 供货时间, 价格区间, 经营主体, 带贫人数, 生产资料来源: carried to the product when it takes effect. */
  ...ProductFactFields,
})
export type ProductFacts = z.infer<typeof ProductFacts>

export const ProductChanges = ProductFacts.partial().refine((c) => Object.keys(c).length > 0, '“changes” 须至少列出一项变更的信息')
export type ProductChanges = z.infer<typeof ProductChanges>

const Note = Text(1000).optional()

export const CreateApplicationBody = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('new'),
    supplierUscc: z.string().min(1).max(64),
    sku: Sku,
    /** Required when the sku is not in the catalog yet (the product is added when the certificate takes effect); omitted for a listed product of this supplier. */
    product: ProductFacts.optional(),
    note: Note,
  }),
  z.strictObject({ kind: z.literal('renewal'), certificateNo: CertificateNo, note: Note }),
  z.strictObject({ kind: z.literal('change'), sku: Sku, changes: ProductChanges, note: Note }),
])
export type CreateApplicationBody = z.infer<typeof CreateApplicationBody>

export const ReviewApplicationBody = z
  .strictObject({ decision: z.enum(['approve', 'reject']), reason: Text(1000).optional() })
  .refine((b) => b.decision === 'approve' || b.reason !== undefined, { path: ['reason'], message: '不予通过时须填写理由（“reason”）' })
export type ReviewApplicationBody = z.infer<typeof ReviewApplicationBody>

export const LodgeObjectionBody = z.strictObject({
  reason: Text(1000),
  /** Who objected (a person or unit from the public, e.g. via the 12317 hotline); the recording official is kept separately. */
  by: Text(200).optional(),
})
export type LodgeObjectionBody = z.infer<typeof LodgeObjectionBody>

export const ResolveObjectionBody = z.strictObject({ decision: z.enum(['upheld', 'dismissed']), reason: Text(1000) })
export type ResolveObjectionBody = z.infer<typeof ResolveObjectionBody>

export const ApplicationIdParams = z.strictObject({ id: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER) })
export const ObjectionIdParams = ApplicationIdParams

export const ListApplicationsQuery = z.strictObject({
  /** A state, `open` (not effective or rejected) or `all` (default). */
  state: z.union([ApplicationState, z.enum(['open', 'all'])]).default('all'),
  kind: ApplicationKind.optional(),
  county: CountyCode.optional(),
  supplierUscc: z.string().min(1).max(64).optional(),
  sku: Sku.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
})
export type ListApplicationsQuery = z.infer<typeof ListApplicationsQuery>

export const ApplicationView = z.object({
  applicationId: z.number().int(),
  kind: ApplicationKind,
  state: ApplicationState,
  supplierUscc: z.string(),
  supplierName: z.string(),
  /** The supplier's registration county (whose officials review); null: admin-only until set. */
  countyCode: z.string().nullable(),
  sku: z.string(),
  /** new: the product as declared (null for a listed product); change: the changed facts; renewal: null. */
  facts: z.record(z.string(), z.unknown()).nullable(),
  /** renewal: the certificate renewed. */
  renews: z.string().nullable(),
  note: z.string().nullable(),
  /** The plan's review steps at filing, in order. */
  reviewSteps: z.array(CertReviewStep),
  /** The step now under review; null past the reviews. */
  currentStep: CertReviewStep.nullable(),
  publicityWorkingDays: z.number().int(),
  validityMonths: z.number().int(),
  /** 公示: first and last day (Asia/Shanghai working days); the change takes effect on effectiveFrom (the day after). */
  publicityFrom: CalendarDate.nullable(),
  publicityTo: CalendarDate.nullable(),
  effectiveFrom: CalendarDate.nullable(),
  /** In 公示 and past its end: the next scheduled pass makes it effective. */
  isDue: z.boolean(),
  openObjections: z.number().int(),
  /** new/renewal: the certificate issued; change: the certificate in force when it took effect. */
  certificateNo: z.string().nullable(),
  rejectReason: z.string().nullable(),
  filedBy: z.string(),
  filedRole: z.string(),
  filedOperator: z.string().nullable(),
  filedAt: IsoUtc,
  updatedAt: IsoUtc,
  /** When it became effective or was rejected. */
  decidedAt: IsoUtc.nullable(),
})
export type ApplicationView = z.infer<typeof ApplicationView>

export const ApplicationList = z.object({ applications: z.array(ApplicationView), total: z.number().int(), asOf: CalendarDate })
export type ApplicationList = z.infer<typeof ApplicationList>

export const ObjectionView = z.object({
  objectionId: z.number().int(),
  applicationId: z.number().int(),
  state: ObjectionState,
  reason: z.string(),
  objector: z.string().nullable(),
  lodgedBy: z.string(),
  lodgedAt: IsoUtc,
  resolvedBy: z.string().nullable(),
  resolvedAt: IsoUtc.nullable(),
  resolution: z.string().nullable(),
})
export type ObjectionView = z.infer<typeof ObjectionView>

export const ApplicationDetail = ApplicationView.extend({ objections: z.array(ObjectionView) })
export type ApplicationDetail = z.infer<typeof ApplicationDetail>

export const APPLICATION_ACTIONS = ['submitted', 'approved', 'rejected', 'publicity_started', 'objection_lodged', 'objection_upheld', 'objection_dismissed', 'publicity_resumed', 'effective'] as const

export const ApplicationEvent = z.object({
  eventId: z.number().int(),
  applicationId: z.number().int(),
  at: IsoUtc,
  /** Username; `system` for the scheduled pass. */
  actor: z.string(),
  role: z.string(),
  action: z.enum(APPLICATION_ACTIONS),
  fromState: ApplicationState.nullable(),
  toState: ApplicationState.nullable(),
  reason: z.string().nullable(),
  objectionId: z.number().int().nullable(),
  detail: z.record(z.string(), z.unknown()),
})
export type ApplicationEvent = z.infer<typeof ApplicationEvent>

export const ApplicationHistory = z.object({ applicationId: z.number().int(), events: z.array(ApplicationEvent) })
export type ApplicationHistory = z.infer<typeof ApplicationHistory>

export const ObjectionReply = z.object({ objection: ObjectionView, application: ApplicationView })
export type ObjectionReply = z.infer<typeof ObjectionReply>

export const PublicityQuery = z.strictObject({ county: CountyCode.optional() })
export type PublicityQuery = z.infer<typeof PublicityQuery>

/** One entry of the public notice (公示). */
export const PublicityNotice = z.object({
  applicationId: z.number().int(),
  kind: ApplicationKind,
  state: z.enum(['publicity', 'on_hold']),
  supplierUscc: z.string(),
  supplierName: z.string(),
  countyCode: z.string().nullable(),
  sku: z.string(),
  productName: z.string().nullable(),
  publicityFrom: CalendarDate,
  publicityTo: CalendarDate,
  effectiveFrom: CalendarDate,
  isDue: z.boolean(),
  openObjections: z.number().int(),
})
export type PublicityNotice = z.infer<typeof PublicityNotice>

export const PublicityList = z.object({ asOf: CalendarDate, notices: z.array(PublicityNotice) })
export type PublicityList = z.infer<typeof PublicityList>

export const PublicityRunReply = z.object({
  ranAt: IsoUtc,
  effective: z.array(z.object({ applicationId: z.number().int(), certificateNo: z.string().nullable() })),
  rejected: z.array(z.object({ applicationId: z.number().int(), code: z.string() })),
  failed: z.array(z.object({ applicationId: z.number().int(), code: z.string(), message: z.string() })),
})
export type PublicityRunReply = z.infer<typeof PublicityRunReply>

export const PatchSupplierBody = z
  .strictObject({
    /** The registration county; null clears it (the supplier's applications become admin-only). */
    countyCode: CountyCode.nullable().optional(),
    /** The operating company that registered it and may file its applications; null clears it. */
    operator: Text(100).nullable().optional(),
  })
  .refine((b) => b.countyCode !== undefined || b.operator !== undefined, '须给出 “countyCode” 或 “operator”')
export type PatchSupplierBody = z.infer<typeof PatchSupplierBody>
