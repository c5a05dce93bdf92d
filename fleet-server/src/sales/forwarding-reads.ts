// What forwarding reads of the sales tables (issue 13: each table has one
// owning domain; forwarding reads cabinet_sales, sales and cabinet_day_sku_sales only through this,
// wired into its sync marks in app.ts): each cabinet's chain head, for the
// sync watermark and the CHAIN_BROKEN hold; and the sku sales of a pass
// slice's cabinets, for the certified lines of the reports it queues.
import type { Executor } from '../db/database.js'
import type { CabinetRange } from '../db/index.js'

export interface ChainInfo {
  readonly cabinetId: string
  readonly lastSeq: number
  readonly chainStatus: 'ok' | 'tampered'
  /** recordedAt and server receipt time of the last committed sale. */
  readonly headRecordedAt: string | null
  readonly headReceivedAt: string | null
}

/** The chain head of every cabinet in `range` that has committed sales. */
export async function chainHeads(ex: Executor, range: CabinetRange): Promise<ChainInfo[]> {
  const rows = await ex
    .selectFrom('cabinet_sales as cs')
    .leftJoin('sales as s', (j) => j.onRef('s.cabinet_id', '=', 'cs.cabinet_id').onRef('s.seq', '=', 'cs.last_seq'))
    .select(['cs.cabinet_id', 'cs.last_seq', 'cs.chain_status', 's.recorded_at', 's.received_at'])
    .where('cs.cabinet_id', '>', range.after)
    .where('cs.cabinet_id', '<=', range.through)
    .execute()
  return rows.map((r) => ({
    cabinetId: r.cabinet_id,
    lastSeq: r.last_seq,
    chainStatus: r.chain_status === 'tampered' ? 'tampered' : 'ok',
    headRecordedAt: r.recorded_at,
    headReceivedAt: r.received_at,
  }))
}

export interface CabinetSkuDaySales {
  readonly cabinetId: string
  readonly sku: string
  readonly day: string
  readonly qty: number
  readonly amountFen: number
}

/**
 * Sales per cabinet, sku and day of the cabinets in `range` over days
 * from..to: the certified lines of a pass slice's reports, read once for the
 * slice (through the compliance store, which judges the certificates) rather
 * than once per report.
 */
export async function rangeSkuSales(ex: Executor, range: CabinetRange, from: string, to: string): Promise<CabinetSkuDaySales[]> {
  const rows = await ex
    .selectFrom('cabinet_day_sku_sales')
    .select(['cabinet_id', 'sku', 'day', 'qty', 'amount_fen'])
    .where('cabinet_id', '>', range.after)
    .where('cabinet_id', '<=', range.through)
    .where('day', '>=', from)
    .where('day', '<=', to)
    .execute()
  return rows.map((r) => ({ cabinetId: r.cabinet_id, sku: r.sku, day: r.day, qty: r.qty, amountFen: r.amount_fen }))
}
