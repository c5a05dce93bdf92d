// The fault-injection world (issue 12): a fleet server, edge agents and the
// platform stand-in as real child processes, wired through TCP proxies so a
// scenario can break the network, kill processes and fill a disk, then check
// the invariants: every sale answered 201 is on the server exactly once, each
// cabinet's chain verifies, and the platform holds exactly what the server
// says it forwarded. Used by the short scenarios (npm test), the seeded
// randomized run (npm run test:faults) and bench/faults.ts; so it does not
// import vitest.
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GENESIS_HASH, saleHash, shanghaiDate, usccCheckChar, type Sale } from '../../shared/src/index.js'
import { apiClient, provisionCabinet, type ApiClient, type Provisioned } from '../helpers/api.js'
import { freePort, startProgram, type Program } from '../helpers/process.js'
import { seededRandom, startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js'

const ADMIN_TOKEN = 'faults-admin-token-0123456789abcdef'
const PLATFORM_SECRET = 'faults-platform-secret'
const CERTIFIED_SKU = 'FAULTS-CERT'
const PLAIN_SKU = 'FAULTS-PLAIN'

/**
 * Bad answers of the platform stand-in (its --bad-answers modes) in the
 * suite: the quick ones, at a rate that leaves most attempts answered well.
 */
export const PLATFORM_BAD_ANSWER_ARGS: readonly string[] = ['--bad-answers', 'malformed,wrong-key,wrong-count,empty,redirect,huge,conflict-other', '--bad-rate', '0.2']
/**
 * Every bad answer, the slow ones too (each costs the sender up to its 15 s
 * headers or 10 s body bound per attempt): for the randomized run, whose
 * settle timeout leaves room for them.
 */
export const PLATFORM_ALL_BAD_ANSWER_ARGS: readonly string[] = ['--bad-answers', 'malformed,wrong-key,wrong-count,empty,redirect,huge,slow-headers,slow-body,hang,conflict-other', '--bad-rate', '0.1']

/** Faults of the platform stand-in itself (its own flags). */
export interface PlatformFaults {
  failRate?: number
  latencyMs?: number
  extraArgs?: readonly string[]
}

export interface WorldOptions {
  seed: string
  agents: number
  platform?: PlatformFaults
  /** Per-agent flags appended to the defaults (e.g. a smaller ack timeout). */
  agentArgs?: string[]
  /** Data dir of an agent, by index (the disk-full scenario puts one on a small mount). */
  agentDataDir?: (i: number, fallback: string) => string
}

export interface WorldAgent {
  readonly index: number
  readonly cab: Provisioned
  readonly dataDir: string
  /** Sale ids the agent answered 201 for, in order. */
  readonly acked: string[]
  /** Non-201 answers by status, and fetches that failed (agent down). */
  readonly refused: Map<number, number>
  program: Program | null
  start(): Promise<void>
  kill(signal?: NodeJS.Signals): Promise<void>
  status(): Promise<AgentStatus>
}

export interface AgentStatus {
  connected: boolean
  lastSeq: number
  lastAckedSeq: number
  pending: number
}

export interface Counts {
  scenarios: number
  faultsInjected: number
  salesAcknowledged: number
  salesLost: number
  salesDuplicated: number
  forwardedUnacknowledged: number
}

export interface World {
  readonly seed: string
  readonly random: () => number
  readonly api: ApiClient
  readonly mqttProxy: TcpProxy
  readonly platformProxy: TcpProxy
  readonly platformUrl: string
  readonly agents: WorldAgent[]
  server: Program
  platform: Program
  /** Counts one injected fault, by name (for the summary). */
  injected(name: string): void
  readonly faults: Map<string, number>
  restartServer(signal?: NodeJS.Signals): Promise<void>
  restartPlatform(signal?: NodeJS.Signals): Promise<void>
  /** POSTs `count` sales to an agent from `concurrency` workers; stops early if the agent dies. */
  sell(agent: WorldAgent, count: number, opts?: { concurrency?: number; soldAt?: () => string }): Promise<void>
  close(): Promise<void>
}

/** 12:00 Asia/Shanghai on the 15th of the month before `now`: a period that has ended, for forwarding. */
export function lastMonthNoon(now = new Date()): string {
  const [y, m] = shanghaiDate(now).split('-').map(Number) as [number, number]
  const prev = m === 1 ? { y: y - 1, m: 12 } : { y, m: m - 1 }
  return `${prev.y}-${String(prev.m).padStart(2, '0')}-15T04:00:00.000Z`
}

export async function waitUntil(what: string | (() => string), check: () => Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let lastErr: unknown = null
  for (;;) {
    try {
      if (await check()) return
    } catch (err) {
      lastErr = err
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}${lastErr ? `: ${String(lastErr)}` : ''}`)
    await new Promise((r) => setTimeout(r, intervalMs))
  }
}

export async function startWorld(opts: WorldOptions): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), 'faults-'))
  const random = seededRandom(opts.seed)
  const faults = new Map<string, number>()
  const cleanups: Array<() => Promise<unknown>> = []

  try {
    // The platform stand-in, behind its own proxy so the server's uplink can fail too.
    const platformPort = await freePort()
    const p = opts.platform ?? {}
    const platformArgs = [
      '--port', String(platformPort), '--secret', PLATFORM_SECRET, '--data', join(dir, 'platform.jsonl'),
      '--fail-rate', String(p.failRate ?? 0), '--latency-ms', String(p.latencyMs ?? 0), ...(p.extraArgs ?? []),
    ]
    let platform = await startProgram('simulators/src/platform/main.ts', platformArgs)
    cleanups.push(() => platform.kill('SIGKILL'))
    const platformProxy = await startTcpProxy({ target: { port: platformPort }, seed: `${opts.seed}/platform` })
    cleanups.push(() => platformProxy.close())

    // The fleet server as `npm start` runs it; ports fixed after the first start so a restart reuses them.
    const fleetDir = join(dir, 'fleet')
    const serverEnv = (http: number, mqtt: number) => ({
      FLEET_DATA_DIR: fleetDir, FLEET_HTTP_PORT: String(http), FLEET_MQTT_PORT: String(mqtt), FLEET_ADMIN_TOKEN: ADMIN_TOKEN,
      PLATFORM_URL: `http://127.0.0.1:${platformProxy.port}/intake`, PLATFORM_SECRET, LOG_LEVEL: 'warn',
    })
    let server = await startProgram('fleet-server/src/main.ts', [], { env: serverEnv(0, 0) })
    cleanups.push(() => server.kill('SIGKILL'))
    const ports = { http: Number(server.ready.http), mqtt: Number(server.ready.mqtt) }
    const mqttProxy = await startTcpProxy({ target: { port: ports.mqtt }, seed: `${opts.seed}/mqtt` })
    cleanups.push(() => mqttProxy.close())
    const api = apiClient(`http://127.0.0.1:${ports.http}`, ADMIN_TOKEN)

    // A catalog with one certified and one plain product, so some periods comply and some do not.
    // A valid 统一社会信用代码: fixed first 17 characters and their check character.
    const first17 = '9334112500000001X'
    const uscc = first17 + usccCheckChar(first17)!
    for (const [path, body] of [
      ['/api/v1/suppliers', { uscc: uscc, name: '故障测试合作社' }],
      ['/api/v1/products', { sku: CERTIFIED_SKU, name: '认证蜂蜜', supplierUscc: uscc, priceFen: 3990 }],
      ['/api/v1/products', { sku: PLAIN_SKU, name: '普通商品', supplierUscc: uscc, priceFen: 1000 }],
      ['/api/v1/certificates', { sku: CERTIFIED_SKU, certificateNo: 'FAULTS-CERT-1', validFrom: `${lastMonthNoon().slice(0, 7)}-01` }],
    ] as const) {
      const r = await api.post(path, body)
      if (r.status !== 201) throw new Error(`catalog set-up ${path}: ${r.status} ${JSON.stringify(r.body)}`)
    }

    const agents: WorldAgent[] = []
    for (let i = 0; i < opts.agents; i++) {
      const cab = await provisionCabinet(api, { countyCode: i % 2 ? '341125' : '341126' })
      const fallback = join(dir, `agent-${i}`)
      const dataDir = opts.agentDataDir?.(i, fallback) ?? fallback
      await mkdir(dataDir, { recursive: true })
      const args = [
        '--cabinet', cab.cabinetId, `--password=${cab.mqtt.password}`, '--data', dataDir,
        '--server', `mqtt://127.0.0.1:${mqttProxy.port}`, '--api-port', '0',
        '--backoff-min-ms', '50', '--backoff-max-ms', '500', '--ack-timeout-ms', '1500', '--heartbeat-interval-ms', '500',
        ...(opts.agentArgs ?? []),
      ]
      const agent: WorldAgent = {
        index: i,
        cab,
        dataDir,
        acked: [],
        refused: new Map(),
        program: null,
        async start() {
          agent.program = await startProgram('edge-agent/src/main.ts', args)
        },
        async kill(signal = 'SIGKILL') {
          const prog = agent.program
          agent.program = null
          await prog?.kill(signal)
        },
        async status() {
          if (!agent.program) throw new Error(`agent ${i} is not running`)
          const res = await fetch(`http://127.0.0.1:${agent.program.ready.api}/status`)
          return (await res.json()) as AgentStatus
        },
      }
      cleanups.push(() => agent.kill('SIGKILL'))
      await agent.start()
      agents.push(agent)
    }

    let saleNo = 0
    const world: World = {
      seed: opts.seed,
      random,
      api,
      mqttProxy,
      platformProxy,
      platformUrl: `http://127.0.0.1:${platformPort}`,
      agents,
      server,
      platform,
      faults,
      injected(name) {
        faults.set(name, (faults.get(name) ?? 0) + 1)
      },
      async restartServer(signal = 'SIGKILL') {
        await server.kill(signal)
        server = await startProgram('fleet-server/src/main.ts', [], { env: serverEnv(ports.http, ports.mqtt) })
        world.server = server
      },
      async restartPlatform(signal = 'SIGKILL') {
        await platform.kill(signal)
        platform = await startProgram('simulators/src/platform/main.ts', platformArgs)
        world.platform = platform
      },
      async sell(agent, count, o = {}) {
        const prog = agent.program
        if (!prog) return
        let left = count
        const worker = async () => {
          while (left > 0 && agent.program === prog) {
            left--
            const n = saleNo++
            // Mostly certified goods, some periods below half: both outcomes of forwarding occur.
            const sku = (n + agent.index) % 5 < 3 ? CERTIFIED_SKU : PLAIN_SKU
            const body = { items: [{ sku, qty: 1 + (n % 2), unitPriceFen: 500 + (n % 97) }], payment: 'wechat', ...(o.soldAt && { soldAt: o.soldAt() }) }
            try {
              const res = await fetch(`http://127.0.0.1:${prog.ready.api}/sales`, {
                method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
              })
              const json = (await res.json()) as { saleId?: string }
              if (res.status === 201 && json.saleId) agent.acked.push(json.saleId)
              else agent.refused.set(res.status, (agent.refused.get(res.status) ?? 0) + 1)
            } catch {
              agent.refused.set(0, (agent.refused.get(0) ?? 0) + 1) // the agent is gone (killed)
            }
          }
        }
        await Promise.all(Array.from({ length: o.concurrency ?? 2 }, worker))
      },
      async close() {
        for (const c of cleanups.reverse()) await c().catch(() => undefined)
        await rm(dir, { recursive: true, force: true })
      },
    }
    return world
  } catch (err) {
    for (const c of cleanups.reverse()) await c().catch(() => undefined)
    await rm(dir, { recursive: true, force: true })
    throw err
  }
}

