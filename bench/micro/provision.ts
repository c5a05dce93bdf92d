// Provisioning over HTTP (issue 13's regression: bench/connections.ts and the
// week's provisionFleet): N cabinets by `POST /api/v1/cabinets`, 32 in flight,
// against fleet servers started as child processes from one or more repo
// roots, run alternately (A, B, A, B, …) because the machine is noisy. Per run:
// wall time and the server's CPU (user+sys from /proc/PID/stat) per cabinet;
// then the medians per root. --steps also walks each new cabinet through
// site_assigned, installed and operating (three PATCHes, one after another),
// as the week simulation's provisionFleet does (there with --concurrency 16).
//   node --import tsx bench/micro/provision.ts [--n 3000] [--pairs 3] [--concurrency 32] [--steps] [--prof DIR] ROOT…
// ROOTs default to this checkout. FLEET_DATABASE_URL, when set, is passed on
// (each run then provisions into the same PostgreSQL database: use a fresh one).
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { httpClient, pool } from '../../simulators/src/fleet/provision.js'
import { mainThreadCpuUs } from '../thread-cpu.js'

const ADMIN = 'bench-admin-token-0123456789'
const COUNTIES = ['341102', '341103', '341122', '341124', '341125', '341126', '341181', '341182']
/** USER_HZ: the unit of utime/stime in /proc/PID/stat (100 on Linux everywhere we run). */
const CLOCK_TICKS_PER_S = 100

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    n: { type: 'string', default: '3000' },
    pairs: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '32' },
    steps: { type: 'boolean', default: false },
    prof: { type: 'string' },
  },
})
const N = Number(values.n)
const PAIRS = Number(values.pairs)
const CONCURRENCY = Number(values.concurrency)
const STEPS = values.steps ? ['site_assigned', 'installed', 'operating'] : []
const roots = (positionals.length ? positionals : [join(import.meta.dirname, '..', '..')]).map((r) => resolve(r))
const log = (s: string) => process.stderr.write(`${s}\n`)

/** User and system CPU of a process (all its threads) so far, in ms: fields 14 and 15 of /proc/PID/stat. */
function cpuMs(pid: number): { user: number; sys: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return { user: (Number(fields[11]) * 1000) / CLOCK_TICKS_PER_S, sys: (Number(fields[12]) * 1000) / CLOCK_TICKS_PER_S }
}

interface Run {
  readonly root: string
  readonly wallMs: number
  readonly cpuMs: number
  readonly cpuUsPerCabinet: number
  readonly sysUsPerCabinet: number
  /** The event loop's share: it runs every request's JS and SQLite one after another. */
  readonly mainUsPerCabinet: number
}

async function runOnce(root: string, profDir: string | undefined): Promise<Run> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-prov-'))
  const child = spawn(process.execPath, ['--import', 'tsx', ...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []), join(root, 'fleet-server/src/main.ts')], {
    cwd: root,
    env: {
      ...process.env,
      FLEET_DATA_DIR: dir, FLEET_HTTP_PORT: '0', FLEET_MQTT_PORT: '0', FLEET_ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'warn', FLEET_LOG_REQUESTS: 'false',
      FLEET_REPORTS_SCHEDULE: 'false', FLEET_BACKUP_SCHEDULE: 'false',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  try {
    const ready = await new Promise<{ http: number }>((resolveReady, reject) => {
      const timer = setTimeout(() => reject(new Error(`${root}: no ready line within 60 s`)), 60_000)
      void exited.then(() => reject(new Error(`${root}: server exited before ready`)))
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (!line.includes('"ready"')) return
        clearTimeout(timer)
        resolveReady(JSON.parse(line) as { http: number })
      })
    })
    const http = httpClient(`http://127.0.0.1:${ready.http}`, ADMIN)
    const provisionOne = async (i: number): Promise<void> => {
      const r = await http.call<{ cabinetId: string }>('POST', '/api/v1/cabinets', { countyCode: COUNTIES[i % COUNTIES.length], siteName: `bench ${i}`, venueType: '社区' })
      if (r.status !== 201) throw new Error(`provisioning failed: ${r.status} ${JSON.stringify(r.body)}`)
      for (const status of STEPS) {
        const p = await http.call('PATCH', `/api/v1/cabinets/${r.body.cabinetId}`, { status })
        if (p.status !== 200) throw new Error(`step to ${status} failed: ${p.status} ${JSON.stringify(p.body)}`)
      }
    }
    // A few cabinets first, so the figures are the steady state and not the first compiles.
    await pool([0, 1, 2, 3], 4, provisionOne)
    const cpu0 = cpuMs(child.pid!)
    const main0 = mainThreadCpuUs(child.pid!)!
    const t0 = performance.now()
    await pool(Array.from({ length: N }, (_, i) => i), CONCURRENCY, provisionOne)
    const wallMs = performance.now() - t0
    const cpu1 = cpuMs(child.pid!)
    const main = mainThreadCpuUs(child.pid!)! - main0
    const user = cpu1.user - cpu0.user
    const sys = cpu1.sys - cpu0.sys
    return { root, wallMs: Math.round(wallMs), cpuMs: Math.round(user + sys), cpuUsPerCabinet: Math.round(((user + sys) * 1000) / N), sysUsPerCabinet: Math.round((sys * 1000) / N), mainUsPerCabinet: Math.round(main / N) }
  } finally {
    child.kill('SIGTERM')
    await exited
    await rm(dir, { recursive: true, force: true })
  }
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

const runs: Run[] = []
for (let pair = 0; pair < PAIRS; pair++) {
  for (const root of roots) {
    const r = await runOnce(root, values.prof)
    log(`provision: ${root} n=${N}: ${r.wallMs} ms wall, ${r.cpuUsPerCabinet} µs server CPU per cabinet (${r.sysUsPerCabinet} µs system), ${r.mainUsPerCabinet} µs on its main thread`)
    runs.push(r)
  }
}
const summary = roots.map((root) => {
  const mine = runs.filter((r) => r.root === root)
  return { root, n: N, concurrency: CONCURRENCY, steps: STEPS.length, wallMs: median(mine.map((r) => r.wallMs)), cpuUsPerCabinet: median(mine.map((r) => r.cpuUsPerCabinet)), sysUsPerCabinet: median(mine.map((r) => r.sysUsPerCabinet)), mainUsPerCabinet: median(mine.map((r) => r.mainUsPerCabinet)), runs: mine.map(({ root: _, cpuMs: __, ...r }) => r) }
})
console.log(JSON.stringify({ provision: summary }))
