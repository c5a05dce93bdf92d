// HTTP bodies and answers of the certified-product catalog (扶贫产品目录),
// the compliance query and forwarding to the national platform
// (../shared/CONTRACT.md). Answers use z.object (not strict) so adding a field
// never breaks a client.
import { z } from 'zod'
import { CabinetId } from '../domain/ids.js'
import { Fen } from '../domain/money.js'
import { CalendarDate, IsoUtc } from '../domain/time.js'
import { Sku } from '../messages/sale.js'
import { CountyCode } from './fleet.js'

// ── suppliers ─────────────────────────────────────────────────────────────

export const CreateSupplierBody = z.strictObject({
  /** 统一社会信用代码; checked with usccProblem (400 INVALID_USCC names the rule). */
  uscc: z.string().min(1).max(64),
  name: z.string().min(1).max(200),
  contact: z.string().min(1).max(100).optional(),
  phone: z.string().min(1).max(40).optional(),
  address: z.string().min(1).max(300).optional(),
  /** Registration county (issue 15): its officials review the supplier's applications. A county user's default is its own county. */
  countyCode: CountyCode.optional(),
  /** The operating company that registers it and may file its applications (an operator user's own, always). */
  operator: z.string().trim().min(1).max(100).optional(),
})
export type CreateSupplierBody = z.infer<typeof CreateSupplierBody>

export const BlacklistSupplierBody = z.strictObject({
  reason: z.string().min(1).max(500),
  /** First day the supplier's certificates no longer count; default: today (Asia/Shanghai). */
  effectiveFrom: CalendarDate.optional(),
})
export type BlacklistSupplierBody = z.infer<typeof BlacklistSupplierBody>

export const SupplierView = z.object({
  uscc: z.string(),
  name: z.string(),
  contact: z.string().nullable(),
  phone: z.string().nullable(),
  address: z.string().nullable(),
  /** 扶贫失信黑名单: listed from this date; null when not listed. */
  blacklistedFrom: CalendarDate.nullable(),
  blacklistReason: z.string().nullable(),
  /** Registration county; null for suppliers registered before issue 15 until an admin sets it. */
  countyCode: z.string().nullable(),
  /** The operating company that registered it; null when registered by an official. */
  operator: z.string().nullable(),
  createdAt: IsoUtc,
  updatedAt: IsoUtc,
})
export type SupplierView = z.infer<typeof SupplierView>

export const UsccParams = z.strictObject({ uscc: z.string().min(1).max(64) })
export const SupplierList = z.object({ suppliers: z.array(SupplierView) })
export type SupplierList = z.infer<typeof SupplierList>

// ── products ──────────────────────────────────────────────────────────────

const FactText = (max: number, what: string) => z.string({ error: `${what}须为文字` }).trim().min(1, `${what}不能为空`).max(max, `${what}最多 ${max} 个字`)

/** 价格区间 (常德: 市场价格区间), fen, inclusive. */
export const PriceRange = z
  .strictObject({
    minFen: z.number({ error: '最低价（“minFen”）须为整数分' }).int('最低价（“minFen”）须为整数分').min(0, '最低价（“minFen”）不能为负'),
    maxFen: z.number({ error: '最高价（“maxFen”）须为整数分' }).int('最高价（“maxFen”）须为整数分').min(0, '最高价（“maxFen”）不能为负'),
  })
  .refine((r) => r.minFen <= r.maxFen, { path: ['maxFen'], message: '价格区间的最高价（“maxFen”）不能低于最低价（“minFen”）' })
export type PriceRange = z.infer<typeof PriceRange>

/**
 * The product facts the policy documents list (issue 15), all optional:
 * 常德 (001) 种养规模、年产量、上市季节、市场价格区间、经营主体、带动贫困人口数;
 * 章贡区 (002) 生产资料来源、供货时间. 上市季节 and 供货时间 are one fact, `supplyPeriod`
 * (the name the workflow's ProductFacts already used).
 */
