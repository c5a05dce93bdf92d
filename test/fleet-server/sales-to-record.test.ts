// The per-sale preparation of ingest: toRecord's stored fields and the tick
// aggregates, which take shortcuts (templated lines JSON, soldAt reused as
// lastSaleAt) that must give exactly what the plain computation gives.
import { describe, expect, it } from 'vitest'
import { shanghaiDate, type Sale } from '../../shared/src/index.js'
import { aggregate } from '../../fleet-server/src/sales/aggregate.js'
import { toRecord } from '../../fleet-server/src/sales/ingest.js'
import { aChain, aLine } from '../helpers/sales.js'

const CABINET = '341125-00001'
const NOW = Date.parse('2020-10-12T03:00:00.000Z')

describe('sale records and tick aggregates', () => {
  it('stores the lines as JSON with the keys in schema order, whatever order the cabinet sent', () => {
    const [sale] = aChain(CABINET, 1, { lines: () => [aLine({ sku: 'GEN:WATER_550.1', qty: 2, unitPriceFen: 0 }), aLine({ sku: 'A', qty: 10_000, unitPriceFen: Number.MAX_SAFE_INTEGER })] })
    const reordered: Sale = { ...sale!, lines: sale!.lines.map((l) => ({ unitPriceFen: l.unitPriceFen, qty: l.qty, sku: l.sku })) }
    for (const s of [sale!, reordered]) {
      const r = toRecord(s, NOW)
      expect(r.linesJson).toBe(JSON.stringify(sale!.lines.map((l) => ({ sku: l.sku, qty: l.qty, unitPriceFen: l.unitPriceFen }))))
      expect(JSON.parse(r.linesJson)).toEqual(sale!.lines)
    }
  })

  it("keeps each cabinet's latest soldAt in toISOString's form, whatever precision the cabinet sent", () => {
    const soldAts = ['2020-10-12T02:03:04.567Z', '2020-10-12T02:03:05Z', '2020-10-12T02:03:06.1234567Z', '2020-10-12T02:03:07.5Z']
    for (const soldAt of soldAts) {
      const records = aChain(CABINET, 2, { soldAt: (i) => (i === 0 ? '2020-10-12T01:00:00.000Z' : soldAt) }).map((s) => toRecord(s, NOW))
      const agg = aggregate([{ cabinetId: CABINET, receivedAt: '2020-10-12T03:00:00.000Z', sales: records }])
      const c = agg.cabinets.get(CABINET)!
      expect(c.lastSaleAt).toBe(new Date(Date.parse(soldAt)).toISOString())
      expect(c.lastSaleAtMs).toBe(Date.parse(soldAt))
      expect([...agg.days.values()].map((d) => d.day)).toEqual([shanghaiDate(soldAt)])
    }
  })
})
