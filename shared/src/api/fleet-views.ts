// HTTP answers, params and queries of the fleet server API (../shared/CONTRACT.md).
// Request bodies live in fleet.ts. Answers use z.object (not strict) so adding a
// field never breaks a client; they use plain enums, not the VenueType
// transform, because a response is encoded, and a transform cannot be.
import { z } from 'zod'
import { CabinetId } from '../domain/ids.js'
import { Payment } from '../messages/sale.js'
import { IsoUtc } from '../domain/time.js'
import { CABINET_STATUSES, CountyCode, Role, VENUE_TYPES } from './fleet.js'

export const ErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
})
export type ErrorBody = z.infer<typeof ErrorBody>

export const HealthReply = z.object({ status: z.literal('ok') })
export type HealthReply = z.infer<typeof HealthReply>

export const CabinetIdParams = z.strictObject({ id: CabinetId })
export type CabinetIdParams = z.infer<typeof CabinetIdParams>

export const MqttCredentials = z.object({
  /** Always the cabinet id; connect with client id = username. */
  username: z.string(),
  /** 24 random bytes, base64url. Shown once; the server keeps only its SHA-256. */
  password: z.string(),
})
export type MqttCredentials = z.infer<typeof MqttCredentials>

export const CreateCabinetReply = z.object({ cabinetId: CabinetId, mqtt: MqttCredentials })
export type CreateCabinetReply = z.infer<typeof CreateCabinetReply>

export const RotateCredentialsReply = z.object({ cabinetId: CabinetId, mqtt: MqttCredentials })
export type RotateCredentialsReply = z.infer<typeof RotateCredentialsReply>

export const CabinetSalesView = z.object({
  count: z.number().int(),
  amountFen: z.number().int(),
  /** Certified share of amountFen; judged per product and sale date. */
  certifiedAmountFen: z.number().int(),
  lastSeq: z.number().int(),
  lastSaleAt: IsoUtc.nullable(),
})
export type CabinetSalesView = z.infer<typeof CabinetSalesView>

/** The cabinet's clock as last judged against the server's receipt of its live traffic (issue 12). */
export const CabinetClockView = z.object({
  /** Server receipt time minus the device's send time, seconds: positive = the device's clock is behind. */
  skewS: z.number(),
  /** What was measured: a heartbeat, or a sale batch sent right after its sales were recorded. */
  source: z.enum(['heartbeat', 'sale']),
  judgedAt: IsoUtc,
  /** CLOCK_SKEW while the skew is beyond the limit. */
  flag: z.enum(['CLOCK_SKEW']).nullable(),
})
export type CabinetClockView = z.infer<typeof CabinetClockView>

/** What the cabinet last said about its outbox (heartbeat), null before the first one. */
export const CabinetOutboxView = z.object({
  at: IsoUtc,
  lastSeq: z.number().int(),
  lastAckedSeq: z.number().int(),
  pending: z.number().int(),
  oldestPendingAgeS: z.number(),
  agentVersion: z.string(),
  clock: CabinetClockView.nullable().optional(),
})
export type CabinetOutboxView = z.infer<typeof CabinetOutboxView>

export const CabinetView = z.object({
  cabinetId: CabinetId,
  countyCode: CountyCode,
  status: z.enum(CABINET_STATUSES),
  online: z.boolean(),
  lastSeenAt: IsoUtc.nullable(),
  sales: CabinetSalesView,
  operator: z.string().nullable(),
  siteName: z.string().nullable(),
  venueType: z.enum(VENUE_TYPES).nullable(),
  /** 'tampered' once a cabinet sent a different sale for an already committed seq. */
  chainStatus: z.enum(['ok', 'tampered']),
  outbox: CabinetOutboxView.nullable(),
  siteAddress: z.string().nullable().optional(),
  latitude: z.number().nullable().optional(),
  longitude: z.number().nullable().optional(),
  /** When the cabinet entered its current status. */
  statusSince: IsoUtc.nullable().optional(),
  createdAt: IsoUtc,
  updatedAt: IsoUtc,
})
export type CabinetView = z.infer<typeof CabinetView>

/** PATCH answer: the cabinet under `cabinet`, and its fields at the top level too. */
export const PatchCabinetReply = CabinetView.extend({ cabinet: CabinetView })
export type PatchCabinetReply = z.infer<typeof PatchCabinetReply>

export const ListCabinetsQuery = z.strictObject({
  county: CountyCode.optional(),
  status: z.enum(CABINET_STATUSES).optional(),
  operator: z.string().min(1).max(100).optional(),
  /** Connected now (true) or not (false). */
  online: z.stringbool().optional(),
  /** Certified share of sales amount against the plan's threshold; `nosales` = no sales yet. */
  compliance: z.enum(['compliant', 'noncompliant', 'nosales']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
})
export type ListCabinetsQuery = z.infer<typeof ListCabinetsQuery>

export const CabinetList = z.object({
  cabinets: z.array(CabinetView),
  /** Matching cabinets within the caller's scope, before limit/offset. */
  total: z.number().int(),
  limit: z.number().int(),
  offset: z.number().int(),
})
export type CabinetList = z.infer<typeof CabinetList>

export const CreateUserReply = z.object({
  userId: z.string(),
  /** Bearer token. Shown once; the server keeps only its SHA-256. */
  token: z.string(),
  username: z.string(),
  role: Role,
})
export type CreateUserReply = z.infer<typeof CreateUserReply>

export const ListSalesQuery = z.strictObject({
  /** Sales with seq greater than this (0 = from the start). */
  afterSeq: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
})
export type ListSalesQuery = z.infer<typeof ListSalesQuery>

/** A stored sale: the chained fields exactly as the cabinet sent them, plus what the server added. */
export const SaleView = z.object({
  saleId: z.string(),
  seq: z.number().int(),
  soldAt: z.string(),
  recordedAt: z.string(),
  payment: Payment,
  lines: z.array(z.object({ sku: z.string(), qty: z.number().int(), unitPriceFen: z.number().int() })),
  totalFen: z.number().int(),
  prevHash: z.string(),
  hash: z.string(),
  receivedAt: IsoUtc,
  /** Asia/Shanghai date of soldAt. */
  soldOn: z.string(),
  /** 0 = plausible; bit 1: soldAt >24 h from recordedAt; bit 2: soldAt >5 min in the server's future. */
  skewFlag: z.number().int(),
})
export type SaleView = z.infer<typeof SaleView>

export const SaleList = z.object({
  sales: z.array(SaleView),
  /** Pass as afterSeq for the next page; null when this page is the last. */
  nextAfterSeq: z.number().int().nullable(),
})
export type SaleList = z.infer<typeof SaleList>
