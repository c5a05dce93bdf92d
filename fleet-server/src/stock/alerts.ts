// stock_out and stock_low (issue 16 §3) from the stored reports: one alert per
// slot, raised while the last report shows it and cleared by the alert service
// once a report no longer does. Evaluated county by county by the jobs leader.
import type { AlertSource } from '../alerts/index.js'
import type { AlertCondition } from '../alerts/index.js'
import type { StockService } from './service.js'
import { STOCK_LOW_SHARE_BP, stockLevel } from './service.js'

export function stockSources(deps: { stock: () => StockService; counties: () => readonly string[] }): AlertSource[] {
  const source = (kind: 'stock_out' | 'stock_low', level: 'out' | 'low'): AlertSource => ({
    kind,
    partitions: deps.counties,
    async evaluate(_now, countyCode) {
      if (countyCode === undefined) return []
      const out: AlertCondition[] = []
      for (const s of await deps.stock().countySlots(countyCode)) {
        if (stockLevel(s.qty, s.par) !== level) continue
        const name = s.productName ?? s.sku
        out.push({
          kind,
          subject: `${s.cabinetId}:${s.slot}`,
          severity: level === 'out' ? 'critical' : 'warning',
          countyCode: s.countyCode,
          cabinetId: s.cabinetId,
          operator: s.operator,
          message: level === 'out'
            ? `专柜 ${s.cabinetId} 货道 ${s.slot}（${name}）已缺货，标准库存 ${s.par}`
            : `专柜 ${s.cabinetId} 货道 ${s.slot}（${name}）库存 ${s.qty}，不足标准库存 ${s.par} 的 ${STOCK_LOW_SHARE_BP / 100}%`,
          detail: { slot: s.slot, sku: s.sku, qty: s.qty, par: s.par, capacity: s.capacity, oversold: s.oversold, reportedAt: s.reportedAt },
        })
      }
      return out
    },
  })
  return [source('stock_out', 'out'), source('stock_low', 'low')]
}