export interface Verdict {
  problems: string[]
  salesAcknowledged: number
  salesLost: number
  salesDuplicated: number
  forwardedUnacknowledged: number
  salesStored: number
  forwarded: { sent: number; held: number; corrections: number }
  heldReasons: string[]
}

async function serverSales(api: ApiClient, cabinetId: string): Promise<Sale[]> {
  const out: Sale[] = []
  let after = 0
  for (;;) {
    const r = await api.get<{ sales: Sale[]; nextAfterSeq: number | null }>(`/api/v1/cabinets/${cabinetId}/sales?afterSeq=${after}&limit=1000`)
    if (r.status !== 200) throw new Error(`GET sales of ${cabinetId}: ${r.status} ${JSON.stringify(r.body)}`)
    out.push(...r.body.sales)
    if (r.body.nextAfterSeq === null) return out
    after = r.body.nextAfterSeq
  }
}

interface ForwardingView {
  sent: number
  pending: number
  held: Array<{ cabinetId: string; period: string; reason: string }>
  failed: unknown[]
  corrections: { sent: number; pending: number; failed: unknown[] }
}

interface PlatformRecordView {
  cabinetId: string
  period: { id: string }
  salesCount: number
  amountFen: number
  revision?: number
}

/**
 * Heals the network, starts any stopped agent, waits until every outbox is
 * drained and forwarding has settled, then checks the invariants. Problems are
 * returned, not thrown, so a randomized run can report them all.
 */
