// Micro-benchmark of GET /api/v1/rollout through fastify.inject, in CPU per
// request (process.cpuUsage, user + system), on the fleet bench/rollout.ts
// builds (20,000 cabinets over 12 counties, 22,000 transitions, nothing
// online): the cached path the bench's p50/p99 measure.
//   node --import tsx bench/micro/rollout-route.ts [TREE ...]
// Each TREE (a checkout of this repo, default: this one) gets its own fleet in
// this process, and the trees are measured in alternating rounds, so a noisy
// machine weighs on all alike. Best and median CPU µs per request per tree
// (rounds of 300), p50/p99 of the wall time of all requests, and the GC
// pauses seen during each tree's rounds.
// ROLLOUT_PROFILE=FILE writes a CPU profile of the measured rounds only.
// Measured 2026-12-05 (load 4-8 on two cores), 30 rounds, median CPU µs per
// request / wall p50 ms: issue 13's start (8d1c69d) 399-408 / 0.29-0.31; before
// the fixes 553-639 / 0.39-0.44; helmet built once 552 / 0.41; + the token
// lookup compiled once 504 / 0.39; + county figures cached 432-436 / 0.30-0.32.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { PerformanceObserver } from 'node:perf_hooks'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { provincePlan, weekImportCsv } from '../rollout.js'

const ADMIN = 'bench-admin-token-0123456789'
const CABINETS = Number(process.env.ROLLOUT_CABINETS ?? 20_000)
const ROUNDS = Number(process.env.ROLLOUT_ROUNDS ?? 9)
const PER_ROUND = 300

interface Inject {
  inject(o: { method: string; url: string; headers?: Record<string, string>; payload?: unknown }): Promise<{ statusCode: number; body: string }>
}

async function fleetOf(tree: string, dir: string) {
  const { buildFleet } = (await import(join(tree, 'fleet-server/src/app.ts'))) as { buildFleet: (c: unknown, d: unknown) => Promise<{ http: Inject; close(): Promise<void> }> }
  const { loadConfig } = (await import(join(tree, 'fleet-server/src/config.ts'))) as { loadConfig: (env: Record<string, string>, argv: string[]) => unknown }
  const plan = provincePlan(CABINETS)
  const planFile = join(dir, 'plan.json')
  await writeFile(planFile, JSON.stringify(plan))
  let clock = Date.parse('2020-09-01T00:00:00Z')
  const fleet = await buildFleet(
    loadConfig({ FLEET_DATA_DIR: join(dir, 'data'), FLEET_HTTP_PORT: '0', FLEET_MQTT_PORT: '0', FLEET_ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'silent', FLEET_LOG_REQUESTS: 'false',
      FLEET_REPORTS_SCHEDULE: 'false', FLEET_BACKUP_SCHEDULE: 'false', FLEET_PLAN: planFile }, []),
    { logger: pino({ level: 'silent' }), now: () => new Date(clock) },
  )
  const installed: string[] = []
  for (let week = 0; week < 3; week++) {
    clock = Date.parse('2020-09-01T00:00:00Z') + week * 7 * 86_400_000
    const lines = weekImportCsv(plan, week, [], installed)
    const res = await fleet.http.inject({ method: 'POST', url: '/api/v1/cabinets/import', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'text/csv' }, payload: lines.join('\n') })
    if (res.statusCode !== 201) throw new Error(`import failed: ${res.statusCode} ${res.body.slice(0, 300)}`)
  }
  clock = Date.parse('2020-09-22T00:00:00Z')
  for (const id of installed.slice(0, 2000)) {
    const res = await fleet.http.inject({ method: 'PATCH', url: `/api/v1/cabinets/${id}`, headers: { authorization: `Bearer ${ADMIN}` }, payload: { status: 'operating' } })
    if (res.statusCode !== 200) throw new Error(`patch failed: ${res.statusCode}`)
  }
  clock = Date.parse('2020-09-25T00:00:00Z')
  return fleet
}

const here = resolve(fileURLToPath(import.meta.url), '../../..')
const trees = process.argv.length > 2 ? process.argv.slice(2).map((t) => resolve(t)) : [here]
const dirs: string[] = []
const fleets: Array<{ tree: string; http: Inject; close(): Promise<void>; cpuUs: number[]; wallMs: number[]; gcs: number; gcMs: number; body: string }> = []
try {
  for (const tree of trees) {
    const dir = await mkdtemp(join(tmpdir(), 'bench-rollout-route-'))
    dirs.push(dir)
    const f = await fleetOf(tree, dir)
    fleets.push({ tree, http: f.http, close: () => f.close(), cpuUs: [], wallMs: [], gcs: 0, gcMs: 0, body: '' })
  }
  const get = (f: (typeof fleets)[number]) => f.http.inject({ method: 'GET', url: '/api/v1/rollout', headers: { authorization: `Bearer ${ADMIN}` } })
  for (const f of fleets) for (let i = 0; i < 50; i++) f.body = (await get(f)).body
  const profile = process.env.ROLLOUT_PROFILE
  const session = profile ? new Session() : null
  if (session) {
    session.connect()
    await session.post('Profiler.enable')
    await session.post('Profiler.start')
  }
  // GC pauses, charged to the tree whose round was running.
  let current: (typeof fleets)[number] | null = null
  const gcs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (!current) continue
      current.gcs++
      current.gcMs += e.duration
    }
  })
  gcs.observe({ entryTypes: ['gc'] })
  for (let r = 0; r < ROUNDS; r++) {
    for (const f of fleets) {
      current = f
      const c0 = process.cpuUsage()
      for (let i = 0; i < PER_ROUND; i++) {
        const s = performance.now()
        const res = await get(f)
        f.wallMs.push(performance.now() - s)
        if (res.statusCode !== 200) throw new Error(`rollout failed: ${res.statusCode}`)
      }
      const c = process.cpuUsage(c0)
      f.cpuUs.push((c.user + c.system) / PER_ROUND)
      await new Promise((r) => setImmediate(r)) // GC entries are delivered asynchronously
      current = null
    }
  }
  gcs.disconnect()
  if (session) {
    const { profile: p } = await session.post('Profiler.stop')
    await writeFile(profile!, JSON.stringify(p))
    session.disconnect()
  }
  const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor(p * xs.length)]!
  const strip = (b: string) => b.replace(/"asOf":"[^"]*"/, '')
  const result = fleets.map((f) => {
    const s = [...f.cpuUs].sort((a, b) => a - b)
    return {
      tree: f.tree,
      bestCpuUs: +s[0]!.toFixed(1),
      medianCpuUs: +s[s.length >> 1]!.toFixed(1),
      rounds: f.cpuUs.map((x) => +x.toFixed(1)),
      wallP50Ms: +pct(f.wallMs, 0.5).toFixed(3),
      wallP99Ms: +pct(f.wallMs, 0.99).toFixed(3),
      gcPauses: f.gcs,
      gcMsPerRequest: +(f.gcMs / (ROUNDS * PER_ROUND)).toFixed(4),
      sameBodyAsFirst: strip(f.body) === strip(fleets[0]!.body),
    }
  })
  console.log(JSON.stringify(result, null, 1))
} finally {
  for (const f of fleets) await f.close()
  for (const d of dirs) await rm(d, { recursive: true, force: true })
}
