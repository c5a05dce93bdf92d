// Telemetry bench (issue 16 §4 Done-when): 2,700 cabinets reporting every
// minute, time compressed. A real fleet server in this process (embedded
// aedes, SQLite WAL synchronous=FULL) so its event loop and RSS are measured
// directly; the cabinets are raw MQTT clients in another process
// (bench/telemetry-load.ts). Figures:
//   - rounds: 2,700 readings (one per cabinet) spread over 10 s … 3 s … none,
//     each timed from its first send to its last row committed: readings/s
//     sustained against offered, and the saturation figure (the round sent
//     all at once: the most the intake commits per second);
//   - beside sales: the same one-sale-per-message ingest load alone, then
//     again with telemetry running (2,700 readings every 3 s, 900/s, ~2.7x a
//     20,000-cabinet fleet's 333/s), each with the server's event-loop delay
//     (perf_hooks monitorEventLoopDelay, p99/max) and RSS (peak).
// Run: npm run bench -- telemetry
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { pino } from 'pino'
import { buildFleet } from '../fleet-server/src/app.js'
import { loadConfig } from '../fleet-server/src/config.js'
import { httpClient, pool } from '../simulators/src/fleet/provision.js'
import { runLoad } from './child.js'
import { rawRows } from './fixtures.js'
import { cpuMsSince } from './server.js'
import type { TelemetryLoadSpec } from './telemetry-load.js'

const ADMIN = 'bench-admin-token-0123456789'
const ROOT = join(import.meta.dirname, '..')

export interface TelemetryBenchOptions {
  readonly cabinets?: number
  /** Cabinets of the sales load (each run of it its own set: their chains start at seq 1). */
  readonly salesCabinets?: number
  readonly salesPerCabinet?: number
  readonly log: (s: string) => void
}

const RESOLUTION_MS = 10
const ms1 = (ns: number) => +(ns / 1e6).toFixed(1)
const mib = (b: number) => +(b / 2 ** 20).toFixed(1)

/** Event-loop delay and peak RSS of this process over one phase. */
function watch() {
  const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
  h.enable()
  let peak = process.memoryUsage().rss
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100)
  return () => {
    h.disable()
    clearInterval(sampler)
    peak = Math.max(peak, process.memoryUsage().rss)
    // The histogram records whole sampling intervals: the stall is what exceeds the 10 ms resolution.
    const stall = (ns: number) => Math.max(0, ms1(ns - RESOLUTION_MS * 1e6))
    return { eventLoopStallP50Ms: stall(h.percentile(50)), eventLoopStallP99Ms: stall(h.percentile(99)), eventLoopStallMaxMs: stall(h.max), rssPeakMiB: mib(peak) }
  }
}

function startTelemetryLoad(spec: TelemetryLoadSpec) {
  return (async () => {
    const file = join(tmpdir(), `telemetry-load-${process.pid}-${Date.now()}.json`)
    await writeFile(file, JSON.stringify(spec))
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/telemetry-load.ts'), file], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] })
    const events: Array<Record<string, unknown>> = []
    const waiters: Array<(e: Record<string, unknown>) => void> = []
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.startsWith('{')) return
      const e = JSON.parse(line) as Record<string, unknown>
      const w = waiters.shift()
      if (w) w(e)
      else events.push(e)
    })
    const exited = new Promise<void>((r) => child.once('exit', () => r()))
    const next = () =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const e = events.shift()
        if (e) return resolve(e)
        waiters.push(resolve)
        void exited.then(() => reject(new Error('telemetry load exited')))
      })
    const connected = await next()
    return {
      connected,
      next,
      send: (line: string) => void child.stdin.write(`${line}\n`),
      async stop() {
        child.stdin.write('quit\n')
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
        await exited
        clearTimeout(timer)
      },
    }
  })()
}

