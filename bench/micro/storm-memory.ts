// Memory of a fleet server through the reconnect storm of bench/connections.ts
// (N cabinets connected, all dropped and reconnected at once), split into V8
// heap, external/array buffers and the rest of RSS, and measured again after
// a forced full GC: retained memory or garbage not yet collected.
//   node --import tsx bench/micro/storm-memory.ts [TREE] [N]
// TREE is a checkout of this repo whose fleet server runs (default: this one);
// the load generator is this checkout's. The server gets bench/micro/mem-probe.mjs
// preloaded (node --import, --expose-gc); nothing in TREE changes.
// STORM_DIR=DIR keeps what these write: STORM_SNAPSHOT=1 a heap snapshot after
// the storm and a full GC (DIR/storm-PID.heapsnapshot), STORM_ALLOC=1 a
// sampling profile of what the server allocates during the storm, garbage
// included (DIR/alloc-PID.heapprofile).
// Measured 2026-12-05, 19,000 connections, two runs per tree on the shared
// two-core machine (MiB): RSS after the storm 395 and 586 at issue 13's start
// (8d1c69d), 543 and 614 at 17fbbd4 — heapUsed then 240/176 and 351/200, and
// after a full GC 165 (both runs) against 187 (both runs). The storm's figure
// is mostly old connections' garbage not yet collected, and swings with GC
// timing; what stays is +22 MiB (larger code, ~0.7 KB more per connection).
// The storm allocates 898 vs 924 MiB in all (~48 KB per reconnect, aedes and
// streams; credential reads through Kysely ~4 MiB of it).
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { httpClient, pool } from '../../simulators/src/fleet/provision.js'
import { rssMiB, startConnectLoad } from '../procs.js'

const ADMIN = 'bench-admin-token-0123456789'
const here = resolve(fileURLToPath(import.meta.url), '..')
const tree = resolve(process.argv[2] ?? join(here, '../..'))
const n = Number(process.argv[3] ?? 19_000)
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms))
const log = (s: string) => console.error(`${new Date().toISOString().slice(11, 19)} ${s}`)

const dir = await mkdtemp(join(tmpdir(), 'bench-storm-mem-'))
const requestFile = join(dir, 'probe-request')
const child = spawn(process.execPath, ['--expose-gc', '--import', join(here, 'mem-probe.mjs'), '--import', 'tsx', join(tree, 'fleet-server/src/main.ts')], {
  cwd: tree,
  env: {
    ...process.env,
    FLEET_DATA_DIR: join(dir, 'data'), FLEET_HTTP_PORT: '0', FLEET_MQTT_PORT: '0', FLEET_ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'warn', FLEET_LOG_REQUESTS: 'false',
    FLEET_REPORTS_SCHEDULE: 'false', FLEET_BACKUP_SCHEDULE: 'false', FLEET_MQTT_MAX_CONNECTIONS: String(n), MEM_PROBE_REQUEST: requestFile, MEM_PROBE_DIR: process.env.STORM_DIR ?? dir,
  },
  stdio: ['pipe', 'pipe', 'inherit'],
})
const waiters = new Map<string, (e: Record<string, unknown>) => void>()
const samples: Array<Record<string, unknown>> = []
createInterface({ input: child.stdout! }).on('line', (line) => {
  if (!line.startsWith('{')) return
  let e: Record<string, unknown>
  try {
    e = JSON.parse(line) as Record<string, unknown>
  } catch {
    return
  }
  if (typeof e.event !== 'string') return
  const key = e.event === 'memory' ? `memory:${String(e.label)}` : e.event
  if (e.event === 'memory') samples.push(e)
  waiters.get(key)?.(e)
  waiters.delete(key)
})
const next = (key: string, ms = 120_000) =>
  new Promise<Record<string, unknown>>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`no ${key} within ${ms} ms`)), ms)
    waiters.set(key, (e) => {
      clearTimeout(t)
      res(e)
    })
  })
const probe = async (label: string) => {
  await writeFile(requestFile, label)
  const got = next(`memory:${label}`)
  const after = label.startsWith('gc') ? next(`memory:${label}:after-gc`) : null
  child.kill('SIGUSR2')
  const e = await got
  const a = after ? await after : null
  log(`${label}: ${JSON.stringify(e)}${a ? `\n   after gc: ${JSON.stringify(a)}` : ''}`)
  return a ?? e
}

try {
  const ready = await next('ready', 60_000)
  const httpUrl = `http://127.0.0.1:${String(ready.http)}`
  const http = httpClient(httpUrl, ADMIN)
  log(`provisioning ${n + 1} cabinets (${tree}) …`)
  const counties = ['341102', '341103', '341122', '341124', '341125', '341126', '341181', '341182']
  const creds = await pool(Array.from({ length: n + 1 }, (_, i) => i), 32, async (i) => {
    const r = await http.call<{ cabinetId: string; mqtt: { username: string; password: string } }>('POST', '/api/v1/cabinets', { countyCode: counties[i % counties.length] })
    if (r.status !== 201) throw new Error(`provisioning failed: ${r.status} ${JSON.stringify(r.body)}`)
    return r.body.mqtt
  })
  await probe('idle')
  log(`connecting ${n} …`)
  const { program: load, connected } = await startConnectLoad({
    mode: 'connect', host: '127.0.0.1', port: Number(ready.mqtt), credentials: creds.slice(0, n), concurrency: 500, extra: creds[n]!, deadlineMs: 60_000,
  })
  log(`connected: ${JSON.stringify(connected)}`)
  await settle(2_000)
  const rssHeld = rssMiB(child.pid!)
  await probe('held')
  load.send('extra')
  await load.nextEvent()
  if (process.env.STORM_ALLOC === '1') await probe('alloc-start')
  log('storm …')
  load.send('storm')
  const storm = await load.nextEvent(120_000)
  if (process.env.STORM_ALLOC === '1') {
    const written = next('memory-alloc')
    await probe('alloc-stop')
    log(`allocation profile: ${JSON.stringify(await written)}`)
  }
  log(`storm: ${JSON.stringify(storm)}`)
  await settle(1_000)
  // The bench's figure (rssAfterStormMiB) is read here.
  const rssAfterStorm = rssMiB(child.pid!)
  await probe('storm+1s')
  await settle(9_000)
  await probe('storm+10s')
  await probe(process.env.STORM_SNAPSHOT === '1' ? 'gc+snapshot' : 'gc')
  await settle(5_000)
  await probe('post-gc+5s')
  await load.stop()
  console.log(JSON.stringify({ tree, connections: n, rssHeldMiB: rssHeld, rssAfterStormMiB: rssAfterStorm, samples }))
} finally {
  child.kill('SIGTERM')
  await new Promise((r) => child.once('exit', r))
  await rm(dir, { recursive: true, force: true })
}
