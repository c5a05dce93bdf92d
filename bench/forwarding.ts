// The forwarding pass at fleet scale: how long it runs and — what matters to
// everything else on the server — the longest stretch it holds the event loop
// (ingest acks, the API and the broker all wait behind it). Cabinets get two
// ended months of sales (October and November 2020, one sale a day with a
// certified and an uncertified line) written through the production write
// path (sales store commitTick with the compliance hook), as in
// bench/compliance.ts. Every 8th cabinet sells below the 50% threshold, every
// 20th stopped syncing on 25 November. Then, at 2020-12-02 10:00 Shanghai:
//   - the month-end pass: every ended cabinet-month judged, ~2 per cabinet
//     queued (report bodies with their certified lines) or held;
//   - a repeat pass with nothing changed (what the 10-minute timer does all month);
//   - the other periodic work over the same fleet: alert rules (first and repeat
//     evaluation, every cabinet offline) and the city and a county monthly report.
// The event loop is probed with monitorEventLoopDelay (1 ms resolution) and a
// 1 ms timer that records the longest gap between its runs.
// Run alone: node --import tsx bench/forwarding.ts [cabinets]
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { createComplianceStore } from '../fleet-server/src/compliance/index.js'
import { createSalesStore, type TickWrite } from '../fleet-server/src/sales/index.js'
import type { BatchWrite } from '../fleet-server/src/sales/types.js'
import { usccCheckChar, type SaleLine } from '../shared/src/index.js'
import { insertOperatingCabinets, queryBenchFleet } from './fixtures.js'

const BATCHES_PER_TICK = 1000
const ms1 = (x: number) => +x.toFixed(1)

/** Runs `fn` while watching the event loop; returns its wall time and the longest block seen. */
export async function probed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number; maxBlockMs: number }> {
  const h = monitorEventLoopDelay({ resolution: 1 })
  let last = performance.now()
  let maxGap = 0
  const timer = setInterval(() => {
    const t = performance.now()
    maxGap = Math.max(maxGap, t - last)
    last = t
  }, 1)
  h.enable()
  const t0 = performance.now()
  const value = await fn()
  const ms = performance.now() - t0
  await new Promise((resolve) => setTimeout(resolve, 5)) // let the probe see the tail
  h.disable()
  clearInterval(timer)
  return { value, ms, maxBlockMs: Math.max(maxGap, h.max / 1e6) }
}

/**
 * The bench's fleet: `cabinets` cabinets with their two months of sales, the
 * clock still at 1 December (`setNow` moves it). Also used by
 * bench/micro/forwarding-pass.ts. The caller closes it.
 */
export async function seedForwardingFleet(cabinets: number) {
  let now = new Date('2020-10-01T00:00:00Z')
  const { fleet, call, close } = await queryBenchFleet('forwarding', () => now)
  try {
    const first17 = '933411250000000' + '2X'
    const uscc = first17 + usccCheckChar(first17)!
    await call('POST', '/api/v1/suppliers', { uscc, name: '基准合作社' })
    for (const [sku, certified] of [['CERT', true], ['PLAIN', false]] as const) {
      await call('POST', '/api/v1/products', { sku, name: sku, supplierUscc: uscc, priceFen: 1000 })
      if (certified) await call('POST', '/api/v1/certificates', { sku, certificateNo: `C-${sku}`, validFrom: '2020-09-01' })
    }

    const ids = await insertOperatingCabinets(fleet.database, cabinets, now)
    const counties = [...new Set(ids.map((id) => id.slice(0, 6)))]

    const figures = await createComplianceStore(fleet.database)
    const store = createSalesStore(fleet.database)
    // The ingest's unit of work: the tick's sales, then (PostgreSQL) the
    // certified figures, in one transaction; on SQLite the fleet's sales fold
    // adds those after each day's ticks (below), as it would before any read.
    const commitTick = (tick: TickWrite) =>
      fleet.database.transaction(async (tx) => {
        const r = await store.commitTick(tx, tick)
        if (!r.deferred) await figures.recordTick(tx, r.aggregates)
        return r
      }, { deferDerived: true })
    const seqs = new Map<string, number>()
    const setupStarted = performance.now()
    let sales = 0
    // 2020-10-01 … 2020-12-01 (Shanghai days); the 1 December sale moves the sync mark past November.
    for (let t = Date.parse('2020-10-01T00:00:00Z'); t <= Date.parse('2020-12-01T00:00:00Z'); t += 86_400_000) {
      const day = new Date(t).toISOString().slice(0, 10)
      const soldAt = `${day}T04:00:00.000Z` // 12:00 in Shanghai
      const batches: BatchWrite[] = []
      for (const [c, id] of ids.entries()) {
        if (c % 20 === 7 && day > '2020-11-25') continue // stopped syncing
        const seq = (seqs.get(id) ?? 0) + 1
        seqs.set(id, seq)
        const certifiedFen = c % 8 === 3 ? 300 : 700
        const lines: SaleLine[] = [
          { sku: 'CERT', qty: 1, unitPriceFen: certifiedFen },
          { sku: 'PLAIN', qty: 1, unitPriceFen: 1000 - certifiedFen },
        ]
        batches.push({
          cabinetId: id,
          receivedAt: soldAt,
          sales: [{ saleId: `${id}-${seq}`, seq, soldAt, soldAtMs: t + 4 * 3_600_000, soldOn: day, recordedAt: soldAt, recordedAtMs: t + 4 * 3_600_000, payment: 'wechat', totalFen: 1000, lines, linesJson: JSON.stringify(lines), prevHash: 'bench', hash: `bench-${seq}`, skewFlag: 0 }],
        })
      }
      for (let i = 0; i < batches.length; i += BATCHES_PER_TICK) {
        const r = await commitTick({ batches: batches.slice(i, i + BATCHES_PER_TICK), tampered: [] })
        if (r.failed.size > 0) throw new Error(`${r.failed.size} batches failed to commit`)
      }
      if (fleet.database.dialect === 'sqlite') await fleet.database.exclusive(() => undefined)
      sales += batches.length
    }
    const setupMs = performance.now() - setupStarted
    const setNow = (d: Date) => {
      now = d
    }
    return { fleet, call, close, ids, counties, sales, setupMs, setNow }
  } catch (err) {
    await close()
    throw err
  }
}

