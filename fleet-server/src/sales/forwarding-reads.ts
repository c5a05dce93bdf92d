// What forwarding reads of the sales tables (issue 13: each table has one
// owning domain; forwarding reads cabinet_sales, sales and cabinet_day_sku_sales only through this,
// wired into its sync marks in app.ts): each cabinet's chain head, for the
// sync watermark and the CHAIN_BROKEN hold; and the sku sales of a pass
// slice's cabinets, for the certified lines of the reports it queues.
import { sql } from 'kysely'
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
 * Sales per cabinet and sku of the cabinets in `range` over days from..to:
 * the certified lines of a pass slice's reports, read once for the slice
 * (through the compliance store, which judges the certificates) rather than
 * once per report. Summed over the runs of days between `breaks` (sorted
 * days, each starting a run; at most MAX_SKU_SALES_BREAKS), `day` being the
 * run's first day with sales: a month of one cabinet's sku is one row, not
 * thirty. `breaks` null: one row per day.
 */
export async function rangeSkuSales(ex: Executor, range: CabinetRange, from: string, to: string, breaks: readonly string[] | null): Promise<CabinetSkuDaySales[]> {
  const rows =
    breaks === null
      ? await ex
          .selectFrom('cabinet_day_sku_sales')
          .select(['cabinet_id', 'sku', 'day', 'qty', 'amount_fen'])
          .where('cabinet_id', '>', range.after)
          .where('cabinet_id', '<=', range.through)
          .where('day', '>=', from)
          .where('day', '<=', to)
          .execute()
      : (
          await sql<{ cabinet_id: string; sku: string; day: string; qty: number; amount_fen: number }>`
            SELECT cabinet_id, sku, min(day) AS day, CAST(sum(qty) AS BIGINT) AS qty, CAST(sum(amount_fen) AS BIGINT) AS amount_fen FROM (
              SELECT cabinet_id, sku, day, qty, amount_fen, ${runOf(breaks)} AS run FROM cabinet_day_sku_sales
              WHERE cabinet_id > ${range.after} AND cabinet_id <= ${range.through} AND day >= ${from} AND day <= ${to}
            ) x GROUP BY cabinet_id, sku, run`.execute(ex)
        ).rows
  return rows.map((r) => ({ cabinetId: r.cabinet_id, sku: r.sku, day: r.day, qty: r.qty, amountFen: r.amount_fen }))
}

/** Most `breaks` rangeSkuSales takes (a CASE branch and a bound value each). */
export const MAX_SKU_SALES_BREAKS = 64

/** The run a day falls in: how many breaks are on or before it. */
function runOf(breaks: readonly string[]) {
  if (breaks.length > MAX_SKU_SALES_BREAKS) throw new Error(`${breaks.length} breaks, at most ${MAX_SKU_SALES_BREAKS}`)
  if (breaks.length === 0) return sql`0`
  const arms = breaks.map((b, i) => sql`WHEN day >= ${b} THEN ${sql.lit(i + 1)}`).reverse()
  return sql`CASE ${sql.join(arms, sql` `)} ELSE 0 END`
}