export const ProductFactFields = {
  /** 生产规模, as written (e.g. "蜂群 300 箱") */
  scale: FactText(100, '生产规模（“scale”）').optional(),
  /** 年产量, as written (e.g. "5000 公斤") */
  annualOutput: FactText(100, '年产量（“annualOutput”）').optional(),
  /** 供货时间 / 上市季节 (e.g. "全年", "9月至12月") */
  supplyPeriod: FactText(100, '供货时间（“supplyPeriod”）').optional(),
  priceRange: PriceRange.optional(),
  /** 经营主体: the product's producer or operator */
  operator: FactText(200, '经营主体（“operator”）').optional(),
  /** 带贫人数: poor households the product helps */
  householdsHelped: z.number({ error: '带贫人数（“householdsHelped”）须为整数' }).int('带贫人数（“householdsHelped”）须为整数').min(0, '带贫人数（“householdsHelped”）不能为负').max(10_000_000, '带贫人数（“householdsHelped”）过大').optional(),
  /** 生产资料来源 */
  materialSource: FactText(200, '生产资料来源（“materialSource”）').optional(),
}

export const CreateProductBody = z.strictObject({
  sku: Sku,
  name: z.string().min(1).max(200),
  supplierUscc: z.string().min(1).max(64),
  priceFen: Fen,
  /** 产地 */
  origin: z.string().min(1).max(200).optional(),
  /** 产品类别 */
  category: z.string().min(1).max(100).optional(),
  ...ProductFactFields,
})
export type CreateProductBody = z.infer<typeof CreateProductBody>

export const PatchProductBody = z.strictObject({
  name: z.string().min(1).max(200).optional(),
  priceFen: Fen.optional(),
  origin: z.string().min(1).max(200).optional(),
  category: z.string().min(1).max(100).optional(),
  ...ProductFactFields,
})
export type PatchProductBody = z.infer<typeof PatchProductBody>

/** The facts as stored and shown: null where not given. */
export const ProductFactsView = z.object({
  scale: z.string().nullable(),
  annualOutput: z.string().nullable(),
  supplyPeriod: z.string().nullable(),
  priceRange: z.object({ minFen: z.number().int(), maxFen: z.number().int() }).nullable(),
  operator: z.string().nullable(),
  householdsHelped: z.number().int().nullable(),
  materialSource: z.string().nullable(),
})
export type ProductFactsView = z.infer<typeof ProductFactsView>

export const SkuParams = z.strictObject({ sku: Sku })

export const CERT_LEVELS = ['county', 'city', 'province', 'national'] as const
export const CertLevel = z.enum(CERT_LEVELS)
export type CertLevel = z.infer<typeof CertLevel>
export const CERT_STATUSES = ['pending', 'valid', 'expired', 'revoked'] as const
export const CertStatus = z.enum(CERT_STATUSES)
export type CertStatus = z.infer<typeof CertStatus>

export const CertificateView = z.object({
  certificateNo: z.string(),
  sku: z.string(),
  supplierUscc: z.string(),
  level: CertLevel,
  validFrom: CalendarDate,
  validTo: CalendarDate,
  /** On the `asOf` date (today unless the query names one). */
  status: CertStatus,
  /** Not certified on and after this date; null when not revoked. */
  revokedFrom: CalendarDate.nullable(),
  revokeReason: z.string().nullable(),
  /** The certificate this one renews, if any. */
  renews: z.string().nullable(),
  createdAt: IsoUtc,
  updatedAt: IsoUtc,
})
export type CertificateView = z.infer<typeof CertificateView>

export const ProductView = z.object({
  sku: z.string(),
  name: z.string(),
  origin: z.string().nullable(),
  category: z.string().nullable(),
  supplierUscc: z.string(),
  priceFen: z.number().int(),
  ...ProductFactsView.shape,
  /** Certified on `asOf`: some certificate covers that date and is not revoked by then. */
  isCertified: z.boolean(),
  certificateNo: z.string().nullable(),
  asOf: CalendarDate,
  createdAt: IsoUtc,
  updatedAt: IsoUtc,
})
export type ProductView = z.infer<typeof ProductView>

