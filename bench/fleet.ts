// Fleet scenarios with real edge agents (real ledgers, real mqtt.js clients,
// in the simulator's worker processes) against a fleet server in its own
// process: a realistic week, a fleet-wide backlog reconnecting at once, the
// sale-to-commit latency under a steady load, and one edge agent's RSS.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { httpClient } from '../simulators/src/fleet/provision.js'
import { runFleet, type FleetOptions, type FleetSummary } from '../simulators/src/fleet/run.js'
import { AGENT_DEVELOPMENT, AGENT_PRODUCTION, buildForProduction } from './edge.js'
import { NPM_START, rssMiB, startProgram, type Program } from './procs.js'

const ADMIN = 'bench-admin-token-0123456789'

export interface FleetBench {
  server: Program
  /** The national platform stand-in (npm run platform-sim) the server forwards to. */
  platform: Program
  platformUrl: string
  httpUrl: string
  mqttUrl: string
  dataDir: string
  close(): Promise<void>
}

/** `nodeArgs` go to the fleet server's node (e.g. --cpu-prof, which NODE_OPTIONS refuses). */
export async function startFleetServer(nodeArgs: string[] = []): Promise<FleetBench> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-fleet-'))
  const platform = await startProgram('simulators/src/platform/main.ts', ['--port', '0'], { LOG_LEVEL: 'error' })
  const platformUrl = `http://127.0.0.1:${String(platform.ready.http)}`
  const server = await startProgram(NPM_START, [], {
    FLEET_DATA_DIR: join(dir, 'server'), FLEET_HTTP_PORT: '0', FLEET_MQTT_PORT: '0', FLEET_ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'error', FLEET_LOG_REQUESTS: 'false',
    // Scheduled reports and backups run on the wall clock (hourly): off, so no figure depends on when the bench ran.
    FLEET_REPORTS_SCHEDULE: 'false', FLEET_BACKUP_SCHEDULE: 'false',
    PLATFORM_URL: `${platformUrl}/intake`,
  }, 60_000, nodeArgs)
  return {
    server,
    platform,
    platformUrl,
    httpUrl: `http://127.0.0.1:${String(server.ready.http)}`,
    mqttUrl: `mqtt://127.0.0.1:${String(server.ready.mqtt)}`,
    dataDir: join(dir, 'sim'),
    async close() {
      await server.stop()
      await platform.stop()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** What the platform stand-in took: {batches, sales, records, duplicatesRejected, …}. */
export async function platformReceived(f: FleetBench): Promise<Record<string, unknown>> {
  const r = await fetch(`${f.platformUrl}/received`)
  return (await r.json()) as Record<string, unknown>
}

/** How often the server's RSS is read while a fleet runs. */
const RSS_SAMPLE_MS = 250

export async function simulate(f: FleetBench, o: Partial<FleetOptions>, log: (s: string) => void): Promise<FleetSummary & { serverRssMiB: number; platform: Record<string, unknown> }> {
  let peak = 0
  let lastLog = 0
  const sample = () => {
    try {
      peak = Math.max(peak, rssMiB(f.server.pid))
    } catch {
      /* the server is gone; the verdict will say what that cost */
    }
  }
  // Progress events come every few seconds, and a backlog drains in tens: a
  // peak read only on them missed up to a quarter of it (issue 13, session 22).
  const sampler = setInterval(sample, RSS_SAMPLE_MS)
  const summary = await runFleet({
    httpUrl: f.httpUrl, mqttUrl: f.mqttUrl, token: ADMIN, cabinets: 2700, days: 1, speed: 1440, seed: 'bench', certifiedMean: 0.65,
    outageRate: 0, crashRate: 0, clockSkewRate: 0, cityOutages: [], startMs: null, workers: 2, dataDir: f.dataDir, drainTimeoutMs: 120_000,
    verifyIds: false, steady: null, settle: true, logLevel: 'error',
    ...o,
    onProgress: (p) => {
      sample()
      if (Date.now() - lastLog > 10_000) {
        lastLog = Date.now()
        log(`bench:   day ${p.day.toFixed(2)}/${p.days} sold ${p.sold} acked ${p.acked} connected ${p.connected}/${p.cabinets} crashes ${p.crashes}`)
      }
    },
    onStage: (stage, detail) => log(`bench:   ${stage}${detail ? ` ${JSON.stringify(detail)}` : ''}`),
  }).finally(() => clearInterval(sampler))
  // What the stand-in took, next to what the server says it sent (the record keeps only the summary's blocks).
  const platform = await platformReceived(f)
  const forwarding = 'sent' in summary.forwarding ? { ...summary.forwarding, platformReceived: platform } : summary.forwarding
  return { ...summary, forwarding, serverRssMiB: Math.round(peak), platform }
}

/** Quiet time after connecting before "idle" is read: V8 collects the start-up garbage and shrinks its heap once the agent has been idle for a few seconds, as it is on a cabinet between sales. */
const IDLE_SETTLE_MS = 15_000

interface AgentRuntime {
  readonly nodeArgs: readonly string[]
  readonly script: string
  readonly runtime: string
}

/**
 * One edge agent (the real CLI, as deployed: compiled by `npm run build`)
 * connected to the fleet server: RSS idle, then while selling through its
 * HTTP API. The development path (tsx) is measured idle for comparison.
 */
export async function edgeAgentRss(f: FleetBench, opts: { sales: number; concurrency: number }) {
  const build = await buildForProduction()
  const prod = await measureAgent(f, AGENT_PRODUCTION, 'BENCH-EDGE-RSS', opts)
  const dev = await measureAgent(f, AGENT_DEVELOPMENT, 'BENCH-EDGE-RSS-DEV', { sales: 0, concurrency: 1 })
  return {
    idleRssMiB: prod.idleRssMiB,
    underLoadPeakRssMiB: prod.underLoadPeakRssMiB,
    sales: opts.sales,
    salesPerS: prod.salesPerS,
    runtime: prod.runtime,
    startupRssMiB: prod.startupRssMiB,
    idleSettleMs: IDLE_SETTLE_MS,
    buildMs: build.ms,
    development: { runtime: dev.runtime, idleRssMiB: dev.idleRssMiB, startupRssMiB: dev.startupRssMiB },
  }
}

async function measureAgent(f: FleetBench, rt: AgentRuntime, cabinetId: string, opts: { sales: number; concurrency: number }) {
  const http = httpClient(f.httpUrl, ADMIN)
  const cab = await http.call<{ cabinetId: string; mqtt: { password: string } }>('POST', '/api/v1/cabinets', { countyCode: '341125', cabinetId })
  if (cab.status !== 201) throw new Error(`provisioning failed: ${cab.status}`)
  const dir = await mkdtemp(join(tmpdir(), 'bench-agent-'))
  const agent = await startProgram(rt.script, [
    '--cabinet', cab.body.cabinetId, '--password', cab.body.mqtt.password, '--data', dir, '--server', f.mqttUrl, '--api-port', '0',
  ], { LOG_LEVEL: 'warn' }, 60_000, [...rt.nodeArgs])
  try {
    const api = `http://127.0.0.1:${String(agent.ready.api)}`
    const deadline = Date.now() + 30_000
    while (Date.now() < deadline && !((await (await fetch(`${api}/status`)).json()) as { connected: boolean }).connected) await new Promise((r) => setTimeout(r, 100))
    await new Promise((r) => setTimeout(r, 3_000))
    const startup = rssMiB(agent.pid)
    await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS - 3_000))
    const idle = rssMiB(agent.pid)
    let peak = idle
    let next = 0
    const t0 = performance.now()
    const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(agent.pid))), 100)
    await Promise.all(Array.from({ length: opts.concurrency }, async () => {
      while (next < opts.sales) {
        next++
        const r = await fetch(`${api}/sales`, {
          method: 'POST', headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ items: [{ sku: 'DY-RICE-5KG', qty: 1, unitPriceFen: 4990 }, { sku: 'GEN-WATER-550', qty: 2, unitPriceFen: 200 }], payment: 'wechat' }),
        })
        if (r.status !== 201) throw new Error(`POST /sales: ${r.status}`)
        await r.arrayBuffer()
      }
    }))
    const ms = performance.now() - t0
    const drainDeadline = Date.now() + 60_000
    while (Date.now() < drainDeadline) {
      const s = (await (await fetch(`${api}/status`)).json()) as { pending: number }
      if (s.pending === 0) break
      await new Promise((r) => setTimeout(r, 100))
    }
    clearInterval(sampler)
    return {
      runtime: rt.runtime,
      startupRssMiB: +startup.toFixed(1),
      idleRssMiB: +idle.toFixed(1),
      underLoadPeakRssMiB: +peak.toFixed(1),
      salesPerS: opts.sales > 0 ? Math.round((opts.sales / ms) * 1000) : null,
    }
  } finally {
    await agent.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
