// The fleet bench's backlog scenario alone (bench/run.ts, part fleet): 2,700
// agents offline for 3 virtual days, then reconnecting together. For profiling
// the server: BACKLOG_PROFILE_DIR=DIR writes its CPU profile there.
//   node --import tsx bench/micro/backlog.ts
import { simulate, startFleetServer } from '../fleet.js'

const CABINETS = Number(process.env.BENCH_CABINETS ?? 2700)
const log = (s: string) => process.stderr.write(`${s}\n`)
const profileDir = process.env.BACKLOG_PROFILE_DIR
const f = await startFleetServer(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])
try {
  const backlog = await simulate(f, { cabinets: CABINETS, days: 3, speed: 10_000_000, cityOutages: [[0, 72]], drainTimeoutMs: 120_000 }, log)
  console.log(JSON.stringify({ ok: backlog.isOk, drain: backlog.drain }))
} finally {
  await f.close()
}
