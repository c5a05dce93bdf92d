// Micro-benchmark of the SQLite tick commit (sales/store.ts sqliteTickCommit)
// inside the tick's transaction, as ingest runs it: ticks of 100 one-sale
// batches from 100 cabinets, two lines per sale (loadgen's shape):
//   node --import tsx bench/micro/sqlite-tick.ts
// Reports process CPU per sale, user + system (the commit's WAL writes) and
// user alone, best and median of the rounds. The fsync wait is not CPU.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { GENESIS_HASH, saleHash, uuidv7, type Sale } from '../../shared/src/index.js'
import { openFleetDb } from '../../fleet-server/src/db/database.js'
import { toRecord } from '../../fleet-server/src/sales/ingest.js'
import { createSalesStore } from '../../fleet-server/src/sales/store.js'
import type { BatchWrite } from '../../fleet-server/src/sales/types.js'

const CABINETS = 100
const TICKS_PER_ROUND = 100
const ROUNDS = 9
const START = Date.parse('2020-10-01T00:00:00Z')

const dir = await mkdtemp(join(tmpdir(), 'bench-sqlite-tick-'))
const db = await openFleetDb({ dialect: 'sqlite', dataDir: dir }, pino({ level: 'silent' }))
const store = createSalesStore(db)
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
/** One tick: the next sale of every cabinet, each in its own batch. */
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

const ns: number[] = []
const userNs: number[] = []
for (let r = 0; r <= ROUNDS; r++) {
  const ticks = Array.from({ length: TICKS_PER_ROUND }, tick)
  const u0 = process.cpuUsage()
  for (const batches of ticks) await db.transaction((tx) => store.commitTick(tx, { batches, tampered: [] }))
  const u = process.cpuUsage(u0)
  const sales = TICKS_PER_ROUND * CABINETS
  // round 0 warms up
  if (r > 0) {
    ns.push(((u.user + u.system) * 1e3) / sales)
    userNs.push((u.user * 1e3) / sales)
  }
}
const report = (xs: number[]) => {
  xs.sort((a, b) => a - b)
  return `best ${xs[0]!.toFixed(0)}  median ${xs[xs.length >> 1]!.toFixed(0)}`
}
console.log(`sqlite tick  ns/sale: user+system ${report(ns)}; user ${report(userNs)}`)
await db.close()
await rm(dir, { recursive: true, force: true })
