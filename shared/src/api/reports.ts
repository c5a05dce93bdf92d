// HTTP bodies and answers of the reports (报表) API, and the stored report
// document itself (../shared/CONTRACT.md). A report is a snapshot taken when
// it is created: the JSON format of GET /api/v1/reports/:id is ReportDocument.
// Answers use z.object (not strict) so adding a field never breaks a client.
import { z } from 'zod'
import { CabinetId } from '../domain/ids.js'
import { Fen } from '../domain/money.js'
import { CalendarDate, IsoUtc } from '../domain/time.js'
import { CABINET_STATUSES, CountyCode } from './fleet.js'
import { OverviewTarget } from './overview.js'
import { RolloutCounts } from './rollout.js'

/** 周报 (policy 003: every Tuesday), 月报 (policy 000: by the 25th), 季报 (policy 002). */
export const REPORT_KINDS = ['weekly', 'monthly', 'quarterly'] as const
export const ReportKind = z.enum(REPORT_KINDS)
export type ReportKind = z.infer<typeof ReportKind>

export const REPORT_FORMATS = ['json', 'csv', 'xlsx'] as const
export type ReportFormat = (typeof REPORT_FORMATS)[number]

export const CreateReportBody = z.strictObject({
  kind: ReportKind,
  /**
   * weekly: ISO week 2020-W40 (Monday–Sunday); monthly: 2020-09; quarterly:
   * 2020-Q3 — Asia/Shanghai calendar. Checked against `kind` by the server
   * (400 REPORT_PERIOD_INVALID names the expected form).
   */
  period: z.string().min(1).max(32),
  /** One county; default: the caller's county (county users) or city-wide. */
  county: CountyCode.optional(),
})
export type CreateReportBody = z.infer<typeof CreateReportBody>

export const ReportSummary = z.object({
  reportId: z.string(),
  kind: ReportKind,
  period: z.string(),
  /** What the report covers: `city`, `county:341125`, `operator:NAME` or `operator:NAME/county:341125`. */
  scope: z.string(),
  /** The scope for people: 滁州市, 定远县, 运营企业 NAME … */
  scopeName: z.string(),
  countyCode: z.string().nullable(),
  operator: z.string().nullable(),
  /** First and last date of the period (Asia/Shanghai), inclusive. */
  from: CalendarDate,
  to: CalendarDate,
  createdAt: IsoUtc,
  /** Username of the creator; `system` for scheduled reports. */
  createdBy: z.string(),
  scheduled: z.boolean(),
})
export type ReportSummary = z.infer<typeof ReportSummary>

export const CreateReportReply = ReportSummary
export type CreateReportReply = ReportSummary

export const ReportList = z.object({ reports: z.array(ReportSummary) })
export type ReportList = z.infer<typeof ReportList>

export const ListReportsQuery = z.strictObject({
  kind: ReportKind.optional(),
  period: z.string().min(1).max(32).optional(),
  county: CountyCode.optional(),
})
export type ListReportsQuery = z.infer<typeof ListReportsQuery>

export const ReportIdParams = z.strictObject({ id: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, '须为报表编号') })

/** `format` is checked by the server so that an unknown one is 400 REPORT_FORMAT_INVALID. */
export const GetReportQuery = z.strictObject({ format: z.string().max(32).optional() })

// ── the report document ───────────────────────────────────────────────────

export const ReportSales = z.object({
  salesCount: z.number().int(),
  amountFen: Fen,
  certifiedAmountFen: Fen,
  /** Certified share in basis points, rounded down (integer fen arithmetic). */
  shareBp: z.number().int(),
  /** shareBp / 10000, for display. */
  ratio: z.number(),
  /** Cabinets with sales in the period whose certified share meets the threshold. */
  compliantCabinets: z.number().int(),
  /** Cabinets with sales in the period (a cabinet without sales is not judged). */
  judgedCabinets: z.number().int(),
})
export type ReportSales = z.infer<typeof ReportSales>

