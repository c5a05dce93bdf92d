// Compliance query at the plan's scale: 2,700 cabinets × one month × ~40 SKUs
// of per-day aggregates (cabinet_day_sales / cabinet_day_sku_sales, as ingest
// maintains them) in a real fleet database, with a real catalog (certificates
// expiring and revoked mid-month). Times GET /api/v1/compliance for the whole
// city through the real HTTP stack (inject): the first query (it fills the
// certified-figures cache), warm queries, and a query right after a
// back-dated revocation of one SKU (the cache rows it touches recomputed).
// Run alone: npx tsx bench/compliance.ts
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { pino } from 'pino'
import { buildFleet } from '../fleet-server/src/app.js'
import { loadConfig } from '../fleet-server/src/config.js'
import { BUNDLED_PLANS, usccCheckChar } from '../shared/src/index.js'

const ADMIN = 'bench-admin-token-0123456789'

export interface ComplianceBenchOptions {
  readonly cabinets?: number
  readonly days?: number
  readonly skus?: number
  readonly warmRuns?: number
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!

export async function complianceQuery(opts: ComplianceBenchOptions = {}) {
  const cabinets = opts.cabinets ?? 2700
  const days = opts.days ?? 30
  const skus = opts.skus ?? 40
  const warmRuns = opts.warmRuns ?? 30
  const dir = await mkdtemp(join(tmpdir(), 'bench-compliance-'))
  const now = new Date('2020-10-10T02:00:00Z')
  const fleet = await buildFleet(
    loadConfig({ FLEET_DATA_DIR: dir, FLEET_HTTP_PORT: '0', FLEET_MQTT_PORT: '0', FLEET_ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'silent', FLEET_LOG_REQUESTS: 'false' }, []),
    { logger: pino({ level: 'silent' }), now: () => now, forwarding: { intervalMs: 0, debounceMs: 0 } },
  )
  const call = async (method: 'GET' | 'POST', url: string, body?: unknown) => {
    const res = await fleet.http.inject({ method, url, headers: { authorization: `Bearer ${ADMIN}` }, ...(body !== undefined && { payload: body as object }) })
    if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`)
    return res
  }
  try {
    // Catalog: 3/4 of the SKUs certified; one expires mid-month, one revoked mid-month.
    const first17 = '933411250000000' + '1X'
    const uscc = first17 + usccCheckChar(first17)!
    await call('POST', '/api/v1/suppliers', { uscc, name: '基准合作社' })
    const skuIds = Array.from({ length: skus }, (_, i) => `SKU-${String(i).padStart(3, '0')}`)
    for (const [i, sku] of skuIds.entries()) {
      await call('POST', '/api/v1/products', { sku, name: sku, supplierUscc: uscc, priceFen: 1000 + i })
      if (i % 4 === 3) continue
      await call('POST', '/api/v1/certificates', { sku, certificateNo: `C-${sku}`, validFrom: i === 0 ? '2019-09-16' : '2020-01-01' })
    }
    await call('POST', `/api/v1/certificates/C-${skuIds[1]}/revoke`, { reason: 'bench', effectiveFrom: '2020-09-20' })

    // Aggregates as ingest leaves them (cabinet, cabinet × day, cabinet × day × sku), written straight into the tables.
    const db = fleet.db
    const counties = BUNDLED_PLANS['chuzhou-2020']!.counties
    const setupStarted = performance.now()
    db.transaction(() => {
      const cab = db.prepare(
        `INSERT INTO cabinets (cabinet_id, county_code, status, secret_hash, credentials_issued_at, created_at, updated_at)
         VALUES (?, ?, 'operating', 'x', ?, ?, ?)`,
      )
      const day = db.prepare('INSERT INTO cabinet_day_sales (cabinet_id, day, sales_count, amount_fen) VALUES (?, ?, ?, ?)')
      const sku = db.prepare('INSERT INTO cabinet_day_sku_sales (cabinet_id, day, sku, qty, amount_fen) VALUES (?, ?, ?, ?, ?)')
      const totals = db.prepare(
        `INSERT INTO cabinet_sales (cabinet_id, sales_count, amount_fen, last_seq, last_hash, last_sale_at) VALUES (?, ?, ?, ?, 'x', '2020-09-30T04:00:00.000Z')`,
      )
      const at = now.toISOString()
      for (let c = 0; c < cabinets; c++) {
        const county = counties[c % counties.length]!.code
        const id = `${county}-${String(c).padStart(5, '0')}`
        cab.run(id, county, at, at, at)
        let cabinetCount = 0
        let cabinetAmount = 0
        for (let d = 1; d <= days; d++) {
          const date = `2020-09-${String(d).padStart(2, '0')}`
          let total = 0
          let count = 0
          for (let k = 0; k < skus; k++) {
            const qty = 1 + ((c + d + k) % 3)
            const amount = qty * (1000 + k)
            sku.run(id, date, skuIds[k]!, qty, amount)
            total += amount
            count += qty
          }
          day.run(id, date, count, total)
          cabinetCount += count
          cabinetAmount += total
        }
        totals.run(id, cabinetCount, cabinetAmount, cabinetCount)
      }
    })()
    const setupMs = performance.now() - setupStarted
    const aggregateRows = (db.prepare('SELECT count(*) AS n FROM cabinet_day_sku_sales').get() as { n: number }).n

    const url = '/api/v1/compliance?from=2020-09-01&to=2020-09-30'
    const time = async () => {
      const t = performance.now()
      const res = await call('GET', url)
      const ms = performance.now() - t
      return { ms, body: res.json() as { cabinets: unknown[] } }
    }
    const cold = await time()
    if (cold.body.cabinets.length !== cabinets) throw new Error(`expected ${cabinets} cabinets, got ${cold.body.cabinets.length}`)
    const warm: number[] = []
    for (let i = 0; i < warmRuns; i++) warm.push((await time()).ms)
    warm.sort((a, b) => a - b)

    // One ingest tick's worth of new sales: one more sale on the last day in every cabinet.
    const lastDay = `2020-09-${String(days).padStart(2, '0')}`
    db.transaction(() => {
      const bumpSku = db.prepare('UPDATE cabinet_day_sku_sales SET qty = qty + 1, amount_fen = amount_fen + ? WHERE cabinet_id = ? AND day = ? AND sku = ?')
      const bumpDay = db.prepare('UPDATE cabinet_day_sales SET sales_count = sales_count + 1, amount_fen = amount_fen + ? WHERE cabinet_id = ? AND day = ?')
      const bumpCab = db.prepare('UPDATE cabinet_sales SET sales_count = sales_count + 1, amount_fen = amount_fen + ?, last_seq = last_seq + 1 WHERE cabinet_id = ?')
      for (const { cabinet_id: id } of db.prepare('SELECT cabinet_id FROM cabinets').all() as Array<{ cabinet_id: string }>) {
        bumpSku.run(1003, id, lastDay, skuIds[3]!)
        bumpDay.run(1003, id, lastDay)
        bumpCab.run(1003, id)
      }
    })()
    const afterIngest = await time()

    // A back-dated revocation of one SKU: its rows for every cabinet are recomputed on the next query.
    await call('POST', `/api/v1/certificates/C-${skuIds[2]}/revoke`, { reason: 'bench', effectiveFrom: '2020-09-10' })
    const afterRevocation = await time()

    return {
      cabinets,
      days,
      skus,
      aggregateRows,
      dayRows: cabinets * days,
      setupMs: Math.round(setupMs),
      coldMs: +cold.ms.toFixed(1),
      p50Ms: +pct(warm, 50).toFixed(1),
      p99Ms: +pct(warm, 99).toFixed(1),
      maxMs: +warm.at(-1)!.toFixed(1),
      afterNewSaleInEveryCabinetMs: +afterIngest.ms.toFixed(1),
      afterBackdatedRevocationMs: +afterRevocation.ms.toFixed(1),
      warmRuns,
      targetMs: 200,
    }
  } finally {
    await fleet.close()
    if (!process.env.BENCH_KEEP) await rm(dir, { recursive: true, force: true })
    else process.stderr.write(`kept ${dir}\n`)
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${JSON.stringify(await complianceQuery())}\n`)
}