export const ProductDetail = ProductView.extend({ certificates: z.array(CertificateView) })
export type ProductDetail = z.infer<typeof ProductDetail>

export const AsOfQuery = z.strictObject({ asOf: CalendarDate.optional() })
export const ProductList = z.object({ products: z.array(ProductView), asOf: CalendarDate })
export type ProductList = z.infer<typeof ProductList>

// ── certificates ──────────────────────────────────────────────────────────

export const CertificateNo = z.string().regex(/^[A-Za-z0-9\u4e00-\u9fff][A-Za-z0-9\u4e00-\u9fff_.:()（）〔〕-]{0,63}$/, '须为 1–64 位字母、数字、汉字或 _ . : - ( )')

export const CreateCertificateBody = z.strictObject({
  sku: Sku,
  certificateNo: CertificateNo,
  validFrom: CalendarDate,
  /** Inclusive; default validFrom + 1 year − 1 day (the catalogue is valid one year). */
  validTo: CalendarDate.optional(),
  /** Issuing level; default county (认定 starts at the county). */
  level: CertLevel.optional(),
})
export type CreateCertificateBody = z.infer<typeof CreateCertificateBody>

export const RenewCertificateBody = z.strictObject({
  certificateNo: CertificateNo,
  /** Default: the day after the renewed certificate's validTo. */
  validFrom: CalendarDate.optional(),
  validTo: CalendarDate.optional(),
  level: CertLevel.optional(),
})
export type RenewCertificateBody = z.infer<typeof RenewCertificateBody>

export const RevokeCertificateBody = z.strictObject({
  reason: z.string().min(1).max(500),
  /** First day the certificate no longer counts; default today (Asia/Shanghai). May be in the past. */
  effectiveFrom: CalendarDate.optional(),
})
export type RevokeCertificateBody = z.infer<typeof RevokeCertificateBody>

export const CertNoParams = z.strictObject({ no: CertificateNo })

export const ListCertificatesQuery = z.strictObject({
  sku: Sku.optional(),
  supplierUscc: z.string().min(1).max(64).optional(),
  status: CertStatus.optional(),
  asOf: CalendarDate.optional(),
})
export type ListCertificatesQuery = z.infer<typeof ListCertificatesQuery>

export const CertificateList = z.object({ certificates: z.array(CertificateView), asOf: CalendarDate })
export type CertificateList = z.infer<typeof CertificateList>

export const BlacklistReply = z.object({ supplier: SupplierView, revokedCertificates: z.array(z.string()) })
export type BlacklistReply = z.infer<typeof BlacklistReply>

// ── history and the published catalog ─────────────────────────────────────

export const CatalogHistoryQuery = z.strictObject({
  entity: z.enum(['supplier', 'product', 'certificate']).optional(),
  id: z.string().min(1).max(64).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
})
export type CatalogHistoryQuery = z.infer<typeof CatalogHistoryQuery>

export const CatalogHistoryEntry = z.object({
  id: z.number().int(),
  at: IsoUtc,
  actor: z.string(),
  entity: z.enum(['supplier', 'product', 'certificate']),
  entityId: z.string(),
  action: z.string(),
  detail: z.record(z.string(), z.unknown()),
})
export const CatalogHistory = z.object({ entries: z.array(CatalogHistoryEntry) })
export type CatalogHistory = z.infer<typeof CatalogHistory>

export const PublishedCatalogView = z.object({
  version: z.number().int(),
  issuedAt: IsoUtc,
  items: z.array(z.object({ sku: z.string(), name: z.string(), priceFen: z.number().int(), isCertified: z.boolean(), certificateNo: z.string().optional() })),
})
export type PublishedCatalogView = z.infer<typeof PublishedCatalogView>

