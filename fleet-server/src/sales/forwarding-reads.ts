// What forwarding reads of the sales tables (issue 13: each table has one
// owning domain; forwarding reads cabinet_sales and sales only through this,
// wired into its sync marks in app.ts): each cabinet's chain head, for the
// sync watermark and the CHAIN_BROKEN hold.
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
