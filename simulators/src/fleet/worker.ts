// One worker process of a simulated fleet: hundreds or thousands of real edge
// agents (real SQLite ledgers, real mqtt.js clients, no local HTTP API) driven
// by a virtual clock. An outage is the cabinet's uplink going down: each agent
// dials the broker through a gate here, which cuts the live connection and
// fails every attempt while the outage lasts (the agent keeps selling into its
// ledger and retries with its backoff); at its end the gate opens and the agent
// is told the uplink is back, as a modem reporting carrier would. A crash is
// this whole process SIGKILLed by the main process and started again on the
// same ledgers: the sales already recorded are found in the ledgers and the
// schedule resumes after them.
import { connect, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { Duplex } from 'node:stream'
import { pino, type Logger } from 'pino'
import { readCredentials } from '../../../edge-agent/src/index.js'
import { brokerAddress, createAgent, makeConfig, type Agent, type AgentEvents, type BrokerAddress } from '../../../edge-agent/src/index.js'
import type { FaultModule, PostSaleRequest } from '../../../shared/src/index.js'
import type { CabinetReport, FromWorker, SimCabinet, ToWorker, WorkerSpec } from './ipc.js'
import { basket, cabinetProfile, certifiedLineProbability, DAY, outagesOf, rng, salesOfDay, shanghaiDayOf, type CabinetProfile, type PlannedSale, type Rand } from './model.js'
import { agentDir, pool } from './provision.js'
import { incidentsOf, isChilled, temperatureC, type Incident } from './telemetry.js'
import { isLow, LOCAL_RESTOCK_SHARE, restockDelayMs, SLOT_OF_SKU, type AgentStock } from './stock.js'

const TICK_MS = 20
/** Sales one tick may record (each is a durable commit): bounds the event-loop pause. */
const SALES_PER_TICK = 300
const PROGRESS_MS = 500

interface Cab {
  readonly sim: SimCabinet
  readonly profile: CabinetProfile
  readonly outages: Array<[number, number]>
  agent: Agent | null
  /** The gate: whether the cabinet's uplink is up, and the connection it carries. */
  isOnline: boolean
  uplink: Socket | null
  baseSeq: number
  /** Day-model schedule cursor. */
  day: number
  list: PlannedSale[]
  idx: number
  skip: number
  isScheduleDone: boolean
  /** Steady mode: next sale (performance.now() ms) and its randomness. */
  nextAtPerf: number
  rand: Rand
  /** Steady mode: seq → performance.now() at the 201. */
  pendingLatency: Map<number, number>
  /** Seen connected since the release (a link may drop and come back while the fleet drains). */
  hasConnectedSinceRelease: boolean
  /** SKUs with a remote price change: the controller sells them at the cabinet's price. */
  cabinetPriced: ReadonlySet<string>
  /** --stock: the controller's view of its slots (from the agent's GET /stock, less what it sold since); null until read. */
  slots: Map<string, { qty: number; par: number }> | null
  /** --stock: when the operator comes to restock the low slots (virtual ms), and whether it is on its way. */
  restockAt: number | null
  isRestocking: boolean
  stockRand: Rand
  /** --telemetry: the cabinet's incidents, its next reading (virtual ms) and the faults its agent holds active. */
  chilled: boolean
  incidents: Incident[]
  nextReadingAt: number
  activeFaults: Set<FaultModule>
  telemetryRand: Rand
}

/**
 * What a simulated cabinet does besides selling, as hooks on its agent's life:
 * opened (also after a crash), each tick (virtual time v), each remote command
 * it handled. Telemetry and stock come in as more of these.
 */
interface Behaviour {
  opened?(c: Cab, agent: Agent): void
  tick?(c: Cab, v: number): void
  command?(c: Cab, agent: Agent, ev: AgentEvents['command'][0]): void
}

/**
 * Remote price changes: the controller stops pricing a changed SKU itself and
 * leaves the price to the cabinet (the agent's override), as a controller that
 * takes its prices from the agent's catalog does; the main process hears the
 * ledger's last seq at each command, so the verdict can hold later sales to it.
 */
const followPrices: Behaviour = {
  opened(c, agent) {
    c.cabinetPriced = new Set(Object.keys(agent.commandState().priceOverrides))
  },
  command(c, agent, ev) {
    if (ev.kind === 'price') c.cabinetPriced = new Set(Object.keys(agent.commandState().priceOverrides))
    send({ type: 'command', cabinetId: c.sim.cabinetId, commandId: ev.commandId, kind: ev.kind, state: ev.state, lastSeq: agent.status().lastSeq })
  },
}

/** The agent's local API, as the cabinet's controller and staff use it. */
async function local<T>(agent: Agent, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${agent.apiPort}${path}`, {
    method,
    ...(body !== undefined && { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  })
  if (!res.ok) throw new Error(`local ${method} ${path}: HTTP ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}

async function readStock(agent: Agent): Promise<AgentStock> {
  const s = await local<{ rev: number; slots: AgentStock['slots'] }>(agent, 'GET', '/stock')
  return { cabinetId: agent.cabinetId, rev: s.rev, slots: s.slots }
}

function refreshSlots(c: Cab, agent: Agent): void {
  readStock(agent).then(
    (s) => {
      if (c.agent === agent) c.slots = new Map(s.slots.map((x) => [x.slot, { qty: x.qty, par: x.par }]))
    },
    (err: unknown) => log.warn({ err, cabinetId: c.sim.cabinetId }, 'reading stock failed'),
  )
}

/** Staff at the cabinet fill every slot to par through the agent's local API. */
async function restockLocally(c: Cab, agent: Agent, restockId: string): Promise<void> {
  // The door is open while staff load the cabinet (telemetry shows it).
  if (spec.telemetry) agent.reportTelemetry({ doorOpen: true })
  try {
    await local(agent, 'POST', '/restock', { restockId, fill: true })
  } finally {
    if (spec.telemetry) agent.reportTelemetry({ doorOpen: false })
  }
  refreshSlots(c, agent)
}

/**
 * --stock: the controller names each line's slot and counts what left it; a
 * slot run low brings the operator after a delay drawn from the seed, either
 * staff at the cabinet (local API) or a restock from the dashboard (the main
 * process posts it; the agent applies it as a command). The planogram's
 * arrival is the installation: staff fill the cabinet.
 */
const keepStock: Behaviour = {
  opened(c, agent) {
    c.restockAt = null
    c.isRestocking = false
    refreshSlots(c, agent)
  },
  tick(c, v) {
    if (c.slots === null || c.isRestocking) return
    // The cabinet's own time: a loaded worker records its sales behind the virtual clock, and the
    // operator comes between the sales as they happened, not when the worker gets to them.
    const next = spec.steady ? null : nextPlanned(c)
    const t = next === null ? v : Math.min(v, next.atMs)
    if (t >= endMs) return
    if (c.restockAt === null) {
      for (const s of c.slots.values()) {
        if (!isLow(s)) continue
        c.restockAt = t + restockDelayMs(c.stockRand)
        break
      }
      return
    }
    if (t < c.restockAt) return
    const agent = c.agent!
    const restockId = `sim-${c.sim.cabinetId}-${Math.floor(t / 1000)}`
    c.isRestocking = true
    c.restockAt = null
    if (c.stockRand() < LOCAL_RESTOCK_SHARE) {
      restockLocally(c, agent, restockId).then(
        () => {
          send({ type: 'stockEvent', cabinetId: c.sim.cabinetId, event: 'restockLocal' })
          if (c.agent === agent) c.isRestocking = false
        },
        (err: unknown) => {
          log.error({ err, cabinetId: c.sim.cabinetId }, 'local restock failed')
          if (c.agent === agent) c.isRestocking = false
        },
      )
    } else {
      // Cleared when the agent has applied it (the command event).
      send({ type: 'restock', cabinetId: c.sim.cabinetId, restockId })
    }
  },
  command(c, agent, ev) {
    if (ev.kind === 'planogram' && ev.state === 'done') {
      restockLocally(c, agent, `sim-install-${ev.commandId}`).catch((err: unknown) => log.error({ err, cabinetId: c.sim.cabinetId }, 'filling at installation failed'))
    } else if (ev.kind === 'restock') {
      c.isRestocking = false
      refreshSlots(c, agent)
    }
  },
}

let readingsSent = 0

/**
 * --telemetry: the controller reports through the agent's telemetry entry
 * point every intervalMs of virtual time: the temperature (above 8 °C while a
 * cooling failure lasts), and faults as they start and end; the agent
 * publishes it at once.
 */
const reportReadings: Behaviour = {
  opened(c) {
    // A new agent process holds no faults; the first reading comes within one interval.
    c.activeFaults = new Set()
    c.nextReadingAt = vnow() + c.telemetryRand() * spec.telemetry!.intervalMs
  },
  tick(c, v) {
    if (v < c.nextReadingAt || v >= endMs) return
    c.nextReadingAt = Math.max(c.nextReadingAt + spec.telemetry!.intervalMs, v)
    const agent = c.agent!
    const now = c.incidents.filter((i) => v >= i.from && v < i.to)
    const faultsNow = new Set(now.filter((i) => i.kind === 'fault').map((i) => i.module!))
    const faults = [
      ...[...faultsNow].filter((m) => !c.activeFaults.has(m)).map((m) => ({ module: m, code: 'SIM-E1', active: true })),
      ...[...c.activeFaults].filter((m) => !faultsNow.has(m)).map((m) => ({ module: m, code: 'SIM-E1', active: false })),
    ]
    c.activeFaults = faultsNow
    const r = agent.reportTelemetry({ temperatureC: temperatureC(c.telemetryRand, c.chilled, now.some((i) => i.kind === 'cooling')), ...(faults.length > 0 && { faults }) })
    if (r.published || agent.telemetry.publishNow()) readingsSent++
  },
}

/** What left each slot with a sale (the agent's rule for a named slot: stops at 0). */
function tookStock(c: Cab, body: PostSaleRequest): void {
  if (c.slots === null) return
  for (const it of body.items) {
    const s = it.slot === undefined ? undefined : c.slots.get(it.slot)
    if (!s || s.qty === 0) continue
    s.qty = Math.max(0, s.qty - it.qty)
    if (s.qty === 0) send({ type: 'stockEvent', cabinetId: c.sim.cabinetId, event: 'out' })
  }
}

const BEHAVIOURS: readonly Behaviour[] = [followPrices, keepStock, reportReadings]
let active: readonly Behaviour[] = []
let ticking: readonly Behaviour[] = []

/** The sale as the controller sends it: lines of cabinet-priced SKUs without a price. */
function asSold(c: Cab, body: PostSaleRequest): PostSaleRequest {
  const withSlots = spec.stock ? { ...body, items: body.items.map((it) => ({ ...it, slot: SLOT_OF_SKU.get(it.sku) })) } : body
  if (c.cabinetPriced.size === 0 || !body.items.some((it) => c.cabinetPriced.has(it.sku))) return withSlots
  return { ...withSlots, items: withSlots.items.map((it) => (c.cabinetPriced.has(it.sku) ? { sku: it.sku, qty: it.qty, slot: it.slot } : it)) }
}

/** Records the sale as the controller sends it; with --stock, counts what left the slots. */
function sellOne(c: Cab, body: PostSaleRequest): ReturnType<Agent['sell']> {
  const sold = asSold(c, body)
  const r = c.agent!.sell(sold)
  if (spec.stock) tookStock(c, sold)
  return r
}

const send = (m: FromWorker): void => {
  process.send?.(m)
}

let spec!: WorkerSpec
let log!: Logger
let startWallMs: number | null = null
let cabs: Cab[] = []
let endMs = 0
let firstDay = 0
let lastDay = 0
let tickTimer: NodeJS.Timeout | null = null
let progressTimer: NodeJS.Timeout | null = null
let rotate = 0
let isReleased = false
let steadyEndPerf = 0
let hasSentConnected = false
let hasSentDrained = false
const latencies: number[] = []

/** Idle virtual time skipped by a settle (no trade is planned after the end). */
let clockJumpMs = 0

const vnow = (): number => (startWallMs === null ? spec.startMs : spec.startMs + (Date.now() - startWallMs) * spec.speed + clockJumpMs)

/**
 * Whether the cabinet's uplink is down at virtual time v. An outage still on
 * when trade ends lasts until the fleet-wide release (the main process lifts
 * every outage at once, after every ledger holds its sales): the virtual clock
 * running on past the end must not reconnect cabinets one by one while others
 * are still recording, or the backlog drain would be over before it is timed.
 */
function inOutage(c: Cab, v: number): boolean {
  const t = Math.min(v, endMs - 1)
  for (const [a, b] of spec.cityOutages) if (t >= a && t < b) return true
  for (const [a, b] of c.outages) if (t >= a && t < b) return true
  return false
}

function isEnded(): boolean {
  if (startWallMs === null) return false
  if (spec.steady) return performance.now() >= steadyEndPerf
  return vnow() >= endMs
}

async function openAgent(c: Cab): Promise<Agent> {
  const skew = c.profile.clockSkewMs
  const dataDir = agentDir(spec.dataDir, c.sim.cabinetId)
  // An enrolled cabinet's agent runs on what enrollment wrote, as `edge-agent --data DIR` does.
  const enrolled = c.sim.enrolled ? readCredentials(dataDir) : null
  if (c.sim.enrolled && !enrolled) throw new Error(`${c.sim.cabinetId}: enrolled, but ${dataDir} holds no credentials.json`)
  const agent = await createAgent(
    makeConfig({
      cabinetId: c.sim.cabinetId,
      dataDir,
      serverUrl: spec.mqttUrl,
      username: enrolled?.username ?? c.sim.cabinetId,
      password: enrolled?.password ?? c.sim.password,
      // With --stock the controller and staff reach the agent as on a cabinet: its local API.
      apiPort: spec.stock ? 0 : null,
      chilled: c.chilled,
      // With --telemetry the simulation paces the readings; the agent's own timer (real time) only backs it up.
      ...(spec.telemetry && { telemetryIntervalMs: 3_600_000 }),
      logLevel: 'silent',
    }),
    { logger: log, now: spec.steady ? Date.now : () => vnow() + skew, dial: (to) => dial(c, to) },
  )
  c.agent = agent
  for (const b of active) b.opened?.(c, agent)
  agent.on('command', (ev) => {
    for (const b of active) b.command?.(c, agent, ev)
  })
  if (spec.steady) {
    agent.on('acked', (seq) => {
      const t = performance.now()
      for (const [s, at] of c.pendingLatency) {
        if (s > seq) break
        latencies.push(t - at)
        c.pendingLatency.delete(s)
      }
    })
  }
  return agent
}

/** The gate: a TCP connection to the broker while the uplink is up, else a stream that fails at once. */
function dial(c: Cab, to: BrokerAddress): Duplex {
  if (!c.isOnline) {
    const down = new Duplex({ read() {}, write(_chunk, _enc, cb) { cb() } })
    process.nextTick(() => down.destroy(Object.assign(new Error('uplink down (simulated outage)'), { code: 'ENETUNREACH' })))
    return down
  }
  const sock = connect(to.port, to.host)
  c.uplink = sock
  sock.once('close', () => {
    if (c.uplink === sock) c.uplink = null
  })
  return sock
}

function setUplink(c: Cab, isOnline: boolean): void {
  if (c.isOnline === isOnline) return
  c.isOnline = isOnline
  if (!isOnline) {
    // The connection dies with the uplink; the agent notices and starts retrying.
    c.uplink?.destroy()
    c.uplink = null
  } else {
    c.agent?.retryNow()
  }
}

function nextPlanned(c: Cab): PlannedSale | null {
  for (;;) {
    if (c.idx < c.list.length) {
      if (c.skip > 0) {
        c.skip--
        c.idx++
        continue
      }
      return c.list[c.idx]!
    }
    if (c.day >= lastDay) {
      c.isScheduleDone = true
      return null
    }
    c.day++
    c.list = salesOfDay(spec.seed, c.sim.cabinetId, c.profile, c.day).filter((s) => s.atMs >= spec.startMs && s.atMs < endMs)
    c.idx = 0
  }
}

function sellDue(c: Cab, v: number, budget: number): number {
  let n = 0
  if (spec.steady) {
    const now = performance.now()
    while (n < budget && c.nextAtPerf <= now && now < steadyEndPerf) {
      const r = sellOne(c, basket(c.rand, certifiedLineProbability(c.profile.certifiedShare)))
      c.pendingLatency.set(r.seq, performance.now())
      c.nextAtPerf += expo(c.rand, 3_600_000 / spec.steady.perCabinetPerHour)
      n++
    }
    return n
  }
  while (n < budget) {
    const next = nextPlanned(c)
    if (next === null || next.atMs > v) break
    try {
      sellOne(c, next.body)
    } catch (err) {
      log.error({ err, cabinetId: c.sim.cabinetId }, 'sale not recorded; retrying next tick')
      break
    }
    c.idx++
    n++
  }
  return n
}

const expo = (r: Rand, meanMs: number): number => -Math.log(Math.max(r(), 1e-12)) * meanMs

function tick(): void {
  const v = vnow()
  let budget = SALES_PER_TICK
  const n = cabs.length
  rotate = (rotate + 1) % Math.max(1, n)
  for (let k = 0; k < n; k++) {
    const c = cabs[(rotate + k) % n]!
    setUplink(c, isReleased || spec.steady !== null || !inOutage(c, v))
    if (c.agent === null) continue // still opening at start-up
    for (const b of ticking) b.tick!(c, v)
    if (budget > 0) budget -= sellDue(c, v, budget)
  }
  if (isReleased) checkDrained()
}

function checkDrained(): void {
  let connected = 0
  let drained = 0
  for (const c of cabs) {
    if (c.agent === null) continue
    const s = c.agent.status()
    if (s.connected) c.hasConnectedSinceRelease = true
    if (c.hasConnectedSinceRelease) connected++
    const isDone = spec.steady !== null || c.isScheduleDone || nextPlanned(c) === null
    if (isDone && s.lastAckedSeq === s.lastSeq) drained++
  }
  // The main process times these on its own clock, from the instant it released the fleet.
  if (!hasSentConnected && connected === cabs.length) {
    hasSentConnected = true
    send({ type: 'connectedAll' })
  }
  // Drained counts from the release like connected: an agent with nothing left to
  // send has not drained its backlog until it has been back on the broker.
  if (!hasSentDrained && hasSentConnected && drained === cabs.length) {
    hasSentDrained = true
    send({ type: 'drained' })
  }
}

function progress(): void {
  let sold = 0
  let acked = 0
  let online = 0
  let connected = 0
  let isTradeDone = isEnded()
  for (const c of cabs) {
    if (!c.isScheduleDone && spec.steady === null) isTradeDone = false
    if (c.agent === null) continue
    const s = c.agent.status()
    sold += s.lastSeq - c.baseSeq
    acked += s.lastAckedSeq - c.baseSeq
    if (c.isOnline) online++
    if (s.connected) connected++
  }
  if (readingsSent > 0) {
    send({ type: 'readings', n: readingsSent })
    readingsSent = 0
  }
  send({ type: 'progress', sold, acked, online, connected, vnowMs: vnow(), isDrained: hasSentDrained, isTradeDone })
}

async function start(s: WorkerSpec, wallStart: number | null, released: boolean): Promise<void> {
  spec = s
  isReleased = released
  active = BEHAVIOURS.filter((b) => (b !== keepStock || s.stock === true) && (b !== reportReadings || Boolean(s.telemetry)))
  ticking = active.filter((b) => b.tick !== undefined)
  // The gate dials plain TCP itself; a TLS broker would need it to wrap the socket.
  for (const url of s.mqttUrl.split(',')) {
    const { protocol } = brokerAddress(url.trim())
    if (protocol !== 'mqtt' && protocol !== 'tcp') throw new Error(`the simulator dials mqtt:// brokers only, not ${protocol}://`)
  }
  log = pino({ level: s.logLevel }, pino.destination(2)).child({ worker: s.workerIndex })
  endMs = s.startMs + s.days * DAY
  firstDay = shanghaiDayOf(s.startMs)
  lastDay = shanghaiDayOf(endMs - 1)
  startWallMs = wallStart
  const baseSeqs: Record<string, number> = {}
  cabs = s.cabinets.map((sim) => {
    const profile = cabinetProfile(sim.cabinetId, sim.venueType, { seed: s.seed, certifiedMean: s.certifiedMean, clockSkewRate: s.clockSkewRate })
    const outages = outagesOf(s.seed, sim.cabinetId, s.startMs, s.days, s.outageRate)
    return {
      sim, profile, outages, agent: null, isOnline: false, uplink: null, baseSeq: 0,
      day: firstDay - 1, list: [], idx: 0, skip: 0, isScheduleDone: false,
      nextAtPerf: 0, rand: rng(`${s.seed}|steady|${sim.cabinetId}`), pendingLatency: new Map(), hasConnectedSinceRelease: false, cabinetPriced: new Set<string>(),
      slots: null, restockAt: null, isRestocking: false, stockRand: rng(`${s.seed}|restock|${sim.cabinetId}`),
      chilled: isChilled(s.seed, sim.cabinetId), incidents: s.telemetry ? incidentsOf(s.seed, sim.cabinetId, s.startMs, s.days) : [], nextReadingAt: 0, activeFaults: new Set<FaultModule>(),
      telemetryRand: rng(`${s.seed}|telemetry|${sim.cabinetId}`),
    }
  })
  const v = vnow()
  for (const c of cabs) {
    c.isOnline = s.steady !== null || !inOutage(c, v)
    c.agent = await openAgent(c)
    const lastSeq = c.agent.status().lastSeq
    c.baseSeq = s.baseSeqs?.[c.sim.cabinetId] ?? lastSeq
    // After a crash: the sales already in the ledger are skipped in the schedule.
    c.skip = lastSeq - c.baseSeq
    baseSeqs[c.sim.cabinetId] = c.baseSeq
  }
  if (s.steady) {
    // Latency is measured on a connected fleet, not on one still logging in.
    const until = Date.now() + 60_000
    while (Date.now() < until && cabs.some((c) => !c.agent?.status().connected)) await new Promise((r) => setTimeout(r, 100))
  }
  if (s.stock && wallStart === null) {
    // Installation comes before trade: wait (a minute at most) until each reachable cabinet has its planogram and the fill.
    const until = Date.now() + 60_000
    const isStocked = (c: Cab): boolean => c.slots !== null && [...c.slots.values()].some((x) => x.qty > 0)
    while (Date.now() < until && cabs.some((c) => c.isOnline && !isStocked(c))) {
      await new Promise((r) => setTimeout(r, 100))
      for (const c of cabs) if (c.agent && !isStocked(c)) refreshSlots(c, c.agent)
    }
  }
  send({ type: 'ready', baseSeqs })
  if (startWallMs !== null) go(startWallMs)
}

function go(wallStart: number): void {
  startWallMs = wallStart
  if (spec.steady) {
    const now = performance.now()
    steadyEndPerf = now + spec.steady.seconds * 1000
    for (const c of cabs) c.nextAtPerf = now + expo(c.rand, 3_600_000 / spec.steady.perCabinetPerHour)
  }
  tickTimer ??= setInterval(tick, TICK_MS)
  progressTimer ??= setInterval(progress, PROGRESS_MS)
}

/**
 * After the drain: idle time passes (nothing is sold after the end of trade)
 * until every cabinet's clock, skew included, reads at least untilMs; then
 * every agent heartbeats, so the server learns that each cabinet has nothing
 * more from before that instant. Runs once; a restarted worker keeps no jump,
 * but the main process settles only a drained fleet after the crashes are over.
 */
function settle(untilMs: number): void {
  let slowest = Number.POSITIVE_INFINITY
  for (const c of cabs) slowest = Math.min(slowest, vnow() + c.profile.clockSkewMs)
  if (Number.isFinite(slowest) && slowest < untilMs) clockJumpMs += untilMs - slowest + 1_000
  let heartbeats = 0
  let disconnected = 0
  for (const c of cabs) {
    if (c.agent?.sendHeartbeat()) heartbeats++
    else disconnected++
  }
  send({ type: 'settled', vnowMs: vnow(), heartbeats, disconnected })
}

async function stop(): Promise<void> {
  if (tickTimer) clearInterval(tickTimer)
  if (progressTimer) clearInterval(progressTimer)
  progress()
  const reports: CabinetReport[] = cabs.map((c) => {
    const s = c.agent?.status()
    return {
      cabinetId: c.sim.cabinetId,
      baseSeq: c.baseSeq,
      lastSeq: s?.lastSeq ?? c.baseSeq,
      lastAckedSeq: s?.lastAckedSeq ?? c.baseSeq,
      isHalted: s?.isSyncHalted ?? false,
      certifiedShare: c.profile.certifiedShare,
      clockSkewMs: c.profile.clockSkewMs,
    }
  })
  if (spec.steady) send({ type: 'latency', samplesMs: latencies })
  send({ type: 'report', cabinets: reports, rssMiB: process.memoryUsage().rss / 2 ** 20 })
  await Promise.all(cabs.map((c) => c.agent?.close()))
  process.disconnect?.()
}

process.on('message', (m: ToWorker) => {
  if (m.type === 'spec') {
    start(m.spec, m.startWallMs, m.isReleased).catch((err: unknown) => {
      log?.fatal({ err }, 'worker failed to start')
      process.exit(1)
    })
  } else if (m.type === 'go') go(m.startWallMs)
  else if (m.type === 'release') isReleased = true
  else if (m.type === 'settle') settle(m.untilMs)
  else if (m.type === 'stockSnapshot') {
    pool(cabs.filter((c) => c.agent !== null), 8, (c) => readStock(c.agent!)).then(
      (cabinets) => send({ type: 'stockSnapshot', cabinets }),
      (err: unknown) => {
        log.error({ err }, 'stock snapshot failed')
        send({ type: 'stockSnapshot', cabinets: [] })
      },
    )
  } else if (m.type === 'stop') void stop()
})
