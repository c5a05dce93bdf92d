// Runs a simulated fleet: provisions (or reuses) cabinets, forks worker
// processes holding the real edge agents, injects crashes (SIGKILL of a worker,
// restarted on the same ledgers), waits for the fleet to drain after trade
// ends, and judges the result against what the server reports over HTTP.
// With --enroll, new cabinets are deployed by bootstrap code and the operator
// confirms each operating once its first contact installed it; with
// --commands, remote commands go out during trade and are judged after it.
import { fork, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import type { CabinetReport, FromWorker, Progress, SimCabinet, ToWorker, WorkerSpec } from './ipc.js'
import { outageWindows, planCommands, sendCommands, type CommandPlanOptions, type SentCommand } from './commands.js'
import { DAY, outagesOf, rng } from './model.js'
import { DEFAULT_OPERATOR, httpClient, operatorConfirmations, operatorLogin, pool, provisionFleet, recordTradedUntil, registerCatalog, type Http } from './provision.js'
import { countAlerts, readingIntervalMs, type TelemetryVerdict } from './telemetry.js'
import { judgeStock, planogramOf, type AgentStock, type StockVerdict } from './stock.js'
import { judge, judgeCommands, type CommandVerdict, type Verdict } from './verdict.js'

export interface FleetOptions {
  httpUrl: string
  mqttUrl: string
  token: string
  cabinets: number
  days: number
  speed: number
  seed: string
  certifiedMean: number
  /** Chance per cabinet per virtual day that an outage (1 h – 2 days) starts. */
  outageRate: number
  /** Expected crashes (SIGKILL) per worker process per virtual day. */
  crashRate: number
  /** Share of cabinets whose controller clock is off by minutes to days. */
  clockSkewRate: number
  /** City-wide outages as [start hour, length in hours] from the start of trade. */
  cityOutages: Array<[number, number]>
  /** UTC ms where trade starts (virtual); null = where the previous run on this data dir stopped, else 2020-10-12 (Shanghai). */
  startMs: number | null
  workers: number
  dataDir: string
  drainTimeoutMs: number
  /** Compare every sale id with the server's (slow at large scale). */
  verifyIds: boolean
  steady: { perCabinetPerHour: number; seconds: number } | null
  /**
   * After the drain, let idle virtual time pass to the end of every forwarding
   * period the server holds as INCOMPLETE_SYNC for these cabinets, and heartbeat,
   * so the verdict's forwarding figures judge whole periods (see settleBooks).
   */
  settle?: boolean
  /** Deploy new cabinets by bootstrap code (and confirm them operating once installed). */
  enroll?: boolean
  /** Operator company of new cabinets (default 仿真运营公司). */
  operator?: string
  /** Act as an operator user of `operator`, created once (codes, confirmations, commands); else as the admin. */
  asOperatorUser?: boolean
  /** Remote commands sent during trade. */
  commands?: number
  /** Planograms, slots named in sales, low slots restocked; the verdict compares server and ledger stock. */
  stock?: boolean
  /** Readings from every agent (a share of cabinets chilled, incidents from the seed); the verdict counts the alerts raised. */
  telemetry?: boolean
  logLevel: string
  /** Progress sink; called about twice a second. */
  onProgress?: (p: FleetProgress) => void
  onStage?: (stage: string, detail?: Record<string, unknown>) => void
}

export interface FleetProgress extends Omit<Progress, 'isDrained' | 'isTradeDone'> {
  day: number
  days: number
  crashes: number
  cabinets: number
  drainedWorkers: number
}

export interface FleetSummary extends Verdict {
  event: 'summary'
  seed: string
  start: string
  days: number
  speed: number
  workers: number
  provisioning: { created: number; reused: number; ms: number; catalog: { isRegistered: boolean; products: number; certificates: number } }
  faults: { outages: number; cityOutages: number; crashes: number; skewedCabinets: number }
  /**
   * The fleet-wide reconnect: once trade is over and every ledger holds its
   * sales, every outage lifts at one instant. From that instant, on the main
   * process's clock: until every agent had connected, and until every
   * agent's outbox was empty (all acknowledged by the server). backlogSales were
   * waiting in outboxes at the release.
   */
  drain: { isDrained: boolean; connectedMs: number | null; drainedMs: number | null; backlogSales: number | null; salesPerS: number | null }
  /** The settle after the drain: null when not asked for (or not drained, or a steady run). */
  settle: { periodEnd: string | null; clockAt: string | null; heartbeats: number; disconnected: number } | null
  latencyMs: { samples: number; p50: number; p99: number; max: number } | null
  /**
   * Deployment by bootstrap code (null without --enroll): cabinets enrolled in
   * this run, and those the operator confirmed operating after their first contact.
   */
  enrollment: { enrolled: number; operating: number; notOperating: string[]; by: string } | null
  /** Remote commands sent during trade and how each ended (null without --commands). */
  commands: CommandVerdict | null
  /** Stock (null without --stock): restocks and stock-outs during trade, cabinets whose server stock is not their ledger's. */
  stock: StockVerdict | null
  /** Telemetry (null without --telemetry): readings published, temperature/door/fault alerts raised and still open. Not judged. */
  telemetry: (TelemetryVerdict & { readingIntervalMs: number }) | null
  workerRssMiB: number[]
  durationS: number
}

const WORKER = join(import.meta.dirname, 'worker.ts')
export const DEFAULT_START_MS = Date.parse('2020-10-12T00:00:00+08:00')

interface WorkerSlot {
  index: number
  spec: WorkerSpec
  child: ChildProcess | null
  progress: Progress | null
  /** Main-process clock (Date.now()) when the worker reported it; both after the release. */
  connectedAt: number | null
  drainedAt: number | null
  report: { cabinets: CabinetReport[]; rssMiB: number } | null
  settled: Extract<FromWorker, { type: 'settled' }> | null
  stock: AgentStock[] | null
  latency: number[]
  isStopping: boolean
  isReady: boolean
  /** Wall-clock windows while the worker was dead (a crash until its restart reported ready): its cabinets were offline. */
  downWindows: Array<[number, number]>
  downSince: number | null
}

/** After an uplink comes back, the agent reconnects and the server resends: an expiry within this is still the outage's. */
const RECONNECT_GRACE_MS = 3_000
/** How long after the drain the commands may take to reach an end state. */
const COMMANDS_SETTLE_MS = 30_000
/** Between the operator's confirmation passes during trade (each lists the installed cabinets). */
const CONFIRM_PASS_MS = 2_000
/** How long after the drain the last enrolled cabinets may take to be installed and confirmed. */
const CONFIRM_SETTLE_MS = 30_000
/** During trade with --telemetry: how often the alert rules are run (as the admin), so short incidents are seen at speed. */
const EVALUATE_ALERTS_MS = 3_000
/** How long after the drain the operator's restocks may take to be applied, and the last stock reports to arrive. */
const STOCK_SETTLE_MS = 30_000

function yearsBetween(fromMs: number, toMs: number): number[] {
  const from = new Date(fromMs + 8 * 3_600_000).getUTCFullYear()
  const to = new Date(toMs + 8 * 3_600_000).getUTCFullYear()
  return Array.from({ length: to - from + 1 }, (_, i) => from + i)
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

export async function runFleet(o: FleetOptions): Promise<FleetSummary> {
  const t0 = Date.now()
  const stage = o.onStage ?? (() => {})
  const http: Http = httpClient(o.httpUrl, o.token)
  const operator = o.operator ?? DEFAULT_OPERATOR
  // What the operator does (codes, confirmations, commands) goes out as the operator's own user when asked for.
  const login = o.asOperatorUser ? await operatorLogin(http, o.dataDir, operator) : null
  if (o.asOperatorUser && !login) stage('operator-user-unknown', { operator, note: 'the user exists but its token is not in fleet.json; acting as the admin' })
  const opHttp = login ? httpClient(o.httpUrl, login.token) : http
  stage('provisioning', { cabinets: o.cabinets, enroll: o.enroll === true, operator })
  const prov = await provisionFleet(http, o.dataDir, o.cabinets, o.seed, (done) => stage('provisioned', { done }), {
    operator,
    enroll: o.enroll ? { codes: opHttp, httpUrls: o.httpUrl } : null,
  })
  if (o.enroll) stage('enrolled', { cabinets: prov.enrolled.length })
  const provMs = Date.now() - t0
  // A rerun on the same ledgers continues trade where the last one stopped (the same days again would be the same sales, recorded once).
  const startMs = o.startMs ?? prov.tradedUntilMs ?? DEFAULT_START_MS
  const years = o.steady ? [new Date().getUTCFullYear()] : yearsBetween(startMs, startMs + o.days * DAY)
  const catalog = await registerCatalog(http, years)
  stage('catalog', catalog)
  if (o.stock) {
    // The operator sets each cabinet's planogram; the agent applies it on its next contact (the installation fill follows).
    const put = await pool(prov.cabinets, 16, (c) => opHttp.call('PUT', `/api/v1/cabinets/${c.cabinetId}/planogram`, { slots: planogramOf(o.seed, c.cabinetId) }))
    const refused = put.filter((r) => r.status !== 201 && r.status !== 200)
    if (refused.length > 0) throw new Error(`setting planograms failed: ${refused.length} refused, e.g. ${refused[0]!.status} ${JSON.stringify(refused[0]!.body)}`)
    stage('planograms', { cabinets: put.length })
  }
  const endMs = startMs + o.days * DAY
  const cityOutages = o.cityOutages.map(([h, len]) => [startMs + h * 3_600_000, startMs + (h + len) * 3_600_000] as [number, number])

  // Round-robin keeps every worker's mix of counties and venues alike.
  const groups: SimCabinet[][] = Array.from({ length: o.workers }, () => [])
  prov.cabinets.forEach((c, i) => groups[i % o.workers]!.push(c))
  const slots: WorkerSlot[] = groups.map((cabinets, index) => ({
    index,
    spec: {
      workerIndex: index, cabinets, mqttUrl: o.mqttUrl, dataDir: o.dataDir, seed: o.seed, startMs: startMs, days: o.days, speed: o.speed,
      certifiedMean: o.certifiedMean, outageRate: o.outageRate, clockSkewRate: o.clockSkewRate, cityOutages, steady: o.steady, baseSeqs: null, logLevel: o.logLevel,
      stock: o.stock === true,
      telemetry: o.telemetry ? { intervalMs: readingIntervalMs(o.cabinets, o.speed) } : null,
    },
    child: null, progress: null, connectedAt: null, drainedAt: null, report: null, settled: null, stock: null, latency: [], isStopping: false, isReady: false,
    downWindows: [], downSince: null,
  }))
  const slotOf = new Map(slots.flatMap((s) => s.spec.cabinets.map((c) => [c.cabinetId, s] as const)))
  /** commandId → the agent's ledger lastSeq when it applied it (the earliest report: a resend after a crash comes later). */
  const boundaries = new Map<string, number>()
  let readings = 0
  const stockCounts = { restocksLocal: 0, stockOuts: 0, restockFailures: [] as Array<{ cabinetId: string; problem: string }> }
  /** The operator's restocks from the dashboard, as they go out (command ids once answered). */
  const restocksSent: Array<Promise<string | null>> = []
  const restockRemote = (cabinetId: string, restockId: string): void => {
    restocksSent.push(opHttp.call<{ commandId?: string }>('POST', `/api/v1/cabinets/${cabinetId}/restocks`, { restockId, fill: true }).then(
      (r) => {
        if (r.status === 201 && typeof r.body.commandId === 'string') return r.body.commandId
        stockCounts.restockFailures.push({ cabinetId, problem: `POST restocks: HTTP ${r.status}` })
        return null
      },
      (err: unknown) => {
        stockCounts.restockFailures.push({ cabinetId, problem: `POST restocks: ${(err as Error).message}` })
        return null
      },
    ))
  }

  let startWallMs: number | null = null
  let isReleased = false
  /** The release instant on this process's clock: the drain is timed from here. */
  let releasedAt: number | null = null
  let backlogSales: number | null = null
  // Once trade is over and every ledger holds all its sales, every outage lifts at once, fleet-wide.
  const maybeRelease = (): void => {
    if (isReleased || !slots.every((s) => s.isReady && s.progress?.isTradeDone)) return
    isReleased = true
    backlogSales = slots.reduce((n, s) => n + (s.progress ? s.progress.sold - s.progress.acked : 0), 0)
    stage('reconnecting', { cabinets: o.cabinets, backlogSales })
    releasedAt = Date.now()
    for (const s of slots) s.child?.send({ type: 'release' } satisfies ToWorker)
  }
  let crashes = 0
  let readyCount = 0
  let resolveReady!: () => void
  const allReady = new Promise<void>((r) => (resolveReady = r))
  const exits: Array<Promise<void>> = []

  const spawnWorker = (slot: WorkerSlot): void => {
    const child = fork(WORKER, [], { execArgv: ['--import', import.meta.resolve('tsx')], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    slot.child = child
    slot.isReady = false
    slot.progress = null
    exits.push(new Promise<void>((resolve) => child.once('exit', () => resolve())))
    child.on('message', (m: FromWorker) => {
      switch (m.type) {
        case 'ready':
          slot.spec = { ...slot.spec, baseSeqs: m.baseSeqs }
          slot.isReady = true
          if (slot.downSince !== null) slot.downWindows.push([slot.downSince, Date.now()])
          slot.downSince = null
          if (++readyCount === slots.length) resolveReady()
          break
        case 'progress':
          slot.progress = m
          maybeRelease()
          break
        case 'connectedAll':
          slot.connectedAt ??= Date.now()
          break
        case 'drained':
          slot.drainedAt ??= Date.now()
          break
        case 'latency':
          slot.latency = m.samplesMs
          break
        case 'report':
          slot.report = { cabinets: m.cabinets, rssMiB: m.rssMiB }
          break
        case 'settled':
          slot.settled = m
          break
        case 'restock':
          restockRemote(m.cabinetId, m.restockId)
          break
        case 'stockEvent':
          if (m.event === 'out') stockCounts.stockOuts++
          else stockCounts.restocksLocal++
          break
        case 'readings':
          readings += m.n
          break
        case 'stockSnapshot':
          slot.stock = m.cabinets
          break
        case 'command':
          if (m.kind === 'price' && m.state === 'done') boundaries.set(m.commandId, Math.min(boundaries.get(m.commandId) ?? Infinity, m.lastSeq))
          break
      }
    })
    child.once('exit', (code, signal) => {
      if (slot.child !== child || slot.isStopping) return
      // A crash we caused, or an unexpected death: start again on the same ledgers.
      slot.downSince ??= Date.now()
      stage('worker-restart', { worker: slot.index, code, signal })
      spawnWorker(slot)
    })
    const msg: ToWorker = { type: 'spec', spec: slot.spec, startWallMs, isReleased }
    child.send(msg)
  }

  stage('starting-agents', { workers: slots.length })
  for (const s of slots) spawnWorker(s)
  await allReady
  startWallMs = Date.now()
  for (const s of slots) s.child!.send({ type: 'go', startWallMs } satisfies ToWorker)
  stage('trading', { startWallMs })

  // The operator confirms each enrolled cabinet operating once its first contact has installed it.
  const confirmations = prov.enrolled.length > 0 ? operatorConfirmations(opHttp, operator, prov.enrolled) : null
  let isConfirming = confirmations !== null
  const confirming = (async () => {
    while (isConfirming && confirmations!.remaining().length > 0) {
      await confirmations!.pass().catch((err: unknown) => stage('confirm-failed', { error: (err as Error).message }))
      await new Promise((r) => setTimeout(r, CONFIRM_PASS_MS))
    }
  })()

  // Remote commands at their instants during trade, as the operator sends them.
  const planOptions: CommandPlanOptions = {
    seed: o.seed, cabinets: prov.cabinets, startMs, days: o.days, speed: o.speed, outageRate: o.outageRate, cityOutages, steadySeconds: o.steady?.seconds ?? null,
  }
  const commandPlan = planCommands(planOptions, o.commands ?? 0)
  if (commandPlan.length > 0) stage('commands', { planned: commandPlan.length, intoOutage: commandPlan.filter((c) => c.isIntoOutage).length, shortExpiry: commandPlan.filter((c) => c.body.expiresInS !== undefined).length })
  const commandsSent: Promise<SentCommand[]> = sendCommands(opHttp, commandPlan, startWallMs)

  // The alert rules run on the server's schedule (real minutes); at simulation speed an incident is
  // over in seconds, so with --telemetry they are run every few seconds while trading.
  const evaluating = o.telemetry ? setInterval(() => void http.call('POST', '/api/v1/alerts/evaluate').catch(() => {}), EVALUATE_ALERTS_MS) : null
  const runStartedAt = Date.now()

  // Crashes: a Poisson process per worker over the trading period, in virtual time.
  const timers: NodeJS.Timeout[] = []
  if (o.crashRate > 0 && !o.steady) {
    for (const slot of slots) {
      const r = rng(`${o.seed}|crash|${slot.index}`)
      let v = startMs
      for (;;) {
        v += (-Math.log(Math.max(r(), 1e-12)) / o.crashRate) * DAY
        if (v >= endMs) break
        const wallDelay = (v - startMs) / o.speed
        timers.push(setTimeout(() => {
          if (slot.isStopping || !slot.isReady || slot.child === null) return
          crashes++
          stage('crash', { worker: slot.index })
          slot.child.kill('SIGKILL')
        }, wallDelay))
      }
    }
  }

  const progressTimer = setInterval(() => {
    if (!o.onProgress) return
    const sum = { sold: 0, acked: 0, online: 0, connected: 0, vnowMs: startMs }
    for (const s of slots) {
      if (!s.progress) continue
      sum.sold += s.progress.sold
      sum.acked += s.progress.acked
      sum.online += s.progress.online
      sum.connected += s.progress.connected
      sum.vnowMs = Math.max(sum.vnowMs, s.progress.vnowMs)
    }
    o.onProgress({ ...sum, day: Math.min(o.days, (sum.vnowMs - startMs) / DAY), days: o.days, crashes, cabinets: o.cabinets, drainedWorkers: slots.filter((s) => s.drainedAt !== null).length })
  }, 500)

  // Trade runs until every ledger holds its sales (fsync-bound at scale, so it may lag the virtual clock;
  // bounded at ten minutes past the trading time), then until drained, bounded by the drain timeout.
  const tradeWallMs = o.steady ? o.steady.seconds * 1000 : (endMs - startMs) / o.speed
  const tradeDeadline = startWallMs + tradeWallMs + 600_000
  await new Promise<void>((resolve) => {
    const check = setInterval(() => {
      const isDone = slots.every((s) => s.drainedAt !== null)
      const isLate = releasedAt === null ? Date.now() > tradeDeadline : Date.now() > releasedAt + o.drainTimeoutMs
      if (isDone || isLate) {
        clearInterval(check)
        resolve()
      }
    }, 100)
  })
  for (const t of timers) clearTimeout(t)
  clearInterval(progressTimer)
  const isDrained = slots.every((s) => s.drainedAt !== null)
  stage(isDrained ? 'drained' : 'drain-timeout')
  const settle = o.settle && isDrained && !o.steady ? await settleBooks(http, slots, new Set(prov.cabinets.map((c) => c.cabinetId)), stage) : null

  // While the agents still run: the last confirmations, and every command to an end state.
  isConfirming = false
  await confirming
  if (confirmations) {
    const until = Date.now() + CONFIRM_SETTLE_MS
    while (confirmations.remaining().length > 0 && Date.now() < until) {
      await confirmations.pass().catch((err: unknown) => stage('confirm-failed', { error: (err as Error).message }))
      if (confirmations.remaining().length > 0) await new Promise((r) => setTimeout(r, 500))
    }
  }
  const sentCommands = await commandsSent
  const isOfflineAt = (cabinetId: string, t: number): boolean => {
    const wall = (v: number): number => startWallMs! + (v - startMs) / o.speed
    for (const [a, b] of outageWindows(planOptions, cabinetId)) {
      // One still on at the end of trade lasted until the fleet-wide release.
      const until = b >= endMs ? (releasedAt ?? Infinity) : wall(b)
      if (t >= wall(a) && t <= until + RECONNECT_GRACE_MS) return true
    }
    const slot = slotOf.get(cabinetId)
    return slot !== undefined && slot.downWindows.some(([a, b]) => t >= a && t <= b + RECONNECT_GRACE_MS)
  }
  if (sentCommands.length > 0) stage('commands-judging', { sent: sentCommands.length })
  const commands = sentCommands.length > 0 ? await judgeCommands(http, sentCommands, { isOfflineAt, boundaries, timeoutMs: COMMANDS_SETTLE_MS }) : null

  if (evaluating) clearInterval(evaluating)
  const telemetry = o.telemetry
    ? { ...(await countAlerts(http, new Set(prov.cabinets.map((c) => c.cabinetId)), runStartedAt - 1_000, readings)), readingIntervalMs: readingIntervalMs(o.cabinets, o.speed) }
    : null
  const stock = o.stock ? await judgeFleetStock(http, slots, await Promise.all(restocksSent), stockCounts, prov.cabinets.length, stage) : null

  // Final reports, then the workers close their agents and exit.
  for (const s of slots) {
    s.isStopping = true
    s.child?.send({ type: 'stop' } satisfies ToWorker)
  }
  const reportsIn = new Promise<void>((resolve, reject) => {
    const limit = setTimeout(() => reject(new Error('workers did not report within 60 s')), 60_000)
    const poll = setInterval(() => {
      if (slots.every((s) => s.report !== null)) {
        clearInterval(poll)
        clearTimeout(limit)
        resolve()
      }
    }, 50)
  })
  await reportsIn
  const killAfter = setTimeout(() => slots.forEach((s) => s.child?.kill('SIGKILL')), 15_000)
  await Promise.all(exits)
  clearTimeout(killAfter)

  // The next run on these ledgers goes on from the cabinets' clocks, past any settled idle time.
  recordTradedUntil(o.dataDir, Math.max(endMs, settle?.clockAt ? Date.parse(settle.clockAt) : endMs))
  const reports = slots.flatMap((s) => s.report!.cabinets)
  stage('verifying', { cabinets: reports.length })
  const verdict = await judge(http, reports, { seed: o.seed, startMs: startMs, days: o.days, verifyIds: o.verifyIds && !o.steady, certifiedMean: o.certifiedMean, clockSkewRate: o.clockSkewRate, cabinets: prov.cabinets })

  const since = (at: Array<number | null>): number | null => (releasedAt === null || at.some((t) => t === null) ? null : Math.max(...(at as number[])) - releasedAt)
  const connectedMs = since(slots.map((s) => s.connectedAt))
  const drainedMs = since(slots.map((s) => s.drainedAt))
  const lat = slots.flatMap((s) => s.latency).sort((a, b) => a - b)
  const outages = prov.cabinets.reduce((n, c) => n + outagesOf(o.seed, c.cabinetId, startMs, o.days, o.outageRate).length, 0)
  const enrollment = o.enroll
    ? { enrolled: prov.enrolled.length, operating: prov.enrolled.length - (confirmations?.remaining().length ?? 0), notOperating: (confirmations?.remaining() ?? []).slice(0, 20), by: login?.username ?? 'admin' }
    : null
  const isOk = verdict.isOk && isDrained && (commands?.isOk ?? true) && (enrollment?.notOperating.length ?? 0) === 0 && (stock?.mismatches ?? 0) === 0
  return {
    event: 'summary',
    ...verdict,
    isOk,
    seed: o.seed,
    start: new Date(startMs).toISOString(),
    days: o.days,
    speed: o.speed,
    workers: o.workers,
    provisioning: { created: prov.created, reused: prov.reused, ms: provMs, catalog },
    faults: { outages, cityOutages: o.cityOutages.length, crashes, skewedCabinets: reports.filter((r) => r.clockSkewMs !== 0).length },
    drain: {
      isDrained,
      connectedMs,
      drainedMs,
      backlogSales,
      salesPerS: backlogSales !== null && drainedMs !== null && drainedMs > 0 ? Math.round((backlogSales / drainedMs) * 1000) : null,
    },
    settle,
    latencyMs: lat.length > 0 ? { samples: lat.length, p50: +percentile(lat, 50).toFixed(1), p99: +percentile(lat, 99).toFixed(1), max: +lat.at(-1)!.toFixed(1) } : null,
    workerRssMiB: slots.map((s) => Math.round(s.report!.rssMiB)),
    enrollment,
    commands,
    stock,
    telemetry,
    durationS: Math.round((Date.now() - t0) / 100) / 10,
  }
}

/**
 * After the drain: the operator's restocks applied (or ended), then every
 * agent's ledger stock against what the server shows for its cabinet.
 */
async function judgeFleetStock(
  http: Http,
  slots: WorkerSlot[],
  commandIds: ReadonlyArray<string | null>,
  counts: { restocksLocal: number; stockOuts: number; restockFailures: Array<{ cabinetId: string; problem: string }> },
  cabinets: number,
  stage: (stage: string, detail?: Record<string, unknown>) => void,
): Promise<StockVerdict> {
  const ids = commandIds.filter((id): id is string => id !== null)
  stage('stock-judging', { restocksSent: commandIds.length })
  const deadline = Date.now() + STOCK_SETTLE_MS
  let open = ids
  while (open.length > 0 && Date.now() < deadline) {
    const states = await pool(open, 8, async (id) => (await http.call<{ state?: string }>('GET', `/api/v1/commands/${id}`)).body?.state)
    open = open.filter((_, i) => !['done', 'failed', 'expired'].includes(states[i] ?? ''))
    if (open.length > 0) await new Promise((r) => setTimeout(r, 250))
  }
  for (const s of slots) {
    s.stock = null
    s.child?.send({ type: 'stockSnapshot' } satisfies ToWorker)
  }
  while (Date.now() < deadline + 30_000 && !slots.every((s) => s.stock !== null)) await new Promise((r) => setTimeout(r, 50))
  const agents = slots.flatMap((s) => s.stock ?? [])
  const judged = await judgeStock(http, agents, Math.max(5_000, deadline - Date.now()))
  // A cabinet whose ledger could not be read is a mismatch too: nothing vouches for it.
  const unread = cabinets - agents.length
  const problems = [...counts.restockFailures, ...(open.length > 0 ? [{ cabinetId: '-', problem: `${open.length} restock commands not applied` }] : []), ...judged.problems].slice(0, 20)
  return {
    cabinets,
    restocks: counts.restocksLocal + commandIds.length,
    restocksLocal: counts.restocksLocal,
    restocksRemote: commandIds.length,
    stockOuts: counts.stockOuts,
    mismatches: judged.mismatches + unread,
    problems,
  }
}

interface HeldRow {
  cabinetId: string
  reason: string
  details?: { periodEnd?: unknown }
}

/**
 * A run trades a few virtual days; the forwarding gate (the server's sync
 * watermark) rightly holds a period until each cabinet has shown, by a
 * heartbeat sent after the period's end, that it holds nothing more from it.
 * An agent's clock is the simulation's virtual clock (2020), so without this
 * every period of a run that ends mid-month stays INCOMPLETE_SYNC. One pass
 * now tells which periods the server has judged ended but incomplete; the
 * workers then let idle time pass to the latest of those ends and heartbeat.
 */
async function settleBooks(
  http: Http,
  slots: WorkerSlot[],
  ours: ReadonlySet<string>,
  stage: (stage: string, detail?: Record<string, unknown>) => void,
): Promise<NonNullable<FleetSummary['settle']>> {
  await http.call('POST', '/api/v1/forwarding/run')
  const fwd = await http.call<{ held?: HeldRow[] }>('GET', '/api/v1/forwarding')
  const ends = (fwd.status === 200 && Array.isArray(fwd.body.held) ? fwd.body.held : [])
    .filter((h) => h.reason === 'INCOMPLETE_SYNC' && ours.has(h.cabinetId))
    .map((h) => Date.parse(String(h.details?.periodEnd)))
    .filter(Number.isFinite)
  if (ends.length === 0) return { periodEnd: null, clockAt: null, heartbeats: 0, disconnected: 0 }
  const untilMs = Math.max(...ends)
  stage('settling', { periodEnd: new Date(untilMs).toISOString(), heldIncompleteSync: ends.length })
  for (const s of slots) s.child?.send({ type: 'settle', untilMs } satisfies ToWorker)
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline && !slots.every((s) => s.settled !== null)) await new Promise((r) => setTimeout(r, 50))
  const done = slots.flatMap((s) => (s.settled ? [s.settled] : []))
  return {
    periodEnd: new Date(untilMs).toISOString(),
    clockAt: done.length > 0 ? new Date(Math.max(...done.map((d) => d.vnowMs))).toISOString() : null,
    heartbeats: done.reduce((n, d) => n + d.heartbeats, 0),
    disconnected: done.reduce((n, d) => n + d.disconnected, 0) + slots.filter((s) => s.settled === null).reduce((n, s) => n + s.spec.cabinets.length, 0),
  }
}
