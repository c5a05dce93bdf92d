// The trust record (issue 12): what the hostile-input and fault suites tried
// and what they found, with the server's memory growth under hostile sockets.
// The property and fault suites run as they do in `npm test` (vitest, in a
// child process) and leave their counts in a temp dir (test/helpers/
// trust-counts.ts); the hostile-socket and randomized fault runs are bench
// modules of their own.
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { optionalBench } from './optional.js'

const ROOT = join(import.meta.dirname, '..')
/** The suites whose counts the record carries (paths as vitest takes them). */
const SUITES = ['test/property', 'test/faults', 'test/fleet-server/forwarding/receipts.test.ts', 'test/fleet-server/hostile.test.ts']

export interface TrustRecord {
  readonly suites: { readonly passed: boolean; readonly exitCode: number | null; readonly durationS: number }
  /** Counts by suite name (property, faults, …), summed over their tests. */
  readonly counts: Record<string, Record<string, number>>
  readonly hostileSockets: unknown
  readonly randomizedFaults: unknown
  /** The figures, summed over the suites and the randomized run. */
  readonly summary: TrustSummary
}

export interface TrustSummary {
  readonly scenariosRun: number
  readonly faultsInjected: number
  readonly hostileInputsTried: number
  readonly salesAcknowledged: number
  readonly salesLost: number
  readonly salesDuplicated: number
  /** Batches the server counts as delivered that the platform does not hold. */
  readonly forwardedUnacknowledged: number
  /** Server RSS growth under 1,000 hostile sockets (the bench's own run), MiB. */
  readonly hostileSocketsRssGrowthMiB: number | null
}

const num = (o: unknown, k: string): number => {
  const v = (o as Record<string, unknown> | null | undefined)?.[k]
  return typeof v === 'number' ? v : 0
}

function summarize(counts: TrustRecord['counts'], hostile: unknown, randomized: unknown): TrustSummary {
  const faults = counts.faults
  const receipts = counts['forwarding-receipts']
  const property = counts.property
  const growth = (hostile as Record<string, unknown> | null)?.rssGrowthMiB
  return {
    scenariosRun: num(faults, 'scenarios') + num(receipts, 'scenarios') + num(randomized, 'scenarios'),
    faultsInjected: num(faults, 'faultsInjected') + num(receipts, 'faultsInjected') + num(randomized, 'faultsInjected'),
    hostileInputsTried: num(property, 'hostileInputs') + num(counts['broker-hostile-sockets'], 'hostileSockets') + num(hostile, 'hostileSockets'),
    salesAcknowledged: num(faults, 'salesAcknowledged') + num(randomized, 'salesAcknowledged'),
    salesLost: num(faults, 'salesLost') + num(randomized, 'salesLost'),
    salesDuplicated: num(faults, 'salesDuplicated') + num(randomized, 'salesDuplicated'),
    forwardedUnacknowledged: num(faults, 'forwardedUnacknowledged') + num(receipts, 'forwardedNotAcknowledged') + num(randomized, 'forwardedUnacknowledged'),
    hostileSocketsRssGrowthMiB: typeof growth === 'number' ? growth : null,
  }
}

async function runSuites(countsDir: string, log: (s: string) => void): Promise<TrustRecord['suites']> {
  const present = SUITES.filter((s) => existsSync(join(ROOT, s)))
  const t0 = performance.now()
  const exitCode = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', ...present], {
      cwd: ROOT,
      env: { ...process.env, FLEET_TRUST_COUNTS_DIR: countsDir },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    child.stderr.on('data', (b: Buffer) => log(b.toString().trimEnd()))
    child.on('close', (code) => resolve(code))
  })
  return { passed: exitCode === 0, exitCode, durationS: Math.round((performance.now() - t0) / 1000) }
}

function readCounts(dir: string): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {}
  if (!existsSync(dir)) return out
  for (const f of readdirSync(dir)) {
    if (f.endsWith('.json')) out[f.slice(0, -5)] = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, number>
  }
  return out
}

export async function trustRecord(log: (s: string) => void, seed = 'bench-trust-1'): Promise<TrustRecord> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-trust-'))
  try {
    log('bench: trust: property and fault suites …')
    const suites = await runSuites(dir, () => {})
    log('bench: trust: 1,000 hostile sockets against a fleet server …')
    const hostileSockets = await optionalBench('hostile', 'benchHostile')
    log(`bench: trust: randomized fault run (seed ${seed}) …`)
    const randomizedFaults = await optionalBench('faults', 'benchFaults', seed)
    const counts = readCounts(dir)
    return { suites, counts, hostileSockets, randomizedFaults, summary: summarize(counts, hostileSockets, randomizedFaults) }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
