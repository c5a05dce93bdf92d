// Where the fleet server's per-round CPU varies (ingest.cpuVsFloor's rounds):
// the fleet alone, as cpu-vs-floor.ts runs it, round after round, each round's
// CPU split by thread, with the bytes the process wrote and the GC lines of
// --trace-gc that fell in it.
//   node --import tsx bench/micro/ingest-rounds.ts [rounds=8]
// TARGET=floor runs the floor server instead; PROBE_ENV='{"K":"V"}' gives the
// fleet a setting; FLEET_NODE_ARGS go to the server's node:
// - '--trace-gc': GC counts and pauses; '--trace-gc-nvp': promoted and
//   allocated bytes per scavenge, a line per round;
// - '--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=DIR' with SNAP=1: heap
//   snapshots mid-round 2 and before round 3 (compare: heap-shapes.mjs);
// - '--import <abs>/bench/micro/mem-probe.mjs' with MEM_PROBE_REQUEST=FILE and
//   MEM_PROBE_DIR=DIR: round 2's allocations, garbage included, in
//   DIR/alloc-PID.heapprofile (MEM_PROBE_START=alloc-start:promoted: only
//   what survived the young generation).
import { mkdtemp, rm } from 'node:fs/promises'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runLoad } from '../child.js'
import { startProgram } from '../procs.js'

const ADMIN = 'bench-admin-token-0123456789'
const rounds = Number(process.argv[2] ?? 8)
const cabinets = 100
const perCabinet = 400
const extraEnv = JSON.parse(process.env.PROBE_ENV ?? '{}') as Record<string, string>

function threads(pid: number): Map<string, number> {
  const m = new Map<string, number>()
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0])
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim()
      const key = tid === String(pid) ? 'main' : comm
      m.set(key, (m.get(key) ?? 0) + ns)
    } catch {
      /* gone */
    }
  }
  return m
}
/** Process user and system CPU, clock ticks (10 ms). */
function userSys(pid: number): [number, number] {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return [Number(f[11]), Number(f[12])]
}
/** Sum of the pauses --trace-gc printed ("…MB, 1.2 / 0.0 ms"). */
const gcMs = (lines: readonly string[]): number => lines.reduce((t, l) => t + Number(/MB, ([\d.]+) \//.exec(l)?.[1] ?? 0), 0)
const writeBytes = (pid: number): number => Number(/write_bytes: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? NaN)

const dir = await mkdtemp(join(tmpdir(), 'bench-rounds-'))
const isFloor = process.env.TARGET === 'floor'
const nodeArgs = (process.env.FLEET_NODE_ARGS ?? '').split(' ').filter((a) => a !== '')
const fleet = isFloor ? await startProgram('bench/floor.ts', [], {}, 60_000, nodeArgs) : await startProgram('fleet-server/src/main.ts', [], {
  FLEET_DATA_DIR: dir, FLEET_HTTP_PORT: '0', FLEET_MQTT_PORT: '0', FLEET_ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'error', FLEET_LOG_REQUESTS: 'false',
  FLEET_REPORTS_SCHEDULE: 'false', FLEET_BACKUP_SCHEDULE: 'false', ...extraEnv,
}, 60_000, nodeArgs)
try {
  const http = `http://127.0.0.1:${String(fleet.ready.http)}`
  const credentials: Array<Array<{ username: string; password: string }>> = []
  for (let r = 0; r < rounds + 1 && !isFloor; r++) {
    const round: Array<{ username: string; password: string }> = []
    for (let i = 0; i < cabinets; i++) {
      const res = await fetch(`${http}/api/v1/cabinets`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify({ countyCode: '341125' }) })
      round.push(((await res.json()) as { mqtt: { username: string; password: string } }).mqtt)
    }
    credentials.push(round)
  }
  for (let r = 0; r < rounds + 1; r++) {
    const creds = isFloor ? Array.from({ length: cabinets }, (_, i) => ({ username: `FLOOR-${r}-${String(i).padStart(4, '0')}`, password: 'floor' })) : credentials[r]!
    const u0 = userSys(fleet.pid)
    const t0 = threads(fleet.pid)
    const w0 = writeBytes(fleet.pid)
    const l0 = fleet.lines.length
    if (process.env.SNAP && r === 2) setTimeout(() => process.kill(fleet.pid, 'SIGUSR2'), 1500)
    if (process.env.SNAP && r === 3) process.kill(fleet.pid, 'SIGUSR2')
    const probe = process.env.MEM_PROBE_REQUEST
    if (probe && r === 2) {
      writeFileSync(probe, process.env.MEM_PROBE_START ?? 'alloc-start')
      process.kill(fleet.pid, 'SIGUSR2')
    }
    const res = await runLoad({ mode: 'sales', host: '127.0.0.1', port: Number(fleet.ready.mqtt), credentials: creds, salesPerClient: perCabinet, batchSize: 1, window: 10 })
    if (probe && r === 2) {
      writeFileSync(probe, 'alloc-stop')
      process.kill(fleet.pid, 'SIGUSR2')
    }
    const t1 = threads(fleet.pid)
    const w1 = writeBytes(fleet.pid)
    const u1 = userSys(fleet.pid)
    const gcLines = fleet.lines.slice(l0).filter((l) => /Scavenge|Mark-Compact|Mark-sweep/i.test(l))
    const nvp = fleet.lines.slice(l0).filter((l) => /gc=s /.test(l))
    if (nvp.length > 0) {
      const field = (k: string) => nvp.reduce((t, l) => t + Number(new RegExp(` ${k}=([\\d.]+)`).exec(l)?.[1] ?? 0), 0) / nvp.length
      console.log(JSON.stringify({ scavenges: nvp.length, avgPauseMs: +field('pause').toFixed(2), promotedKB: Math.round(field('promoted') / 1024), allocatedKB: Math.round(field('allocated') / 1024) }))
    }
    const per: Record<string, number> = {}
    let all = 0
    for (const [k, ns] of t1) {
      const d = (ns - (t0.get(k) ?? 0)) / 1000 / res.messages
      all += d
      if (d >= 0.2) per[k] = +d.toFixed(1)
    }
    console.log(JSON.stringify({ round: r, us: +all.toFixed(1), per, userUs: +(((u1[0] - u0[0]) * 1e4) / res.messages).toFixed(1), sysUs: +(((u1[1] - u0[1]) * 1e4) / res.messages).toFixed(1), kbPerMsg: +((w1 - w0) / 1024 / res.messages).toFixed(2), salesPerS: Math.round(res.salesPerS),
      scavenges: gcLines.filter((l) => /Scavenge/.test(l)).length, scavengeMs: +gcMs(gcLines.filter((l) => /Scavenge/.test(l))).toFixed(1), majorMs: +gcMs(gcLines.filter((l) => /Mark/.test(l))).toFixed(1), majors: gcLines.filter((l) => /Mark/.test(l)).length }))
    // The floor's round would run here: leave the fleet the same idle gap.
    await new Promise((res2) => setTimeout(res2, Number(process.env.GAP_MS ?? 2000)))
  }
} finally {
  await fleet.stop()
  await rm(dir, { recursive: true, force: true })
}
