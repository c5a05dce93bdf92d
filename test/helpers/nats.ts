// A real NATS cluster for tests (#14): 1 or 3 nodes of Debian's nats-server on
// 127.0.0.1, each with free client, route, MQTT and monitor ports, JetStream in
// its own store dir, and JWT operator mode with the built-in full account
// resolver, so accounts are updated at run time ($SYS.REQ.CLAIMS.UPDATE) and
// never by config reload (SIGHUP crashed 2.9.10). Everything lives in one temp
// dir, removed by stop().
//
// A 3-node cluster is ready in ~2 s on the 2-core box: every node's
// /healthz?js-server-only answers ok (it has a JetStream meta leader and is
// current with it), then one MQTT connect has created the account's MQTT
// streams, so a test's first cabinet does not pay for them.
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect as natsConnect, jwtAuthenticator } from '@nats-io/transport-node'
import { SALES_STREAM } from '../../fleet-server/src/broker/nats.js'
import { createNatsIdentity, createNatsIdentityFile, type NatsIdentity } from '../../fleet-server/src/nats/index.js'
import { freePort } from './process.js'

export const NATS_SERVER_BIN = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((p) => existsSync(p))

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
  /** Everything it logged (stderr) since its last start. */
  log(): string
}

export interface NatsCluster {
  urls: string[]
  mqttUrls: string[]
  nodes: NatsNode[]
  /** The temp dir holding configs, JetStream stores and resolver dirs. */
  dir: string
  /** Stops every node (SIGTERM, SIGKILL after 5 s) and removes the dir. Idempotent. */
  stop(): Promise<void>
}

export interface NatsClusterOptions {
  /** 1 or 3 (default 1). */
  nodes?: 1 | 3
  identity: NatsIdentity
  /** Connect one MQTT client first so the account's MQTT streams exist (default true). */
  warmUpMqtt?: boolean
}

const READY_TIMEOUT_MS = 30_000 // a loaded 2-core box; normally ~1 s for 3 nodes
const HEALTHZ_TIMEOUT_MS = 2_000 // one /healthz request; it answers in ~1 ms when the node is free
const STOP_TIMEOUT_MS = 5_000 // lame-duck is off; a clean stop takes ~0.1 s
const CLUSTER_NAME = 'fupin'
/** Full resolver sync between nodes, seconds: a hash exchange, cheap at this rate. */
export const RESOLVER_SYNC_INTERVAL_S = 2
/** The cabinet id the warm-up client uses (never a real cabinet: real ids start with a county code). */
export const WARM_UP_CABINET_ID = 'nats-helper-warm-up'

const running = new Set<ChildProcess>()
// A worker that exits without stop() must not leave servers behind.
process.once('exit', () => {
  for (const c of running) c.kill('SIGKILL')
})

// setpriv (util-linux) asks the kernel to kill the server when the worker that
// started it dies: a vitest worker ended by a signal runs no exit handlers.
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p))

interface Ports {
  client: number
  cluster: number
  mqtt: number
  http: number
}

