// Micro-benchmark of the month-end forwarding pass alone, for quick
// iterations: bench/forwarding.ts's fleet (seeded once), then the month-end
// pass and a repeat pass measured round after round, the forwarding tables
// emptied before each round so every round is a first month-end pass:
//   node --import tsx bench/micro/forwarding-pass.ts [cabinets=2700] [rounds=5]
// Reports wall time, the longest event-loop block and process CPU (user +
// system) of each month-end pass: on a shared machine the CPU is the steadier figure.
// Add --cpu-prof to node's flags for a profile (the seeding is in it too).
// FWD_CKPT=1: checkpoint the WAL before each round, so no automatic
// checkpoint (due every WAL_AUTOCHECKPOINT_PAGES) falls inside the pass.
// Each round prints the WAL's frame count before and after the pass.
// FWD_SQL=1: time every SQLite statement of the passes (prepare and run, per
// statement text), printed after the rounds: the profile cannot tell Kysely's
// queries apart, since they run after an await.
import { sql } from 'kysely'
import { performance } from 'node:perf_hooks'
import { walFrames } from '../../fleet-server/src/db/wal-checkpoint.js'
import { probed, seedForwardingFleet } from '../forwarding.js'

const cabinets = Number(process.argv[2] ?? 2700)
const rounds = Number(process.argv[3] ?? 5)
const ms1 = (x: number) => +x.toFixed(1)
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const { fleet, call, close, setupMs, setNow } = await seedForwardingFleet(cabinets)
try {
  process.stderr.write(`seeded ${cabinets} cabinets in ${Math.round(setupMs)} ms\n`)
  setNow(new Date('2020-12-02T02:00:00Z')) // 10:00 in Shanghai
  const sqlTimes = process.env.FWD_SQL ? timeStatements(fleet.database.sqlite!) : null
  const run = async () => (await call('POST', '/api/v1/forwarding/run')).json() as { judged: number; queued: number; held: number }
  const monthEnd: Array<{ ms: number; maxBlockMs: number; cpuMs?: number }> = []
  const repeat: Array<{ ms: number; maxBlockMs: number }> = []
  for (let r = 0; r < rounds; r++) {
    for (const t of ['forwarding_outbox', 'forwarding_periods', 'forwarding_sync_marks'] as const) await sql`DELETE FROM ${sql.table(t)}`.execute(fleet.database.kysely)
    if (process.env.FWD_CKPT) await fleet.database.exclusive((conn) => conn.pragma('wal_checkpoint(TRUNCATE)'))
    const frames0 = walFrames(fleet.database.sqlite!.name)
    // Monotonic µs, the clock of a --cpu-prof profile's sample times: find a round in it.
    const hr0 = process.hrtime.bigint() / 1000n
    const c0 = process.cpuUsage()
    const m = await probed(run)
    const cpu = process.cpuUsage(c0)
    const hr1 = process.hrtime.bigint() / 1000n
    const frames1 = walFrames(fleet.database.sqlite!.name)
    const p = await probed(run)
    if (m.value.judged !== cabinets * 2 || p.value.queued !== 0) throw new Error(`unexpected pass: ${JSON.stringify([m.value, p.value])}`)
    monthEnd.push({ ms: ms1(m.ms), maxBlockMs: ms1(m.maxBlockMs), cpuMs: ms1((cpu.user + cpu.system) / 1000) })
    repeat.push({ ms: ms1(p.ms), maxBlockMs: ms1(p.maxBlockMs) })
    process.stderr.write(`round ${r + 1}: month end ${ms1(m.ms)} ms (max block ${ms1(m.maxBlockMs)}, CPU ${ms1((cpu.user + cpu.system) / 1000)} ms), repeat ${ms1(p.ms)} ms (max block ${ms1(p.maxBlockMs)}); queued ${m.value.queued}, held ${m.value.held}; WAL frames ${frames0} -> ${frames1}; month end at ${hr0}..${hr1} µs\n`)
  }
  const summary = (xs: typeof monthEnd) => ({ medianMs: median(xs.map((x) => x.ms)), ...(xs[0]?.cpuMs !== undefined && { medianCpuMs: median(xs.map((x) => x.cpuMs!)) }), medianMaxBlockMs: median(xs.map((x) => x.maxBlockMs)), worstMaxBlockMs: Math.max(...xs.map((x) => x.maxBlockMs)), rounds: xs })
  process.stdout.write(`${JSON.stringify({ cabinets, monthEndPass: summary(monthEnd), repeatPass: summary(repeat) })}\n`)
  if (sqlTimes) {
    const rows = [...sqlTimes].sort((a, b) => b[1].ms + b[1].prepareMs - a[1].ms - a[1].prepareMs)
    for (const [text, t] of rows.slice(0, 25)) process.stderr.write(`${String(t.n).padStart(7)} runs ${t.ms.toFixed(0).padStart(6)} ms run ${t.prepareMs.toFixed(0).padStart(5)} ms prepare  ${text.replace(/\s+/g, ' ').slice(0, 150)}\n`)
  }
} finally {
  await close()
}

/** Wraps the connection's prepare so each statement's prepares and runs are timed, by statement text (the sizes of multi-row statements folded). */
function timeStatements(conn: NonNullable<Awaited<ReturnType<typeof seedForwardingFleet>>['fleet']['database']['sqlite']>) {
  const times = new Map<string, { n: number; ms: number; prepareMs: number }>()
  const prepare = conn.prepare.bind(conn)
  const entry = (text: string) => {
    const k = text.replace(/(\(\?(, \?)*\),? ?)+/g, '(?…) ').replace(/\?(, \?)+/g, '?…')
    let t = times.get(k)
    if (!t) times.set(k, (t = { n: 0, ms: 0, prepareMs: 0 }))
    return t
  }
  conn.prepare = ((text: string) => {
    const t0 = performance.now()
    const stmt = prepare(text)
    const t = entry(text)
    t.prepareMs += performance.now() - t0
    for (const m of ['all', 'run', 'get', 'iterate'] as const) {
      const f = (stmt as unknown as Record<string, (...a: unknown[]) => unknown>)[m]!.bind(stmt)
      ;(stmt as unknown as Record<string, unknown>)[m] = (...a: unknown[]) => {
        const t1 = performance.now()
        try {
          return f(...a)
        } finally {
          t.n++
          t.ms += performance.now() - t1
        }
      }
    }
    return stmt
  }) as typeof conn.prepare
  return times
}