export const CabinetCatalogView = z.object({
  cabinetId: CabinetId,
  /** The version the server publishes now (null before the first catalog). */
  publishedVersion: z.number().int().nullable(),
  /** What the cabinet's last heartbeat said it runs (null: no heartbeat since the server started). */
  reportedVersion: z.number().int().nullable(),
  reportedAt: IsoUtc.nullable(),
  isCurrent: z.boolean(),
})
export type CabinetCatalogView = z.infer<typeof CabinetCatalogView>

// ── compliance ────────────────────────────────────────────────────────────

/** A period id: a day (2020-09-30), an ISO week (2020-W40) or a month (2020-09). */
export const PeriodId = z.string().regex(/^(\d{4}-\d{2}-\d{2}|\d{4}-W\d{2}|\d{4}-\d{2})$/, '须为日（如 2020-09-30）、周（如 2020-W40）或月（如 2020-09）')

export const ComplianceQuery = z
  .strictObject({
    from: CalendarDate.optional(),
    to: CalendarDate.optional(),
    /** Instead of from/to: a day, ISO week or month. */
    period: PeriodId.optional(),
    county: CountyCode.optional(),
    cabinetId: CabinetId.optional(),
  })
  .superRefine((q, ctx) => {
    const range = q.from !== undefined || q.to !== undefined
    if (range && q.period !== undefined) ctx.addIssue({ code: 'custom', path: ['period'], message: '起止日期（“from”、“to”）与期间（“period”）只能给一种' })
    if (!range && q.period === undefined) ctx.addIssue({ code: 'custom', path: ['from'], message: '须给出起止日期（“from”、“to”，如 2020-09-01）或期间（“period”）' })
    if (range && (q.from === undefined || q.to === undefined)) ctx.addIssue({ code: 'custom', path: [q.from ? 'to' : 'from'], message: '起始日期与截止日期须同时给出' })
  })
export type ComplianceQuery = z.infer<typeof ComplianceQuery>

export const CabinetCompliance = z.object({
  cabinetId: CabinetId,
  countyCode: z.string(),
  amountFen: Fen,
  certifiedAmountFen: Fen,
  /** certified / amount rounded down to 4 decimals, for display; `compliant` is decided in integers. */
  ratio: z.number(),
  /** Certified share in basis points, rounded down. */
  shareBp: z.number().int(),
  compliant: z.boolean(),
})
export type CabinetCompliance = z.infer<typeof CabinetCompliance>

export const ComplianceReply = z.object({
  from: CalendarDate,
  to: CalendarDate,
  /** The minimum certified share in force, as a ratio (0.5 = 50%). */
  threshold: z.number(),
  thresholdBp: z.number().int(),
  channel: z.string(),
  cabinets: z.array(CabinetCompliance),
  summary: z.object({ cabinets: z.number().int(), compliant: z.number().int(), amountFen: Fen, certifiedAmountFen: Fen }),
})
export type ComplianceReply = z.infer<typeof ComplianceReply>

// ── forwarding ────────────────────────────────────────────────────────────

export const HOLD_REASONS = ['NOT_COMPLIANT', 'INCOMPLETE_SYNC', 'CHAIN_BROKEN', 'SALE_ID_REUSED'] as const
export const HoldReason = z.enum(HOLD_REASONS)
export type HoldReason = z.infer<typeof HoldReason>

export const HeldPeriod = z.object({
  cabinetId: CabinetId,
  period: z.string(),
  reason: HoldReason,
  from: CalendarDate,
  to: CalendarDate,
  /** NOT_COMPLIANT: shareBp, ratio, thresholdBp; INCOMPLETE_SYNC: syncedThrough, periodEnd, pending; SALE_ID_REUSED: flags. */
  details: z.record(z.string(), z.unknown()),
})
export type HeldPeriod = z.infer<typeof HeldPeriod>