/** Starts the cluster and waits until every node is ready; the caller stops it (afterAll). */
export async function startNatsCluster(opts: NatsClusterOptions): Promise<NatsCluster> {
  if (!NATS_SERVER_BIN) throw new Error('nats-server is not installed (apt-get install nats-server; .ci/run does this)')
  const count = opts.nodes ?? 1
  const dir = await mkdtemp(join(tmpdir(), 'fupin-nats-'))
  const jwts = await opts.identity.serverJwts()
  try {
    // Ports were free a moment ago; another process may take one first, so a
    // failed bind starts the whole cluster again on new ones.
    for (let attempt = 1; ; attempt++) {
      const ports: Ports[] = []
      for (let i = 0; i < count; i++) ports.push({ client: await freePort(), cluster: await freePort(), mqtt: await freePort(), http: await freePort() })
      const nodes: Node[] = []
      for (let i = 0; i < count; i++) {
        const name = `n${i + 1}`
        const nodeDir = join(dir, name)
        await mkdir(join(nodeDir, 'jwt'), { recursive: true })
        const conf = join(nodeDir, 'nats.conf')
        await writeFile(conf, serverConfig(name, nodeDir, ports, i, jwts))
        nodes.push(new Node(name, conf, ports[i]!))
      }
      try {
        for (const n of nodes) n.start()
        await Promise.all(nodes.map((n) => n.waitReady()))
        const cluster: NatsCluster = {
          urls: nodes.map((n) => n.url),
          mqttUrls: nodes.map((n) => n.mqttUrl),
          nodes,
          dir,
          stop: once(async () => {
            await Promise.all(nodes.map((n) => n.kill('SIGTERM')))
            await rm(dir, { recursive: true, force: true })
          }),
        }
        if (opts.warmUpMqtt ?? true) await warmUp(cluster, opts.identity).catch(async (err: unknown) => {
          await cluster.stop()
          throw err
        })
        return cluster
      } catch (err) {
        await Promise.all(nodes.map((n) => n.kill('SIGKILL')))
        const bindFailed = nodes.some((n) => /address already in use/i.test(n.log()))
        if (attempt >= 3 || !bindFailed) throw err
        await rm(dir, { recursive: true, force: true })
        await mkdir(dir)
      }
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }
}

function serverConfig(name: string, nodeDir: string, ports: Ports[], self: number, jwts: Awaited<ReturnType<NatsIdentity['serverJwts']>>): string {
  const q = JSON.stringify
  const own = ports[self]!
  const peers = ports.filter((_, i) => i !== self).map((p) => q(`nats-route://127.0.0.1:${p.cluster}`))
  return [
    `server_name: ${q(name)}`,
    `listen: ${q(`127.0.0.1:${own.client}`)}`,
    `http: ${q(`127.0.0.1:${own.http}`)}`,
    // Small stores: tests, on a shared box.
    `jetstream { store_dir: ${q(join(nodeDir, 'js'))}, max_memory_store: 64MB, max_file_store: 1GB }`,
    ...(ports.length > 1 ? [`cluster { name: ${q(CLUSTER_NAME)}, listen: ${q(`127.0.0.1:${own.cluster}`)}, routes: [${peers.join(', ')}] }`] : []),
    // stream_replicas stated: unset, 2.9.10 counts the route URLs in this
    // node's config (2 peers → R2 streams in a 3-node cluster), not the cluster.
    `mqtt { listen: ${q(`127.0.0.1:${own.mqtt}`)}, stream_replicas: ${Math.min(ports.length, 3)} }`,
    // JWT operator mode: trust the operator; accounts come from the resolver.
    `operator: ${q(jwts.operator)}`,
    `system_account: ${q(jwts.systemAccountPublicKey)}`,
    // The full resolver keeps every account JWT in dir and takes updates over
    // the system account. A node that was down when one was pushed gets it only
    // at its next sync with the others (2.9.10: the first sync is one interval
    // after start, not at start): until then it accepts revoked users. Short
    // here so tests see it converge; a production interval bounds that window.
    `resolver { type: full, dir: ${q(join(nodeDir, 'jwt'))}, allow_delete: true, interval: ${q(`${RESOLVER_SYNC_INTERVAL_S}s`)} }`,
    // Preloads are stored only when newer than the dir's copy: a restarted node
    // keeps the revocations it was sent (this file is written once per cluster).
    `resolver_preload { ${q(jwts.systemAccountPublicKey)}: ${q(jwts.systemAccount)}, ${q(jwts.fleetAccountPublicKey)}: ${q(jwts.fleetAccount)} }`,
    '',
  ].join('\n')
}

class Node implements NatsNode {
  readonly url: string
  readonly mqttUrl: string
  readonly monitorUrl: string
  private child: ChildProcess | undefined
  private exited: Promise<void> = Promise.resolve()
  private stderr = ''

  constructor(
    readonly name: string,
    private readonly conf: string,
    ports: Ports,
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
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null
  }

  log(): string {
    return this.stderr
  }

  start(): void {
    if (this.isRunning) throw new Error(`${this.name} is running already`)
    const [cmd, pre] = SETPRIV ? [SETPRIV, ['--pdeathsig', 'SIGKILL', NATS_SERVER_BIN!]] : [NATS_SERVER_BIN!, []]
    const child = spawn(cmd, [...pre, '-c', this.conf], { stdio: ['ignore', 'ignore', 'pipe'] })
    this.stderr = ''
    child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()))
    running.add(child)
    this.exited = new Promise<void>((r) =>
      child.once('exit', () => {
        running.delete(child)
        r()
      }),
    )
    this.child = child
  }

  async waitReady(): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS
    let last = ''
    for (;;) {
      if (!this.isRunning) throw new Error(`nats-server ${this.name} exited during start:\n${this.stderr}`)
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
      if (Date.now() > deadline) throw new Error(`nats-server ${this.name} not healthy within ${READY_TIMEOUT_MS} ms (last: ${last}):\n${this.stderr}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child
    if (!child || !this.isRunning) return
    child.kill(signal)
    const hard = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
    await this.exited
    clearTimeout(hard)
  }

  async restart(): Promise<void> {
    await this.kill('SIGTERM')
    this.start()
    await this.waitReady()
  }
}

/**
 * The first MQTT connect in an account creates its MQTT streams (R3 here): pay
 * for it once, here. 2.9.10 sometimes leaves that first CONNECT unanswered, or
 * drops a connect after its internal JetStream requests time out (4 s), while
 * stream leaders are still being elected: retried, as a cabinet would.
 */
async function warmUp(cluster: NatsCluster, identity: NatsIdentity): Promise<void> {
  const user = await identity.issueCabinetUser(WARM_UP_CABINET_ID)
  const deadline = Date.now() + READY_TIMEOUT_MS
  for (let attempt = 1; ; attempt++) {
    try {
      const client = await connectMqtt(cluster.mqttUrls[0]!, WARM_UP_CABINET_ID, user.jwt)
      await client.endAsync(true)
      return
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`no MQTT session on a fresh cluster after ${attempt} attempts: ${(err as Error).message}\n${cluster.nodes.map((n) => n.log()).join('\n')}`)
    }
  }
}

const MQTT_CONNECT_TIMEOUT_MS = 10_000 // past 2.9.10's 4 s JetStream request timeout on a new session

/**
 * One MQTT connect that settles: CONNACK, refusal, a dropped socket or no
 * CONNACK within the timeout all end it (mqtt.connectAsync's default retries
 * would wait forever with reconnectPeriod 0).
 */
export function connectMqtt(url: string, clientId: string, password: string, opts: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
  return mqtt.connectAsync(url, { clientId, username: clientId, password, reconnectPeriod: 0, connectTimeout: MQTT_CONNECT_TIMEOUT_MS, ...opts }, false)
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | undefined
  return () => (p ??= fn())
}

/** A cluster for fleet servers: a fresh identity, its seeds file in the cluster's dir, and the settings a fleet server needs. */
export interface FleetNats {
  readonly identity: NatsIdentity
  readonly identityFile: string
  readonly cluster: NatsCluster
  /** FLEET_NATS_URL, FLEET_NATS_IDENTITY and FLEET_NATS_MQTT_URL for a fleet server on this cluster. */
  env(): Record<string, string>
  /** The server name of the node leading the sales stream's replicas (the stream exists once a fleet server started). */
  salesStreamLeader(): Promise<string>
}

export async function startFleetNats(nodes: 1 | 3): Promise<FleetNats> {
  const file = createNatsIdentityFile()
  const identity = createNatsIdentity(file)
  const cluster = await startNatsCluster({ nodes, identity })
  const identityFile = join(cluster.dir, 'identity.json')
  await writeFile(identityFile, JSON.stringify(file), { mode: 0o600 })
  return {
    identity,
    identityFile,
    cluster,
    env: () => ({ FLEET_NATS_URL: cluster.urls.join(','), FLEET_NATS_IDENTITY: identityFile, FLEET_NATS_MQTT_URL: cluster.mqttUrls.join(',') }),
    async salesStreamLeader() {
      const user = await identity.issueServiceUser('test-observer')
      const nc = await natsConnect({ servers: cluster.nodes.filter((n) => n.isRunning).map((n) => n.url), authenticator: jwtAuthenticator(user.jwt, user.seed) })
      try {
        return (await (await jetstreamManager(nc)).streams.info(SALES_STREAM)).cluster!.leader!
      } finally {
        await nc.close()
      }
    },
  }
}
