// Edge agent: durable sale commits (WAL + synchronous=FULL), timed one by one
// through the agent's own sell() with the broker unreachable (sales pile up in
// the outbox, as on a cabinet whose 4G is down).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { createAgent, makeConfig } from '../edge-agent/src/index.js'

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

export async function edgeSaleCommits(opts: { sales: number }) {
  const dir = await mkdtemp(join(tmpdir(), 'bench-edge-'))
  const agent = await createAgent(
    makeConfig({ cabinetId: 'BENCH-EDGE-1', dataDir: dir, serverUrl: 'mqtt://127.0.0.1:1', apiPort: null, logLevel: 'silent' }),
    { logger: pino({ level: 'silent' }) },
  )
  try {
    const lat: number[] = []
    const t0 = performance.now()
    for (let i = 0; i < opts.sales; i++) {
      const s = performance.now()
      agent.sell({ items: [{ sku: `SKU-${i % 40}`, qty: 1 + (i % 3), unitPriceFen: 500 + (i % 7) * 100 }, { sku: 'SKU-RICE', qty: 1, unitPriceFen: 4990 }], payment: 'wechat' })
      lat.push(performance.now() - s)
    }
    const totalMs = performance.now() - t0
    lat.sort((a, b) => a - b)
    return {
      sales: opts.sales,
      commitsPerS: (opts.sales / totalMs) * 1000,
      p50Ms: percentile(lat, 50),
      p99Ms: percentile(lat, 99),
      maxMs: lat.at(-1) ?? 0,
      rssMiB: process.memoryUsage().rss / 2 ** 20,
    }
  } finally {
    await agent.close()
    await rm(dir, { recursive: true, force: true })
  }
}
