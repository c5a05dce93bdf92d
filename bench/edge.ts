// Edge agent: durable sale commits (WAL + synchronous=FULL), timed one by one
// through the agent's own sell() with the broker unreachable (sales pile up in
// the outbox, as on a cabinet whose 4G is down); and how a cabinet runs the
// agent in production, for the RSS figures.
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { createAgent, makeConfig } from '../edge-agent/src/index.js'

const ROOT = join(import.meta.dirname, '..')

/**
 * The production start path (README "Running an edge agent in production"):
 * compiled JS from `npm run build`, no tsx loader, and a 1 MiB V8 semi-space
 * (V8 lets the young generation grow to 16 MiB per semi-space by default,
 * which an agent selling a few sales a minute never needs).
 */
export const AGENT_PRODUCTION = {
  nodeArgs: ['--max-semi-space-size=1', '--single-threaded'],
  script: 'dist/edge-agent/src/main.js',
  runtime: 'npm run build && node --max-semi-space-size=1 --single-threaded dist/edge-agent/src/main.js',
} as const

/** The development path (`npm run edge-agent`), measured for comparison. */
export const AGENT_DEVELOPMENT = {
  nodeArgs: [] as string[],
  script: 'edge-agent/src/main.ts',
  runtime: 'node --import tsx edge-agent/src/main.ts (npm run edge-agent)',
} as const

/** `npm run build` (tsc -p tsconfig.build.json), as a cabinet image is built. Throws with tsc's output when it fails. */
export async function buildForProduction(): Promise<{ ms: number }> {
  const t0 = performance.now()
  const child = spawn(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (out += d.toString()))
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)))
  if (code !== 0) throw new Error(`npm run build failed (exit ${String(code)}):\n${out.slice(-2000)}`)
  return { ms: Math.round(performance.now() - t0) }
}

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