export const FailedBatch = z.object({
  cabinetId: CabinetId,
  period: z.string(),
  batchKey: z.string(),
  kind: z.enum(['report', 'correction']),
  status: z.number().int().nullable(),
  message: z.string(),
})
export type FailedBatch = z.infer<typeof FailedBatch>

/** A pending batch whose attempts so far failed (issue 12): what the platform last answered, and how often. */
export const RetryingBatch = z.object({
  cabinetId: CabinetId,
  period: z.string(),
  batchKey: z.string(),
  kind: z.enum(['report', 'correction']),
  /** Failed attempts in a row (a batch is pending until one succeeds). */
  attempts: z.number().int(),
  /** HTTP status of the last answer; null when there was none (timeout, network error, oversized). */
  status: z.number().int().nullable(),
  message: z.string(),
})
export type RetryingBatch = z.infer<typeof RetryingBatch>

/**
 * A delivered report or correction and the platform's receipt for it: the
 * answer that made it count (2xx acknowledging its key and record count, or
 * 409 DUPLICATE: the platform already had it). GET /forwarding?receipts=true.
 */
export const SentBatch = z.object({
  cabinetId: CabinetId,
  period: z.string(),
  batchKey: z.string(),
  kind: z.enum(['report', 'correction']),
  deliveredAt: IsoUtc,
  /** HTTP status of the receipt: 2xx, or 409 for a batch the platform already had. */
  status: z.number().int().nullable(),
  /** Records in the batch, which the receipt acknowledged. */
  records: z.number().int(),
  /** Attempts it took, the delivering one included. */
  attempts: z.number().int(),
})
export type SentBatch = z.infer<typeof SentBatch>

export const ForwardingQuery = z.strictObject({
  /** true: also list the delivered batches with their receipts (newest first, at most SENT_LISTED). */
  receipts: z.stringbool().optional(),
})
export type ForwardingQuery = z.infer<typeof ForwardingQuery>

export const ForwardingReply = z.object({
  /** Cabinet-periods whose report the platform has (2xx or 409). */
  sent: z.number().int(),
  /** Cabinet-periods queued, not yet delivered. */
  pending: z.number().int(),
  held: z.array(HeldPeriod),
  failed: z.array(FailedBatch),
  /** Pending batches (reports and corrections) with at least one failed attempt, oldest first. */
  retrying: z.array(RetryingBatch),
  /** Correction batches (kind 'correction'); they do not count as periods. */
  corrections: z.object({ sent: z.number().int(), pending: z.number().int(), failed: z.array(FailedBatch) }),
  /** sent + pending + held + failed (report batches) = judged cabinet-periods. */
  periods: z.number().int(),
  platformConfigured: z.boolean(),
  lastRunAt: IsoUtc.nullable(),
  /** With ?receipts=true only: delivered batches and their receipts, newest first. */
  sentBatches: z.array(SentBatch).optional(),
})
export type ForwardingReply = z.infer<typeof ForwardingReply>

export const ForwardingRunReply = z.object({
  ranAt: IsoUtc,
  judged: z.number().int(),
  queued: z.number().int(),
  corrections: z.number().int(),
  held: z.number().int(),
  delivered: z.number().int(),
})
export type ForwardingRunReply = z.infer<typeof ForwardingRunReply>

/** POST /forwarding/failed/:batchKey/retry: the batch is pending again. */
export const ForwardingRetryReply = z.object({
  batchKey: z.string(),
  kind: z.enum(['report', 'correction']),
  cabinetId: CabinetId,
  period: z.string(),
  state: z.literal('pending'),
  retriedAt: IsoUtc,
  retriedBy: z.string(),
  /** What the platform answered last time (kept in the retry record). */
  previousStatus: z.number().int().nullable(),
  previousMessage: z.string(),
})
export type ForwardingRetryReply = z.infer<typeof ForwardingRetryReply>
