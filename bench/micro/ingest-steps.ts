// Micro-benchmarks of the per-message steps of sale ingest (issue 13, item 6),
// on the load generator's one-sale batches (bench/loadgen.ts's shape):
//   node --import tsx bench/micro/ingest-steps.ts [step …]
// Steps: decode, check, record, aggregate, pipeline (the first four in a row), day,
// observe (all when none named).
// Each step runs N operations per round, ROUNDS rounds; time is the process's
// CPU time (preemption by other work on a shared machine does not count), and
// the report is ns/op: the best round and the median.
import { GENESIS_HASH, saleHash, shanghaiDate, uuidv7, type Sale } from '../../shared/src/index.js'
import { createHotHistogram } from '../../fleet-server/src/metrics/histogram.js'
import { LATENCY_BUCKETS_S } from '../../fleet-server/src/metrics/index.js'
import { aggregate } from '../../fleet-server/src/sales/aggregate.js'
import { checkBatch } from '../../fleet-server/src/sales/chain-check.js'
import { decodeSaleBatch } from '../../fleet-server/src/sales/fast-decode.js'
import { toRecord } from '../../fleet-server/src/sales/ingest.js'
import type { BatchWrite, SaleRecord } from '../../fleet-server/src/sales/types.js'
import { Registry } from 'prom-client'

const N = 100_000
const ROUNDS = 9
const CABINET = '341125-00001'
const START = Date.parse('2020-10-01T00:00:00Z')

/** N one-sale batches of one cabinet, chained, as loadgen sends them. */
function batches(): { payloads: Buffer[]; sales: Sale[] } {
  const payloads: Buffer[] = []
  const sales: Sale[] = []
  let prevHash = GENESIS_HASH
  for (let seq = 1; seq <= N; seq++) {
    const at = new Date(START + seq * 60_000).toISOString()
    const lines = [
      { sku: `SKU-${seq % 40}`, qty: 1 + (seq % 3), unitPriceFen: 500 + (seq % 7) * 100 },
      { sku: `SKU-${(seq * 7) % 40}`, qty: 1, unitPriceFen: 1200 },
    ]
    const totalFen = lines.reduce((s, l) => s + l.qty * l.unitPriceFen, 0)
    const sale: Sale = { saleId: uuidv7(START + seq * 60_000), seq, soldAt: at, recordedAt: at, payment: 'wechat', lines, totalFen, prevHash, hash: '' }
    sale.hash = saleHash(CABINET, sale)
    prevHash = sale.hash
    sales.push(sale)
    payloads.push(Buffer.from(JSON.stringify({ v: 1, type: 'sales', batchId: uuidv7(), cabinetId: CABINET, sales: [sale] })))
  }
  return { payloads, sales }
}

const { payloads, sales } = batches()
const nowMs = START + (N + 10) * 60_000
// Made on first use, and only by the steps that read them: records kept alive
// by a fixture make V8 pretenure toRecord's allocation site, and every record
// made afterwards (in the pipeline step too) would then be born in old space.
let records: SaleRecord[] | undefined
let writes: BatchWrite[] | undefined
const fixtureRecords = (): SaleRecord[] => (records ??= sales.map((s) => toRecord(s, nowMs)))
const fixtureWrites = (): BatchWrite[] => (writes ??= fixtureRecords().map((r) => ({ cabinetId: CABINET, receivedAt: '2020-10-01T00:00:00.000Z', sales: [r] })))
const noLookup = (): Promise<string | null> => Promise.reject(new Error('no replay lookup expected'))
let sink = 0
const cpuUs = (): number => {
  const u = process.cpuUsage()
  return u.user + u.system
}

const steps: Record<string, () => Promise<void> | void> = {
  decode() {
    for (const p of payloads) if (decodeSaleBatch(p).ok) sink++
  },
  async check() {
    // Each batch starts at the head + 1, the common case; awaited as ingest awaits it.
    let head = { seq: 0, hash: GENESIS_HASH }
    for (const s of sales) {
      const checked = checkBatch(CABINET, [s], head, noLookup)
      const v = checked instanceof Promise ? await checked : checked
      if (v.ok) head = v.head as { seq: number; hash: string }
    }
  },
  record() {
    for (const s of sales) sink += toRecord(s, nowMs).soldOn.length
  },
  aggregate() {
    // A tick of 100 one-sale batches, as a busy tick takes.
    const w = fixtureWrites()
    for (let i = 0; i < N; i += 100) sink += aggregate(w.slice(i, i + 100)).skus.size
  },
  async pipeline() {
    // The per-message JS of a tick together: decode, chain check, record, and
    // the aggregates of each 100 batches (a busy tick's worth). The first
    // 1,000 payloads, N / 1,000 times over: a fixture of N parsed batches
    // kept alive would make this a measure of old-generation GC instead.
    let tick: BatchWrite[] = []
    for (let i = 0; i < N; i++) {
      const d = decodeSaleBatch(payloads[i % 1000]!)
      if (!d.ok) throw new Error(d.message)
      const first = d.data.sales[0]!
      const checked = checkBatch(CABINET, d.data.sales, { seq: first.seq - 1, hash: first.prevHash }, noLookup)
      const v = checked instanceof Promise ? await checked : checked
      if (!v.ok) throw new Error(v.message)
      tick.push({ cabinetId: CABINET, receivedAt: '2020-10-01T00:00:00.000Z', sales: v.newSales.map((s) => toRecord(s, nowMs)) })
      if (tick.length === 100) {
        sink += aggregate(tick).skus.size
        tick = []
      }
    }
  },
  day() {
    for (const r of fixtureRecords()) sink += shanghaiDate(r.soldAtMs).length
  },
  observe() {
    const h = createHotHistogram({ name: 'x', help: 'x', buckets: LATENCY_BUCKETS_S, registers: [new Registry()] })
    for (let i = 0; i < N; i++) h.observe((i % 300) / 1000)
  },
}

const chosen = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(steps)
for (const name of chosen) {
  const step = steps[name]
  if (!step) throw new Error(`unknown step ${name}; steps: ${Object.keys(steps).join(', ')}`)
  await step() // warm-up
  const ns: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = cpuUs()
    await step()
    ns.push(((cpuUs() - t0) * 1e3) / N)
  }
  ns.sort((a, b) => a - b)
  console.log(`${name.padEnd(10)} ns/op best ${ns[0]!.toFixed(0)}  median ${ns[ns.length >> 1]!.toFixed(0)}`)
}
if (sink < 0) console.log(sink)
