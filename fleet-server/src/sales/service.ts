// Read side of sales: per-cabinet totals for other domains, and the sales
// themselves, page by page, for audits.
import type { ListSalesQuery, SaleList } from '../../../shared/src/index.js'
import type { SalesStore } from './store.js'
import type { CabinetSalesTotals } from './types.js'

export interface SalesReader {
  totals(cabinetIds: readonly string[]): Promise<Map<string, CabinetSalesTotals>>
  /** Sales with seq > afterSeq; call only for a cabinet the caller may see. */
  list(cabinetId: string, q: ListSalesQuery): Promise<SaleList>
}

export const NO_SALES: CabinetSalesTotals = Object.freeze({ count: 0, amountFen: 0, lastSeq: 0, lastSaleAt: null, chainStatus: 'ok' })

export function createSalesReader(store: SalesStore): SalesReader {
  return {
    totals: (ids) => store.totals(ids),
    async list(cabinetId, q) {
      // One extra row tells whether another page exists.
      const rows = await store.list(cabinetId, q.afterSeq, q.limit + 1)
      const more = rows.length > q.limit
      const sales = more ? rows.slice(0, q.limit) : rows
      return { sales, nextAfterSeq: more ? sales.at(-1)!.seq : null }
    },
  }
}
