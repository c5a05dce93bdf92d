// NATS nodes for the local cluster and the tests (#14): Debian's nats-server
// on 127.0.0.1, each with its client, route, MQTT and monitor ports, JetStream
// in its own store dir, and JWT operator mode with the built-in full account
// resolver, so accounts are updated at run time ($SYS.REQ.CLAIMS.UPDATE) and
// never by config reload (SIGHUP crashed 2.9.10).
//
// A 3-node cluster is ready in ~2 s on the 2-core box: every node's
// /healthz?js-server-only answers ok (it has a JetStream meta leader and is
// current with it), then one MQTT connect has created the account's MQTT
// streams, so the first cabinet does not pay for them.
import { type ChildProcess } from 'node:child_process'
import { createWriteStream, existsSync, type WriteStream } from 'node:fs'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { natsTrustConfig, type NatsIdentity, type NatsServerJwts } from '../nats/index.js'
import { exitOf, isRunning, OutputTail, spawnTied } from './children.js'
import { BIND_FAILED, portOr } from './ports.js'

export const NATS_SERVER_BIN = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((p) => existsSync(p))

const READY_TIMEOUT_MS = 30_000 // a loaded 2-core box; normally ~1 s for 3 nodes
const HEALTHZ_TIMEOUT_MS = 2_000 // one /healthz request; it answers in ~1 ms when the node is free
const STOP_TIMEOUT_MS = 5_000 // lame-duck is off; a clean stop takes ~0.1 s
const BIND_ATTEMPTS = 3
const CLUSTER_NAME = 'fupin'
/** Full resolver sync between nodes, seconds: a hash exchange, cheap at this rate. */
export const RESOLVER_SYNC_INTERVAL_S = 2
/** The cabinet id the warm-up client uses (never a real cabinet: real ids start with a county code). */
export const WARM_UP_CABINET_ID = 'nats-helper-warm-up'

export interface NatsPorts {
  client: number
  cluster: number
  mqtt: number
  http: number
}

export interface NatsNode {
  readonly name: string
  /** nats://127.0.0.1:PORT */
  readonly url: string
  /** mqtt://127.0.0.1:PORT */
  readonly mqttUrl: string
  /** http://127.0.0.1:PORT (monitoring: /healthz, /varz, /connz, /jsz) */
  readonly monitorUrl: string
  /** The running process's pid (changes on restart). */
  readonly pid: number
  readonly isRunning: boolean
  /** Sends the signal and resolves once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>
  /** Starts it again on the same ports and store (after kill); resolves when it is back in the JetStream meta group. */
  restart(): Promise<void>
  /** What it logged (stderr) since its last start (the last 1 MiB). */
  log(): string
}

/**
 * One node's config. `jwts` must be the same on every start of a store: see
 * resolver_preload below.
 */
export function natsServerConfig(name: string, nodeDir: string, ports: readonly NatsPorts[], self: number, jwts: NatsServerJwts): string {
  const q = JSON.stringify
  const own = ports[self]!
  const peers = ports.filter((_, i) => i !== self).map((p) => q(`nats-route://127.0.0.1:${p.cluster}`))
  return [
    `server_name: ${q(name)}`,
    `listen: ${q(`127.0.0.1:${own.client}`)}`,
    `http: ${q(`127.0.0.1:${own.http}`)}`,
    // Limits, not allocations: the sales stream reserves 1 GiB of the file
    // store on each node (broker/nats.ts), MQTT's own streams come beside it.
    `jetstream { store_dir: ${q(join(nodeDir, 'js'))}, max_memory_store: 64MB, max_file_store: 2GB }`,
    ...(ports.length > 1 ? [`cluster { name: ${q(CLUSTER_NAME)}, listen: ${q(`127.0.0.1:${own.cluster}`)}, routes: [${peers.join(', ')}] }`] : []),
    // stream_replicas stated: unset, 2.9.10 counts the route URLs in this
    // node's config (2 peers → R2 streams in a 3-node cluster), not the cluster.
    `mqtt { listen: ${q(`127.0.0.1:${own.mqtt}`)}, stream_replicas: ${Math.min(ports.length, 3)} }`,
    // The full resolver keeps every account JWT in dir and takes updates over
    // the system account. A node that was down when one was pushed gets it only
    // at its next sync with the others (2.9.10: the first sync is one interval
    // after start, not at start): until then it accepts revoked users. Short
    // here so tests see it converge; a production interval bounds that window.
    `resolver { type: full, dir: ${q(join(nodeDir, 'jwt'))}, allow_delete: true, interval: ${q(`${RESOLVER_SYNC_INTERVAL_S}s`)} }`,
    // JWT operator mode: trust the operator; accounts come from the resolver.
    // Preloads are stored only when newer than the dir's copy: a restarted node
    // keeps the revocations it was sent, as long as these JWTs are the ones of
    // the store's first start (a re-signed account JWT is newer and would
    // replace them: callers keep the JWTs, not just the seeds).
    natsTrustConfig(jwts),
    '',
  ].join('\n')
}

