// The bench's backlog alone on a fresh server (2,700 agents offline for 3
// virtual days, then all reconnecting): over the drain, the server's CPU
// seconds, its ingest ticks and committed batches (from /metrics) and its
// fsync/pwrite/pread syscalls (perf stat on syscall tracepoints: with
// synchronous=FULL each SQLite commit is one fsync, each WAL frame a pwrite).
// Runs on older trees too (copy it into their bench/, import './fleet.js'), to
// compare the same drain across commits.
//   node --import tsx bench/micro/backlog-drain.ts
// SERVER_NODE_ARGS='--cpu-prof --cpu-prof-dir=DIR' profiles the server.
// Needs perf (Debian's linux-perf) and root, or perf_event_paranoid <= 1.
// Issue 13, session 23: 2,700 stock reports, each its own commit running the
// sales fold first, made 4,900-5,100 fsyncs and 1.2 M pwrites of a drain
// (the issue-start tree: 1,900 and 0.7 M); grouped and fold-free, 3,000 and 0.4 M.
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { simulate, startFleetServer } from '../fleet.js'

const nodeArgs = (process.env.SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean)
// Older trees' startFleetServer takes no node arguments.
const f = await (startFleetServer as (a?: string[]) => ReturnType<typeof startFleetServer>)(nodeArgs)
const cpu = (pid: number) => {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(s[11]) + Number(s[12])) / 100
}
let at: { server: number; t: number; m: Record<string, number> } | null = null
let out: Record<string, number> = {}
const metrics = async () => {
  const text = await (await fetch(`${f.httpUrl}/metrics`)).text()
  const m: Record<string, number> = {}
  for (const k of ['fleet_ingest_tick_seconds_count', 'fleet_sale_batches_committed_total', 'fleet_sales_ingested_total', 'fleet_sale_batches_replayed_total', 'fleet_sale_batches_rejected_total']) {
    m[k] = Number(new RegExp(`^${k}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(text)?.[1] ?? NaN)
  }
  return m
}
const pending: Promise<void>[] = []
// Syscalls of the server over the drain (fsyncs: one per SQLite commit with synchronous=FULL).
let perf: ChildProcess | null = null
let perfOut = ''
const startPerf = () => {
  perf = spawn('perf', ['stat', '-x', ',', '-e', 'syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync,syscalls:sys_enter_pwrite64,syscalls:sys_enter_writev,syscalls:sys_enter_pread64', '-p', String(f.server.pid)], { stdio: ['ignore', 'ignore', 'pipe'] })
  perf.stderr!.on('data', (d: Buffer) => (perfOut += d.toString()))
}
const stopPerf = () => new Promise<void>((resolve) => { if (!perf) return resolve(); perf.on('exit', () => resolve()); perf.kill('SIGINT') })
const log = (s: string) => {
  if (s.includes('reconnecting')) {
    startPerf()
    pending.push(metrics().then((m) => { at = { server: cpu(f.server.pid), t: performance.now(), m } }))
  }
  if (s.includes('drained')) {
    const c = cpu(f.server.pid), t = performance.now()
    pending.push(stopPerf())
    pending.push(metrics().then((m) => {
      out = { serverCpuS: +(c - at!.server).toFixed(1), wallS: +((t - at!.t) / 1000).toFixed(1) }
      for (const k of Object.keys(m)) out[k.replace('fleet_', '')] = m[k]! - at!.m[k]!
    }))
  }
  if (process.env.VERBOSE) process.stderr.write(s + '\n')
}
try {
  const r = await simulate(f, { cabinets: 2700, days: 3, speed: 10_000_000, cityOutages: [[0, 72]], drainTimeoutMs: 120_000 }, log)
  await Promise.all(pending)
  for (const line of perfOut.trim().split('\n')) { const [v, , ev] = line.split(','); if (ev) out[ev.replace('syscalls:sys_enter_', '')] = Number(v) }
  console.log(JSON.stringify({ ...out, drainMs: r.drain.drainedMs, connectedMs: r.drain.connectedMs, sales: r.drain.backlogSales, peak: r.serverRssMiB }))
} finally {
  await f.close()
}
process.exit(0)
