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
import { createComplianceStore } from '../../fleet-server/src/compliance/store.js'
import { openFleetDb } from '../../fleet-server/src/db/database.js'
import { startSalesFold } from '../../fleet-server/src/sales/fold.js'
import { createSalesStore } from '../../fleet-server/src/sales/store.js'
import { oneSaleTicks, operatingCabinets } from './ticks.js'

const CABINETS = 100
const FOLD_EVERY = Number(process.env.FOLD_EVERY ?? 100)
const ROUNDS = 7
const log = pino({ level: 'silent' })

const dir = await mkdtemp(join(tmpdir(), 'bench-fold-'))
const db = await openFleetDb({ dialect: 'sqlite', dataDir: dir }, log)
const store = createSalesStore(db)
const figures = await createComplianceStore(db, { log })
const fold = startSalesFold({ db, writers: [(agg) => figures.recordFolded(agg)], log, intervalMs: 1e9, maxPendingSales: 1e9 })
const ids = await operatingCabinets(db, CABINETS)
const tick = oneSaleTicks(ids)

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
