import type { SaleLine } from '../../../shared/src/index.js'

/** The last committed sale of a cabinet's chain: what the next sale must follow. */
export interface ChainHead {
  readonly seq: number
  readonly hash: string
}

/** A new sale, checked and ready to store. */
export interface SaleRecord {
  readonly saleId: string
  readonly seq: number
  readonly soldAt: string
  readonly soldAtMs: number
  /** Asia/Shanghai calendar date of soldAt. */
  readonly soldOn: string
  readonly recordedAt: string
  /** recordedAt as epoch ms: when the agent's ledger made the sale durable (its 201). */
  readonly recordedAtMs: number
  readonly payment: string
  readonly totalFen: number
  readonly lines: readonly SaleLine[]
  readonly linesJson: string
  readonly prevHash: string
  readonly hash: string
  /** SKEW_* bits; 0 when soldAt is plausible. */
  readonly skewFlag: number
}

/** An enrolled cabinet's signature of a whole batch (issue 16 §2), kept with its sales for auditors. */
export interface BatchSignature {
  readonly batchId: string
  /** The seqs the signature covers: the whole batch, which may start with sales committed before (a resend). */
  readonly firstSeq: number
  readonly lastSeq: number
  readonly sig: string
}

/** The new sales of one accepted batch; stored all or nothing. */
export interface BatchWrite {
  readonly cabinetId: string
  readonly receivedAt: string
  readonly sales: readonly SaleRecord[]
  readonly signature?: BatchSignature
}

/** soldAt is more than 24 h away from the agent's recordedAt. */
export const SKEW_FROM_RECORDED = 1
/** soldAt is more than 5 min ahead of the server's clock. */
export const SKEW_FUTURE = 2
export const SKEW_FROM_RECORDED_MS = 24 * 3600_000
export const SKEW_FUTURE_MS = 5 * 60_000

/** Per-cabinet sale totals for views and reports. */
export interface CabinetSalesTotals {
  readonly count: number
  readonly amountFen: number
  readonly lastSeq: number
  readonly lastSaleAt: string | null
  readonly chainStatus: 'ok' | 'tampered'
}
