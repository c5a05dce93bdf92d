// Named reads of the sales aggregates (cabinet_day_sku_sales) for the
// compliance domain (issue 13: each table has one owner; others read it
// through the owner's queries). Returned as query builders where compliance
// embeds them in one UPDATE of its own.
import { sql } from 'kysely'
import type { Executor } from '../db/database.js'

/** (cabinet_id, day, amount_fen) of one sku's sales on days from..to, as a subquery. */
export function skuDayAmounts(ex: Executor, sku: string, from: string, to: string) {
  return ex.selectFrom('cabinet_day_sku_sales').select(['cabinet_id', 'day', 'amount_fen']).where('sku', '=', sku).where('day', '>=', from).where('day', '<=', to)
}

/** (cabinet_id, month YYYY-MM, amount_fen) of one sku's sales on days from..to, summed per month, as a subquery. */
export function skuMonthAmounts(ex: Executor, sku: string, from: string, to: string) {
  const month = sql<string>`substr(day, 1, 7)`
  return ex
    .selectFrom('cabinet_day_sku_sales')
    // SUM of BIGINT is NUMERIC on PostgreSQL (a string through pg): cast back.
    .select(['cabinet_id', month.as('month'), sql<number>`CAST(sum(amount_fen) AS BIGINT)`.as('amount_fen')])
    .where('sku', '=', sku)
    .where('day', '>=', from)
    .where('day', '<=', to)
    .groupBy(['cabinet_id', month])
}

export interface SkuDaySales {
  readonly sku: string
  readonly day: string
  readonly qty: number
  readonly amountFen: number
}

/** One cabinet's sales per sku and day over from..to. */
export async function cabinetSkuSales(ex: Executor, cabinetId: string, from: string, to: string): Promise<SkuDaySales[]> {
  const rows = await ex
    .selectFrom('cabinet_day_sku_sales')
    .select(['sku', 'day', 'qty', 'amount_fen'])
    .where('cabinet_id', '=', cabinetId)
    .where('day', '>=', from)
    .where('day', '<=', to)
    .execute()
  return rows.map((r) => ({ sku: r.sku, day: r.day, qty: r.qty, amountFen: r.amount_fen }))
}
