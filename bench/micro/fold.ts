// Micro-benchmark of the SQLite sales fold (fleet-server/src/sales/fold.ts):
// ticks of 100 one-sale batches from 100 cabinets (the per-message ingest
// bench's shape) are committed as ingest commits them, reported to the fold,
// and folded every FOLD_EVERY ticks:
//   node --import tsx bench/micro/fold.ts
// Reports process CPU per sale (user + system) of the ticks and of the folds
// separately, median of the rounds. The fsync waits are not CPU.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { GENESIS_HASH, saleHash, uuidv7, type Sale } from '../../shared/src/index.js'
import { createComplianceStore } from '../../fleet-server/src/compliance/store.js'
import { openFleetDb } from '../../fleet-server/src/db/database.js'
import { startSalesFold } from '../../fleet-server/src/sales/fold.js'
import { toRecord } from '../../fleet-server/src/sales/ingest.js'
import { createSalesStore } from '../../fleet-server/src/sales/store.js'
import type { BatchWrite } from '../../fleet-server/src/sales/types.js'

const CABINETS = 100
const FOLD_EVERY = Number(process.env.FOLD_EVERY ?? 100)
const ROUNDS = 7
const START = Date.parse('2020-10-01T00:00:00Z')
const log = pino({ level: 'silent' })

const dir = await mkdtemp(join(tmpdir(), 'bench-fold-'))
const db = await openFleetDb({ dialect: 'sqlite', dataDir: dir }, log)
const store = createSalesStore(db)
const figures = await createComplianceStore(db, { log })
const fold = startSalesFold({ db, writers: [(agg) => figures.recordFolded(agg)], log, intervalMs: 1e9, maxPendingSales: 1e9 })
const ids = Array.from({ length: CABINETS }, (_, i) => `341125-${String(i + 1).padStart(5, '0')}`)
await db.exclusive((conn) => {
  const insert = conn.prepare(
    `INSERT INTO cabinets (cabinet_id, county_code, operator, status, secret_hash, credentials_issued_at, created_at, updated_at)
     VALUES (?, '341125', NULL, 'operating', 'x', '2020-01-01T00:00:00.000Z', '2020-01-01T00:00:00.000Z', '2020-01-01T00:00:00.000Z')`,
  )
  for (const id of ids) insert.run(id)
})

const prev = new Map(ids.map((id) => [id, GENESIS_HASH]))
let seq = 0
function tick(): BatchWrite[] {
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

const cpu = (u: NodeJS.CpuUsage) => u.user + u.system
const tickNs: number[] = []
const foldNs: number[] = []
for (let r = 0; r <= ROUNDS; r++) {
  const ticks = Array.from({ length: FOLD_EVERY * 2 }, tick)
  let t = 0
  let f = 0
  for (let i = 0; i < ticks.length; i++) {
    const u0 = process.cpuUsage()
    const res = await db.transaction((tx) => store.commitTick(tx, { batches: ticks[i]!, tampered: [] }), { deferDerived: true })
    fold.committed(res.deferred!.rows, res.deferred!.batches)
    const u1 = process.cpuUsage()
    t += cpu(u1) - cpu(u0)
    if ((i + 1) % FOLD_EVERY === 0) {
      await fold.flush()
      f += cpu(process.cpuUsage()) - cpu(u1)
    }
  }
  const sales = ticks.length * CABINETS
  if (r > 0) {
    tickNs.push((t * 1e3) / sales)
    foldNs.push((f * 1e3) / sales)
  }
}
const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1]!.toFixed(0)
console.log(`fold every ${FOLD_EVERY} ticks: ns/sale tick ${median(tickNs)}  fold ${median(foldNs)}`)
await fold.close()
figures.close()
await db.close()
await rm(dir, { recursive: true, force: true })
