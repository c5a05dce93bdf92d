// What the SQLite tick micro-benchmarks write: operating cabinets, and ticks
// of one one-sale batch per cabinet, two lines per sale (loadgen's shape),
// each sale chained and time-ordered as an agent would send it.
import { GENESIS_HASH, saleHash, uuidv7, type Sale } from '../../shared/src/index.js'
import type { FleetDb } from '../../fleet-server/src/db/database.js'
import { toRecord } from '../../fleet-server/src/sales/ingest.js'
import type { BatchWrite } from '../../fleet-server/src/sales/types.js'

const START = Date.parse('2020-10-01T00:00:00Z')

/** `count` operating cabinets of county 341125; their ids. */
export async function operatingCabinets(db: FleetDb, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `341125-${String(i + 1).padStart(5, '0')}`)
  await db.exclusive((conn) => {
    const insert = conn.prepare(
      `INSERT INTO cabinets (cabinet_id, county_code, operator, status, secret_hash, credentials_issued_at, created_at, updated_at)
       VALUES (?, '341125', NULL, 'operating', 'x', '2020-01-01T00:00:00.000Z', '2020-01-01T00:00:00.000Z', '2020-01-01T00:00:00.000Z')`,
    )
    for (const id of ids) insert.run(id)
  })
  return ids
}

/** Each call: the next tick, the next sale of every cabinet in its own batch. */
export function oneSaleTicks(ids: readonly string[]): () => BatchWrite[] {
  const prev = new Map(ids.map((id) => [id, GENESIS_HASH]))
  let seq = 0
  return () => {
    seq++
    const at = new Date(START + seq * 60_000).toISOString()
    return ids.map((cabinetId) => {
      const lines = [
        { sku: `SKU-${seq % 40}`, qty: 1 + (seq % 3), unitPriceFen: 500 + (seq % 7) * 100 },
        { sku: `SKU-${(seq * 7) % 40}`, qty: 1, unitPriceFen: 1200 },
      ]
      const totalFen = lines.reduce((s, l) => s + l.qty * l.unitPriceFen, 0)
      const sale: Sale = { saleId: uuidv7(START + seq * 60_000), seq, soldAt: at, recordedAt: at, payment: 'wechat', lines, totalFen, prevHash: prev.get(cabinetId)!, hash: '' }
      sale.hash = saleHash(cabinetId, sale)
      prev.set(cabinetId, sale.hash)
      return { cabinetId, receivedAt: at, sales: [toRecord(sale, START + (seq + 10) * 60_000)] }
    })
  }
}
