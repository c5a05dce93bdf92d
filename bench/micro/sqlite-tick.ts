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
import { openFleetDb } from '../../fleet-server/src/db/database.js'
import { createSalesStore } from '../../fleet-server/src/sales/store.js'
import { oneSaleTicks, operatingCabinets } from './ticks.js'

const CABINETS = 100
const TICKS_PER_ROUND = 100
const ROUNDS = 9

const dir = await mkdtemp(join(tmpdir(), 'bench-sqlite-tick-'))
const db = await openFleetDb({ dialect: 'sqlite', dataDir: dir }, pino({ level: 'silent' }))
const store = createSalesStore(db)
const ids = await operatingCabinets(db, CABINETS)
const tick = oneSaleTicks(ids)

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