export async function forwardingPass(opts: { cabinets?: number } = {}) {
  const cabinets = opts.cabinets ?? 2700
  const { call, close, ids, counties, sales, setupMs, setNow } = await seedForwardingFleet(cabinets)
  try {
    setNow(new Date('2020-12-02T02:00:00Z')) // 10:00 in Shanghai
    const run = async () => (await call('POST', '/api/v1/forwarding/run')).json() as { judged: number; queued: number; corrections: number; held: number }
    const monthEnd = await probed(run)
    const repeat = await probed(run)
    // The server's other periodic work over the same fleet: the alert rules
    // (every 5 minutes; here every cabinet is offline, never having connected —
    // a rollout's worst case), and the scheduled monthly reports.
    const alertsFirst = await probed(() => call('POST', '/api/v1/alerts/evaluate'))
    const alertsRepeat = await probed(() => call('POST', '/api/v1/alerts/evaluate'))
    const cityReport = await probed(() => call('POST', '/api/v1/reports', { kind: 'monthly', period: '2020-11' }))
    const countyReport = await probed(() => call('POST', '/api/v1/reports', { kind: 'monthly', period: '2020-11', county: counties[0] }))
    const openAlerts = (JSON.parse(alertsRepeat.value.body) as { open: number }).open
    if (openAlerts < cabinets) throw new Error(`expected every cabinet offline, ${openAlerts} open alerts`)
    const expectHeld = ids.filter((_, c) => c % 8 === 3 || c % 20 === 7).length // ≥ one held month each
    if (monthEnd.value.judged !== cabinets * 2) throw new Error(`judged ${monthEnd.value.judged}, expected ${cabinets * 2}`)
    if (monthEnd.value.held < expectHeld) throw new Error(`held ${monthEnd.value.held}, expected at least ${expectHeld}`)
    if (repeat.value.queued !== 0 || repeat.value.corrections !== 0) throw new Error('the repeat pass queued something')
    const timing = (p: { ms: number; maxBlockMs: number }) => ({ ms: ms1(p.ms), maxBlockMs: ms1(p.maxBlockMs) })
    const pass = (p: typeof monthEnd) => ({ ms: ms1(p.ms), maxBlockMs: ms1(p.maxBlockMs), judged: p.value.judged, queued: p.value.queued, held: p.value.held })
    return {
      cabinets,
      sales,
      setupMs: Math.round(setupMs),
      monthEndPass: pass(monthEnd),
      repeatPass: pass(repeat),
      otherPeriodicWork: {
        alertsEvaluation: { first: timing(alertsFirst), repeat: timing(alertsRepeat), openAlerts },
        monthlyReport: { city: timing(cityReport), county: timing(countyReport) },
      },
      measuredAs: 'POST /api/v1/forwarding/run, /alerts/evaluate and /reports (inject) at 2020-12-02 10:00 Shanghai over two ended months; maxBlockMs = longest event-loop stall seen by a 1 ms probe during the request',
    }
  } finally {
    await close()
  }
}

/** The pass at today's plan and at a 20,000-cabinet province. */
export async function forwardingPasses() {
  return { chuzhou: await forwardingPass({ cabinets: 2700 }), province: await forwardingPass({ cabinets: 20_000 }) }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const n = process.argv[2] ? Number(process.argv[2]) : undefined
  process.stdout.write(`${JSON.stringify(n ? await forwardingPass({ cabinets: n }) : await forwardingPasses())}\n`)
}