/** Forwarding to 社会扶贫网 as it stood when the report was taken (all periods). */
export const ReportForwarding = z.object({
  sent: z.number().int(),
  pending: z.number().int(),
  held: z.number().int(),
  failed: z.number().int(),
})
export type ReportForwarding = z.infer<typeof ReportForwarding>

export const ReportCounty = z.object({
  code: z.string(),
  name: z.string(),
  rollout: RolloutCounts,
  sales: ReportSales,
  forwarding: ReportForwarding,
})
export type ReportCounty = z.infer<typeof ReportCounty>

export const ReportCabinet = z.object({
  cabinetId: CabinetId,
  countyCode: z.string(),
  countyName: z.string(),
  operator: z.string().nullable(),
  siteName: z.string().nullable(),
  venueType: z.string().nullable(),
  status: z.enum(CABINET_STATUSES),
  salesCount: z.number().int(),
  amountFen: Fen,
  certifiedAmountFen: Fen,
  shareBp: z.number().int(),
  ratio: z.number(),
  /** null: no sales in the period, nothing to judge. */
  compliant: z.boolean().nullable(),
})
export type ReportCabinet = z.infer<typeof ReportCabinet>

/** The 扶贫产品目录 in one county (a product's county is its supplier's: the 统一社会信用代码's division). */
export const ReportCatalogCounty = z.object({
  code: z.string(),
  name: z.string(),
  /** Products certified on `asOf` (a certificate covers the day and is not revoked by then). */
  certifiedProducts: z.number().int(),
  /** The plan's certified_products target for the county; null when the plan sets none. */
  certifiedProductsTarget: z.number().int().nullable(),
  /** Certificates in force on `asOf` that expire within `expiringWithinDays` and are not renewed yet. */
  expiringCertificates: z.number().int(),
  /** Applications in 公示 (or held by an objection during it) when the report was taken. */
  inPublicity: z.number().int(),
})
export type ReportCatalogCounty = z.infer<typeof ReportCatalogCounty>

export const ReportCatalog = z.object({
  /** The date the catalog figures are as of: the report's targetsAsOf. */
  asOf: CalendarDate,
  expiringWithinDays: z.number().int(),
  counties: z.array(ReportCatalogCounty),
  totals: z.object({ certifiedProducts: z.number().int(), certifiedProductsTarget: z.number().int().nullable(), expiringCertificates: z.number().int(), inPublicity: z.number().int() }),
})
export type ReportCatalog = z.infer<typeof ReportCatalog>

/** The stored report: its summary (as listed) plus the snapshot itself. */
export const ReportDocument = ReportSummary.extend({
  v: z.literal(1),
  title: z.string(),
  timeZone: z.literal('Asia/Shanghai'),
  /** The date the policy wants the report by; null when it names none (quarterly). */
  dueOn: CalendarDate.nullable(),
  /** The period had ended when the snapshot was taken. */
  isComplete: z.boolean(),
  plan: z.object({ id: z.string(), name: z.string(), region: z.object({ code: z.string(), name: z.string() }) }),
  threshold: z.object({ bp: z.number().int(), ratio: z.number(), channel: z.string() }),
  counties: z.array(ReportCounty),
  totals: z.object({ rollout: RolloutCounts, sales: ReportSales, forwarding: ReportForwarding }),
  cabinets: z.array(ReportCabinet),
  /**
   * The plan's targets the report's scope sees (issue 15), as at targetsAsOf:
   * the period's last day, or the day the snapshot was taken if earlier.
   * Absent from reports stored before targets existed.
   */
  targetsAsOf: CalendarDate.optional(),
  targets: z.array(OverviewTarget).optional(),
  /** Catalog figures per county of the report (issue 15); absent from reports stored before them. */
  catalog: ReportCatalog.optional(),
})
export type ReportDocument = z.infer<typeof ReportDocument>
