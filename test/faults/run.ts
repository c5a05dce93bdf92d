// npm run test:faults [-- --seed S] [--minutes M] [--rounds N] [--agents N]
// The longer randomized fault run: prints its seed first (and again on
// failure, so the run can be repeated), a line per round on stderr, and ends
// with a summary line `N passed, N failed` and one JSON line of counts.
// Exits 1 when a round failed. FAULTS_SEED / FAULTS_MINUTES work too.
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import { recordTrustCounts } from '../helpers/trust-counts.js'
import { runRandomFaults } from './random-run.js'

const { values } = parseArgs({
  options: { seed: { type: 'string' }, minutes: { type: 'string' }, rounds: { type: 'string' }, agents: { type: 'string' } },
  strict: true,
})
const seed = values.seed ?? process.env.FAULTS_SEED ?? randomBytes(6).toString('hex')
const minutes = Number(values.minutes ?? process.env.FAULTS_MINUTES ?? 5)
const rounds = values.rounds === undefined ? undefined : Number(values.rounds)
const agents = values.agents === undefined ? undefined : Number(values.agents)
if (!(minutes > 0) || (rounds !== undefined && !(rounds >= 1)) || (agents !== undefined && !(agents >= 2 && agents <= 16))) {
  process.stderr.write('usage: npm run test:faults -- [--seed S] [--minutes M>0] [--rounds N>=1] [--agents 2..16]\n')
  process.exit(2)
}

process.stdout.write(`faults: seed ${seed} (repeat with FAULTS_SEED=${seed}), ${minutes} min${rounds ? `, at most ${rounds} rounds` : ''}\n`)
const started = Date.now()
const result = await runRandomFaults({
  seed,
  durationMs: minutes * 60_000,
  ...(rounds !== undefined && { maxRounds: rounds }),
  ...(agents !== undefined && { agents }),
  log: (line) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${line}\n`),
})
recordTrustCounts('faults', { ...result.counts })
for (const f of result.failures) process.stdout.write(`FAILED round ${f.round} (${f.faults.join(', ')}): ${f.problems.join('; ')}\n`)
process.stdout.write(`${result.passed} passed, ${result.failed} failed\n`)
process.stdout.write(`${JSON.stringify({ seed, ...result.counts, faults: result.faults, seconds: Math.round((Date.now() - started) / 1000) })}\n`)
if (result.failed > 0) {
  process.stdout.write(`faults: FAILED with seed ${seed}\n`)
  process.exit(1)
}
process.exit(0)