export interface NatsNodeOptions {
  /** Appends the node's stderr to this file too (the local cluster's logs). */
  logFile?: string
  /** Called when the process exits (any cause, with its code or signal). */
  onExit?: (node: NatsNodeProcess, code: number | null, signal: NodeJS.Signals | null) => void
}

export class NatsNodeProcess implements NatsNode {
  readonly url: string
  readonly mqttUrl: string
  readonly monitorUrl: string
  private child: ChildProcess | undefined
  private readonly stderr = new OutputTail()
  private logStream: WriteStream | undefined

  constructor(
    readonly name: string,
    private readonly conf: string,
    readonly ports: NatsPorts,
    private readonly opts: NatsNodeOptions = {},
  ) {
    this.url = `nats://127.0.0.1:${ports.client}`
    this.mqttUrl = `mqtt://127.0.0.1:${ports.mqtt}`
    this.monitorUrl = `http://127.0.0.1:${ports.http}`
  }

  get pid(): number {
    if (!this.child?.pid) throw new Error(`${this.name} is not running`)
    return this.child.pid
  }

  get isRunning(): boolean {
    return isRunning(this.child)
  }

  log(): string {
    return this.stderr.toString()
  }

  start(): void {
    if (!NATS_SERVER_BIN) throw new Error('nats-server is not installed (Debian package nats-server)')
    if (this.isRunning) throw new Error(`${this.name} is running already`)
    // A node needs no shutdown when we are gone: its store recovers at the next start.
    const child = spawnTied(NATS_SERVER_BIN, ['-c', this.conf], { stdio: ['ignore', 'ignore', 'pipe'] }, 'SIGKILL')
    this.stderr.clear()
    if (this.opts.logFile && !this.logStream) this.logStream = createWriteStream(this.opts.logFile, { flags: 'a' })
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr.push(d.toString())
      this.logStream?.write(d)
    })
    child.once('exit', (code, signal) => this.opts.onExit?.(this, code, signal))
    this.child = child
  }

  async waitReady(): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS
    let last = ''
    for (;;) {
      if (!this.isRunning) throw new Error(`nats-server ${this.name} exited during start:\n${this.log()}`)
      // js-server-only: JetStream is enabled and (clustered) this node knows
      // the meta leader and is current with it, which MQTT needs. Not the full
      // check: after a restart 2.9.10 may report one replica of an MQTT session
      // consumer deleted while the node was down as "not current" for minutes
      // (seen > 2 min, about 1 run in 2), though the node serves MQTT.
      try {
        // Bounded: a node busy starting JetStream may accept and not answer.
        const res = await fetch(`${this.monitorUrl}/healthz?js-server-only=true`, { signal: AbortSignal.timeout(HEALTHZ_TIMEOUT_MS) })
        last = await res.text()
        if (res.ok) return
      } catch (err) {
        last = (err as Error).message
      }
      if (Date.now() > deadline) throw new Error(`nats-server ${this.name} not healthy within ${READY_TIMEOUT_MS} ms (last: ${last}):\n${this.log()}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child
    if (!isRunning(child)) return
    child.kill(signal)
    const hard = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
    await exitOf(child)
    clearTimeout(hard)
  }

  async restart(): Promise<void> {
    await this.kill('SIGTERM')
    this.start()
    await this.waitReady()
  }

  /** Closes the log file (after the last kill). */
  async closeLog(): Promise<void> {
    const s = this.logStream
    this.logStream = undefined
    if (s) await new Promise<void>((r) => s.end(() => r()))
  }
}

export interface StartNatsNodesOptions {
  /** 1 or 3. */
  count: 1 | 3
  /** Holds n1/, n2/, … (config, JetStream store, resolver dir). */
  dir: string
  jwts: NatsServerJwts
  /** Ports of the last start (kept by a --data cluster): reused where still free. */
  ports?: readonly NatsPorts[]
  /** After a lost bind race, empty the node dirs before the next attempt (a fresh cluster's half-made stores). */
  wipeOnRetry?: boolean
  logDir?: string
  onExit?: NatsNodeOptions['onExit']
}

/** Writes each node's config and starts them; resolves when every node is ready, else kills them and throws. */
export async function startNatsNodes(opts: StartNatsNodesOptions): Promise<NatsNodeProcess[]> {
  if (!NATS_SERVER_BIN) throw new Error('nats-server is not installed (Debian package nats-server)')
  // Ports were free a moment ago; another process may take one first, so a
  // failed bind starts the whole cluster again on new ones.
  for (let attempt = 1; ; attempt++) {
    const ports: NatsPorts[] = []
    for (let i = 0; i < opts.count; i++) {
      const kept = attempt === 1 ? opts.ports?.[i] : undefined
      ports.push({ client: await portOr(kept?.client), cluster: await portOr(kept?.cluster), mqtt: await portOr(kept?.mqtt), http: await portOr(kept?.http) })
    }
    const nodes: NatsNodeProcess[] = []
    for (let i = 0; i < opts.count; i++) {
      const name = `n${i + 1}`
      const nodeDir = join(opts.dir, name)
      await mkdir(join(nodeDir, 'jwt'), { recursive: true })
      const conf = join(nodeDir, 'nats.conf')
      await writeFile(conf, natsServerConfig(name, nodeDir, ports, i, opts.jwts))
      nodes.push(new NatsNodeProcess(name, conf, ports[i]!, { onExit: opts.onExit, ...(opts.logDir && { logFile: join(opts.logDir, `nats-${name}.log`) }) }))
    }
    try {
      for (const n of nodes) n.start()
      await Promise.all(nodes.map((n) => n.waitReady()))
      await waitMeshed(nodes)
      return nodes
    } catch (err) {
      await Promise.all(nodes.map(async (n) => {
        await n.kill('SIGKILL')
        await n.closeLog()
      }))
      const bindFailed = nodes.some((n) => BIND_FAILED.test(n.log()))
      if (attempt >= BIND_ATTEMPTS || !bindFailed) throw err
      if (opts.wipeOnRetry) for (const n of nodes) await rm(join(opts.dir, n.name), { recursive: true, force: true })
    }
  }
}

/**
 * Healthy is not meshed: a JetStream meta leader needs routes to a majority
 * only, and a node still missing its route to a peer neither forwards requests
 * to it nor names it among its routes (the likely cause of a session listing
 * called complete with a node stopped, in a loaded CI run).
 */
async function waitMeshed(nodes: readonly NatsNodeProcess[]): Promise<void> {
  if (nodes.length < 2) return
  const deadline = Date.now() + READY_TIMEOUT_MS
  const peersOf = async (n: NatsNodeProcess): Promise<number> => {
    try {
      const res = await fetch(`${n.monitorUrl}/routez`, { signal: AbortSignal.timeout(HEALTHZ_TIMEOUT_MS) })
      const body = (await res.json()) as { routes?: Array<{ remote_id?: string }> }
      return new Set((body.routes ?? []).map((r) => r.remote_id)).size
    } catch {
      return 0
    }
  }
  for (;;) {
    const peers = await Promise.all(nodes.map(peersOf))
    if (peers.every((p) => p >= nodes.length - 1)) return
    if (Date.now() > deadline) throw new Error(`nats cluster not meshed within ${READY_TIMEOUT_MS} ms (routes per node: ${peers.join(', ')})`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/**
 * The first MQTT connect in an account creates its MQTT streams (R3 here): pay
 * for it once, here. 2.9.10 sometimes leaves that first CONNECT unanswered, or
 * drops a connect after its internal JetStream requests time out (4 s), while
 * stream leaders are still being elected: retried, as a cabinet would.
 */
export async function warmUpMqtt(nodes: readonly NatsNode[], identity: NatsIdentity, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
  const user = await identity.issueCabinetUser(WARM_UP_CABINET_ID)
  const deadline = Date.now() + timeoutMs
  for (let attempt = 1; ; attempt++) {
    try {
      const client = await connectMqtt(nodes[0]!.mqttUrl, WARM_UP_CABINET_ID, user.jwt)
      await client.endAsync(true)
      return
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`no MQTT session on a fresh cluster after ${attempt} attempts: ${(err as Error).message}\n${nodes.map((n) => n.log()).join('\n')}`)
      // A refusal comes back at once: without a pause this loop made ~170 connects a second.
      await new Promise((r) => setTimeout(r, WARM_UP_RETRY_MS))
    }
  }
}

const WARM_UP_RETRY_MS = 100

const MQTT_CONNECT_TIMEOUT_MS = 10_000 // past 2.9.10's 4 s JetStream request timeout on a new session

/**
 * One MQTT connect that settles: CONNACK, refusal, a dropped socket or no
 * CONNACK within the timeout all end it (mqtt.connectAsync's default retries
 * would wait forever with reconnectPeriod 0).
 */
export function connectMqtt(url: string, clientId: string, password: string, opts: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
  return mqtt.connectAsync(url, { clientId, username: clientId, password, reconnectPeriod: 0, connectTimeout: MQTT_CONNECT_TIMEOUT_MS, ...opts }, false)
}
