// Bench figures of the fault-injection harness (issue 12): a fixed-seed
// randomized run of the fault scenarios (test/faults/random-run.ts) with real
// processes, and its counts. Wired into bench/run.ts by the lead.
import { runRandomFaults } from '../test/faults/random-run.js'

/** Rounds of the bench's run: a few minutes on a 2-core machine, every kind of fault drawn. */
const BENCH_ROUNDS = 6
const BENCH_MAX_MS = 6 * 60_000

export async function benchFaults(seed: string): Promise<Record<string, number>> {
  const started = Date.now()
  const r = await runRandomFaults({ seed, durationMs: BENCH_MAX_MS, maxRounds: BENCH_ROUNDS })
  return {
    ...r.counts,
    roundsPassed: r.passed,
    roundsFailed: r.failed,
    seconds: Math.round((Date.now() - started) / 1000),
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${JSON.stringify(await benchFaults(process.argv[2] ?? 'bench-faults-1'))}\n`)
}
