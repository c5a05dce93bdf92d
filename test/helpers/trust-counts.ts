// The trust suites (property tests, fault scenarios) count what they tried:
// hostile inputs, scenarios, faults injected, sales lost or doubled. With
// FLEET_TRUST_COUNTS_DIR set (bench/trust.ts sets it), each suite leaves its
// counts there as <name>.json, summed across calls, so `npm run bench` can
// record them beside its other figures.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export type TrustCounts = Record<string, number>

export function recordTrustCounts(name: string, counts: TrustCounts): void {
  const dir = process.env.FLEET_TRUST_COUNTS_DIR
  if (!dir) return
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `${name}.json`)
  let prior: TrustCounts = {}
  try {
    prior = JSON.parse(readFileSync(file, 'utf8')) as TrustCounts
  } catch {
    // first call for this name
  }
  const sum: TrustCounts = { ...prior }
  for (const [k, v] of Object.entries(counts)) sum[k] = (sum[k] ?? 0) + v
  writeFileSync(file, `${JSON.stringify(sum, null, 2)}\n`)
}