export async function telemetryBench(opts: TelemetryBenchOptions) {
  const n = opts.cabinets ?? 2700
  const salesCabinets = opts.salesCabinets ?? 100
  const salesPerCabinet = opts.salesPerCabinet ?? 400
  const dir = await mkdtemp(join(tmpdir(), 'bench-telemetry-'))
  const fleet = await buildFleet(
    loadConfig({ FLEET_DATA_DIR: dir, FLEET_HTTP_PORT: '0', FLEET_MQTT_PORT: '0', FLEET_ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'silent', FLEET_LOG_REQUESTS: 'false',
      FLEET_REPORTS_SCHEDULE: 'false', FLEET_BACKUP_SCHEDULE: 'false' }, []),
    { logger: pino({ level: 'silent' }) },
  )
  let load: Awaited<ReturnType<typeof startTelemetryLoad>> | null = null
  try {
    opts.log(`bench: telemetry: provisioning ${n} + 3 x ${salesCabinets} cabinets …`)
    const http = httpClient(fleet.httpUrl, ADMIN)
    const counties = fleet.plan.counties.map((c) => c.code)
    const creds = await pool(Array.from({ length: n + 3 * salesCabinets }, (_, i) => i), 16, async (i) => {
      const r = await http.call<{ mqtt: { username: string; password: string } }>('POST', '/api/v1/cabinets', { countyCode: counties[i % counties.length] })
      if (r.status !== 201) throw new Error(`provisioning failed: ${r.status}`)
      return r.body.mqtt
    })
    const telemetryCreds = creds.slice(0, n)
    const salesA = creds.slice(n, n + salesCabinets)
    const salesB = creds.slice(n + salesCabinets, n + 2 * salesCabinets)
    const warmUp = creds.slice(n + 2 * salesCabinets)
    const url = new URL(fleet.mqttUrl)
    const rows = async () => Number((await rawRows<{ n: number | string }>(fleet.database, 'SELECT count(*) AS n FROM telemetry_raw'))[0]!.n)
    const rssIdle = mib(process.memoryUsage().rss)

    opts.log(`bench: telemetry: connecting ${n} cabinets …`)
    load = await startTelemetryLoad({ host: url.hostname, port: Number(url.port), credentials: telemetryCreds, concurrency: 200 })
    const rssConnected = mib(process.memoryUsage().rss)

    // Rounds: 2,700 readings each, spread over less and less time.
    const rounds = []
    for (const spreadMs of [10_000, 5_000, 3_000, 2_000, 1_000, 0]) {
      const before = await rows()
      const done = watch()
      const cpu0 = process.cpuUsage()
      const t0 = performance.now()
      load.send(`round ${Math.max(1, spreadMs)}`)
      const sent = await load.next()
      let stored = before
      const deadline = performance.now() + 60_000
      while ((stored = await rows()) < before + n && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50))
      const tookMs = performance.now() - t0
      const cpuMs = cpuMsSince(cpu0)
      const w = done()
      const r = {
        spreadMs,
        offeredPerS: spreadMs === 0 ? null : Math.round((n / spreadMs) * 1000),
        sendMs: sent.ms,
        committedMs: Math.round(tookMs),
        stored: stored - before,
        sustainedPerS: Math.round(((stored - before) / tookMs) * 1000),
        serverCpuUsPerReading: +((cpuMs * 1000) / Math.max(1, stored - before)).toFixed(1),
        ...w,
      }
      opts.log(`bench: telemetry round over ${spreadMs} ms: ${JSON.stringify(r)}`)
      rounds.push(r)
    }

    // Sales ingest alone, then the same load beside telemetry at 900 readings/s.
    const salesLoad = (credentials: typeof salesA) =>
      runLoad({ mode: 'sales', host: url.hostname, port: Number(url.port), credentials, salesPerClient: salesPerCabinet, batchSize: 1, window: 10 })
    // Unmeasured: the first sales load of a fresh server runs slower (JIT, caches), which would favour the second.
    await runLoad({ mode: 'sales', host: url.hostname, port: Number(url.port), credentials: warmUp, salesPerClient: Math.ceil(salesPerCabinet / 4), batchSize: 1, window: 10 })
    opts.log(`bench: telemetry: sales ingest alone (${salesCabinets} cabinets x ${salesPerCabinet} sales, one per message) …`)
    let done = watch()
    const alone = await salesLoad(salesA)
    const aloneW = done()
    opts.log('bench: telemetry: the same sales ingest with telemetry at 2,700 readings every 3 s …')
    const rowsBefore = await rows()
    load.send('loop 3000')
    await new Promise((r) => setTimeout(r, 1000)) // telemetry under way before the sales start
    done = watch()
    const beside = await salesLoad(salesB)
    const besideW = done()
    load.send('stop')
    const stopped = await load.next()
    const sentBeside = Number(stopped.sent) - rounds.length * n
    let storedBeside = 0
    const deadline = performance.now() + 60_000
    while ((storedBeside = (await rows()) - rowsBefore) < sentBeside && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    const sales = (r: Awaited<ReturnType<typeof salesLoad>>) => ({ salesPerS: Math.round(r.salesPerS), sent: r.sales, rejects: r.rejects, durationMs: Math.round(r.durationMs) })
    const hourly = await fleet.database.kysely.selectFrom('telemetry_latest').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst()
    const atOnce = rounds.find((r) => r.spreadMs === 0)!
    const threeS = rounds.find((r) => r.spreadMs === 3_000)!
    return {
      cabinets: n,
      rounds,
      compressedMinute: { spreadMs: 3_000, offeredPerS: threeS.offeredPerS, sustainedPerS: threeS.sustainedPerS, stored: threeS.stored, note: 'a minute of 2,700 cabinets sent in 3 s; committedMs is first send to last row committed' },
      saturation: { readingsPerS: atOnce.sustainedPerS, committedMs: atOnce.committedMs, note: '2,700 readings sent at once: the most the intake commits per second on this machine (batches of up to 1,000 readings over a 250 ms window)' },
      fleet20kPerS: Math.round(20_000 / 60),
      besideSales: {
        salesAlone: { ...sales(alone), ...aloneW },
        salesWithTelemetry: { ...sales(beside), ...besideW, telemetrySent: sentBeside, telemetryStored: storedBeside },
        note: 'same server, same run, sales ingest first alone then with telemetry looping at 900 readings/s; event-loop stall of the server process over each sales load: monitorEventLoopDelay at 10 ms resolution, minus that interval',
      },
      rssMiB: { idle: rssIdle, telemetryConnected: rssConnected },
      latestRows: Number(hourly?.n ?? 0),
      setup: `in-process fleet server (embedded aedes, SQLite WAL synchronous=FULL); ${n} raw MQTT clients in bench/telemetry-load.ts, QoS 0 readings of ~480 bytes; sales via bench/loadgen.ts sales mode (after an unmeasured warm-up load); a round's end is found by counting telemetry_raw every 50 ms from this process, which its CPU figure includes`,
    }
  } finally {
    await load?.stop()
    await fleet.close()
    await rm(dir, { recursive: true, force: true })
  }
}