export async function settleAndCheck(world: World, timeoutMs = 90_000): Promise<Verdict> {
  world.mqttProxy.heal()
  world.platformProxy.heal()
  for (const a of world.agents) if (!a.program) await a.start()
  const problems: string[] = []

  // Every outbox drained: what each ledger holds has been committed by the server.
  let undrained: string[] = []
  await waitUntil(() => `every agent outbox to drain (still pending: ${undrained.join(', ')})`, async () => {
    undrained = []
    for (const a of world.agents) {
      const s = await a.status()
      if (s.pending !== 0) undrained.push(`${a.cab.cabinetId} ${JSON.stringify(s)}`)
    }
    return undrained.length === 0
  }, timeoutMs)

  let salesAcknowledged = 0
  let salesLost = 0
  let salesDuplicated = 0
  let salesStored = 0
  const byPeriod = new Map<string, { count: number; amountFen: number }>()
  for (const a of world.agents) {
    const { lastSeq } = await a.status()
    const sales = await serverSales(world.api, a.cab.cabinetId)
    salesStored += sales.length
    const ids = new Set(sales.map((s) => s.saleId))
    salesDuplicated += sales.length - ids.size
    if (sales.length !== ids.size) problems.push(`${a.cab.cabinetId}: ${sales.length - ids.size} sale ids stored twice`)
    const seqs = sales.map((s) => s.seq)
    if (seqs.length !== lastSeq || seqs.some((s, i) => s !== i + 1)) problems.push(`${a.cab.cabinetId}: server seqs are not 1..${lastSeq} (ledger's last seq); got ${seqs.length} sales`)
    salesAcknowledged += a.acked.length
    if (new Set(a.acked).size !== a.acked.length) problems.push(`${a.cab.cabinetId}: the agent answered 201 twice with the same saleId`)
    const lost = a.acked.filter((id) => !ids.has(id))
    salesLost += lost.length
    if (lost.length) problems.push(`${a.cab.cabinetId}: ${lost.length} acknowledged sales missing on the server (e.g. ${lost[0]})`)
    let prev = GENESIS_HASH
    for (const s of sales) {
      if (s.prevHash !== prev || saleHash(a.cab.cabinetId, s) !== s.hash) {
        problems.push(`${a.cab.cabinetId}: chain breaks at seq ${s.seq}`)
        break
      }
      prev = s.hash
    }
    for (const s of sales) {
      const k = `${a.cab.cabinetId}/${shanghaiDate(s.soldAt).slice(0, 7)}`
      const p = byPeriod.get(k) ?? { count: 0, amountFen: 0 }
      p.count++
      p.amountFen += s.totalFen
      byPeriod.set(k, p)
    }
  }

  // Forwarding: run passes until nothing is pending and no period waits for a sync.
  const thisMonth = shanghaiDate(new Date()).slice(0, 7)
  const endedPeriods = [...byPeriod.keys()].filter((k) => k.slice(-7) < thisMonth)
  let fwd: ForwardingView | null = null
  await waitUntil(() => `forwarding to settle (last seen ${JSON.stringify(fwd)})`, async () => {
    const run = await world.api.post('/api/v1/forwarding/run', undefined)
    if (run.status !== 200) throw new Error(`forwarding/run: ${run.status} ${JSON.stringify(run.body)}`)
    const r = await world.api.get<ForwardingView>('/api/v1/forwarding')
    fwd = r.body
    return fwd.pending === 0 && fwd.corrections.pending === 0 && !fwd.held.some((h) => h.reason === 'INCOMPLETE_SYNC') &&
      fwd.sent + fwd.held.length + fwd.failed.length >= endedPeriods.length
  }, timeoutMs, 250)
  const f = fwd as unknown as ForwardingView
  const res = await fetch(`${world.platformUrl}/batches`)
  const { batches } = (await res.json()) as { batches: Array<{ key: string; kind: string; records: PlatformRecordView[] }> }
  const reports = batches.filter((b) => b.kind === 'report')
  const corrections = batches.filter((b) => b.kind === 'correction')
  // What the server counts as delivered is what the platform holds, batch for batch.
  const forwardedUnacknowledged = Math.abs(f.sent - reports.length) + Math.abs(f.corrections.sent - corrections.length)
  if (f.sent !== reports.length) problems.push(`server says ${f.sent} reports delivered; the platform holds ${reports.length}`)
  if (f.corrections.sent !== corrections.length) problems.push(`server says ${f.corrections.sent} corrections delivered; the platform holds ${corrections.length}`)
  if (f.failed.length || f.corrections.failed.length) problems.push(`forwarding batches failed: ${JSON.stringify([f.failed, f.corrections.failed])}`)
  // Each cabinet-period once per revision, and its latest revision carries exactly the server's figures.
  const latest = new Map<string, PlatformRecordView>()
  const seen = new Set<string>()
  for (const b of batches) {
    for (const r of b.records) {
      const k = `${r.cabinetId}/${r.period.id}`
      const rev = `${k}#${r.revision ?? 0}`
      if (seen.has(rev)) {
        salesDuplicated++
        problems.push(`platform holds ${rev} twice`)
      }
      seen.add(rev)
      if ((latest.get(k)?.revision ?? -1) < (r.revision ?? 0)) latest.set(k, r)
    }
  }
  const held = new Set(f.held.map((h) => `${h.cabinetId}/${h.period}`))
  for (const k of endedPeriods) {
    const onPlatform = latest.get(k)
    if (held.has(k) === Boolean(onPlatform)) problems.push(`${k}: ${onPlatform ? 'both held and forwarded' : 'neither held nor forwarded'}`)
    const want = byPeriod.get(k)!
    if (onPlatform && (onPlatform.amountFen !== want.amountFen || onPlatform.salesCount !== want.count)) {
      problems.push(`${k}: platform has ${onPlatform.salesCount} sales / ${onPlatform.amountFen} fen; the server stores ${want.count} / ${want.amountFen}`)
    }
  }
  for (const k of latest.keys()) if (!byPeriod.has(k)) problems.push(`${k}: on the platform but no such sales on the server`)

  return {
    problems,
    salesAcknowledged,
    salesLost,
    salesDuplicated,
    forwardedUnacknowledged,
    salesStored,
    forwarded: { sent: f.sent, held: f.held.length, corrections: f.corrections.sent },
    heldReasons: f.held.map((h) => h.reason),
  }
}
