// The local cluster for rehearsals (#14): NATS nodes, PostgreSQL and
// fleet-server replicas on loopback, started in that order; stop() ends them
// in the reverse order. A process that dies while the cluster runs is logged,
// never restarted and never a reason to stop: rehearsals kill things on purpose.
//
// With a data dir, every start finds what the last one left: the identity
// file, the admin token, the NATS server JWTs (resolver_preload must not
// change across starts: see nats-node.ts), the NATS stores, PostgreSQL's data
// and the ports, reused where still free. Without one, all of it lives in a
// temp dir removed by stop().
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { z } from 'zod'
import { createNatsIdentity, createNatsIdentityFile, parseNatsIdentityFile, type NatsServerJwts } from '../nats/index.js'
import { signalAll } from './children.js'
import type { ClusterConfig } from './config.js'
import { ClusterError } from './errors.js'
import { NATS_SERVER_BIN, startNatsNodes, warmUpMqtt, type NatsNodeProcess } from './nats-node.js'
import { findPostgresBinDir, initPostgresData, postgresRunAs, startPostgresServer, type PostgresServer } from './postgres.js'
import { startReplica, type Replica } from './replica.js'

const DATABASE = 'fleet'
const TOKEN_BYTES = 32 // 43 base64url characters
const CONNECTIONS_PER_REPLICA = 30 // two pools of 10 (database.ts, kysely.ts) and headroom

/** What `npm run cluster` prints once on stdout (issue 14). */
export interface ClusterReady {
  event: 'ready'
  http: string[]
  mqtt: string[]
  token: string
  pids: { nats: number[]; replicas: number[]; postgres: number }
}

export interface LocalCluster {
  readonly ready: ClusterReady
  /** Replicas (drained), then NATS nodes, then PostgreSQL; removes a temp dir. Idempotent. */
  stop(): Promise<void>
}

const Ports = z.strictObject({ client: z.number().int(), cluster: z.number().int(), mqtt: z.number().int(), http: z.number().int() })
/** DIR/cluster.json: the shape the data dir was made for, and the last ports. */
const State = z.strictObject({ v: z.literal(1), nats: z.union([z.literal(1), z.literal(3)]), natsPorts: z.array(Ports), postgresPort: z.number().int() })
type State = z.infer<typeof State>
const ServerJwts = z.strictObject({ operator: z.string(), systemAccountPublicKey: z.string(), systemAccount: z.string(), fleetAccountPublicKey: z.string(), fleetAccount: z.string() })

/**
 * Starts everything; resolves with the ready line. Aborting `signal` during
 * the start stops what is running and rejects.
 */
export async function startLocalCluster(config: ClusterConfig, log: Logger, signal: AbortSignal): Promise<LocalCluster> {
  if (!NATS_SERVER_BIN) throw new ClusterError('CLUSTER_NATS_MISSING', 'nats-server not found in /usr/sbin or /usr/bin')
  const pgBin = findPostgresBinDir()
  if (!pgBin) throw new ClusterError('CLUSTER_POSTGRES_MISSING', 'initdb and postgres not found (/usr/lib/postgresql/*/bin, pg_config --bindir, PATH)')
  const pgUser = postgresRunAs()

  const dir = config.dataDir ?? (await mkdtemp(join(tmpdir(), 'fupin-cluster-')))
  const isTemp = config.dataDir === null
  let isReady = false
  let isStopping = false
  let nodes: NatsNodeProcess[] = []
  let postgres: PostgresServer | undefined
  const replicas: Replica[] = []

  const stop = once(async () => {
    isStopping = true
    await Promise.all(replicas.map((r) => r.stop()))
    await Promise.all(nodes.map(async (n) => {
      await n.kill('SIGTERM')
      await n.closeLog()
    }))
    await postgres?.stop()
    if (isTemp) await rm(dir, { recursive: true, force: true })
    log.info({ dir, removed: isTemp }, 'cluster stopped')
  })
  const onAbort = () => {
    isStopping = true
    signalAll('SIGTERM')
  }
  signal.addEventListener('abort', onAbort, { once: true })
  const died = (what: string, pid: number | undefined, code: number | null, sig: NodeJS.Signals | null) => {
    // During the start a death fails the start instead (with the process's output).
    if (isReady && !isStopping) log.error({ process: what, pid, code, signal: sig }, 'cluster process exited; the rest keeps running')
  }

  try {
    await mkdir(dir, { recursive: true })
    const logDir = join(dir, 'logs')
    await mkdir(logDir, { recursive: true })
    // The postgres account must pass through DIR to reach DIR/postgres (mkdtemp makes 0700).
    if (pgUser) await chmod(dir, (await stat(dir)).mode | 0o111)
    const state = await readState(dir, config)
    const { identity, identityFile, jwts } = await natsIdentity(dir)
    const token = await adminToken(dir)
    log.info({ dir, logs: logDir, persistent: !isTemp }, 'starting cluster')

    const pgDir = join(dir, 'postgres')
    const startPg = async () => {
      await mkdir(pgDir, { recursive: true })
      const data = join(pgDir, 'data')
      if (!(await exists(join(data, 'PG_VERSION')))) await initPostgresData(pgBin, pgDir, pgUser)
      postgres = await startPostgresServer({
        bin: pgBin, user: pgUser, data, socketDir: pgDir, port: state?.postgresPort,
        maxConnections: 20 + config.replicas * CONNECTIONS_PER_REPLICA,
        // Rehearsals kill things: commit as production does.
        durable: true,
        logFile: join(logDir, 'postgres.log'),
        onExit: (code, sig) => died('postgres', postgres?.pid, code, sig),
      })
      await postgres.createDatabase(DATABASE, { ifMissing: true })
      log.info({ pid: postgres.pid, port: postgres.port, log: join(logDir, 'postgres.log') }, 'postgres ready')
    }
    const startNats = async () => {
      nodes = await startNatsNodes({
        count: config.nats, dir: join(dir, 'nats'), jwts, ports: state?.natsPorts, wipeOnRetry: isTemp, logDir,
        onExit: (n, code, sig) => died(`nats ${n.name}`, n.pid, code, sig),
      })
      log.info({ pids: nodes.map((n) => n.pid) }, 'nats nodes ready')
      await warmUpMqtt(nodes, identity)
      log.info('nats mqtt streams ready')
    }
    await settleAll([startPg(), startNats()])
    signal.throwIfAborted()
    await writeState(dir, { v: 1, nats: config.nats, natsPorts: nodes.map((n) => n.ports), postgresPort: postgres!.port })

    const replicaEnv = (name: string): Record<string, string> => ({
      ...config.childEnv,
      FLEET_DATABASE_URL: postgres!.url(DATABASE),
      FLEET_NATS_URL: nodes.map((n) => n.url).join(','),
      FLEET_NATS_IDENTITY: identityFile,
      FLEET_NATS_MQTT_URL: nodes.map((n) => n.mqttUrl).join(','),
      FLEET_HTTP_PORT: '0',
      FLEET_MQTT_PORT: '0',
      FLEET_ADMIN_TOKEN: token,
      FLEET_DATA_DIR: join(dir, 'replicas', name),
    })
    await settleAll(Array.from({ length: config.replicas }, async (_, i) => {
      const name = `r${i + 1}`
      await mkdir(join(dir, 'replicas', name), { recursive: true })
      const logFile = join(logDir, `replica-${name}.log`)
      const r = await startReplica({ name, env: replicaEnv(name), logFile, onExit: (rep, code, sig) => died(`replica ${rep.name}`, rep.pid, code, sig) })
      replicas[i] = r
      log.info({ replica: name, pid: r.pid, http: r.httpUrl, log: logFile }, 'replica ready')
    }))
    signal.throwIfAborted()
    isReady = true
    log.info({ nats: nodes.map((n) => ({ node: n.name, url: n.url, mqtt: n.mqttUrl, monitor: n.monitorUrl, log: join(logDir, `nats-${n.name}.log`) })), postgres: postgres!.url(DATABASE), identity: identityFile }, 'cluster ready')
    return {
      ready: {
        event: 'ready',
        http: replicas.map((r) => r.httpUrl),
        mqtt: nodes.map((n) => n.mqttUrl),
        token,
        pids: { nats: nodes.map((n) => n.pid), replicas: replicas.map((r) => r.pid), postgres: postgres!.pid },
      },
      stop,
    }
  } catch (err) {
    await stop()
    if (signal.aborted) throw signal.reason
    if (err instanceof ClusterError) throw err
    throw new ClusterError('CLUSTER_START_FAILED', (err as Error).message)
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}

async function readJson(path: string): Promise<unknown> {
  const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null
    throw err
  })
  if (text === null) return undefined
  try {
    return JSON.parse(text)
  } catch {
    throw new ClusterError('CLUSTER_DATA_INVALID', `${path}: not JSON`)
  }
}

async function readState(dir: string, config: ClusterConfig): Promise<State | undefined> {
  const json = await readJson(join(dir, 'cluster.json'))
  if (json === undefined) return undefined
  const r = State.safeParse(json)
  if (!r.success) throw new ClusterError('CLUSTER_DATA_INVALID', `${join(dir, 'cluster.json')}:\n${z.prettifyError(r.error)}`)
  // The JetStream stores know their peers: 3 stores cannot start as 1 node, nor 1 as 3.
  if (r.data.nats !== config.nats) throw new ClusterError('CLUSTER_DATA_INVALID', `${dir} holds a ${r.data.nats}-node NATS cluster; start it with --nats ${r.data.nats} (or use another --data dir)`)
  return r.data
}

async function writeState(dir: string, state: State): Promise<void> {
  await writeFile(join(dir, 'cluster.json'), `${JSON.stringify(state, null, 2)}\n`)
}

/**
 * DIR/identity.json (the seeds; made on the first start) and DIR/nats/server-jwts.json:
 * the server JWTs are signed once and kept, since a re-signed fleet account
 * JWT is newer than the resolver's copy and would drop its revocations.
 */
async function natsIdentity(dir: string) {
  const identityFile = join(dir, 'identity.json')
  const json = await readJson(identityFile)
  const file = json === undefined ? createNatsIdentityFile() : parseFileOrThrow(identityFile, json)
  if (json === undefined) await writeFile(identityFile, JSON.stringify(file, null, 2), { mode: 0o600 })
  const identity = createNatsIdentity(file)
  const jwtsFile = join(dir, 'nats', 'server-jwts.json')
  await mkdir(join(dir, 'nats'), { recursive: true })
  const saved = await readJson(jwtsFile)
  let jwts: NatsServerJwts
  if (saved === undefined) {
    jwts = await identity.serverJwts()
    await writeFile(jwtsFile, JSON.stringify(jwts, null, 2), { mode: 0o600 })
  } else {
    const r = ServerJwts.safeParse(saved)
    if (!r.success || r.data.fleetAccountPublicKey !== identity.fleetAccountPublicKey || r.data.systemAccountPublicKey !== identity.systemAccountPublicKey) {
      throw new ClusterError('CLUSTER_DATA_INVALID', `${jwtsFile} does not belong to ${identityFile}`)
    }
    jwts = r.data
  }
  return { identity, identityFile, jwts }
}

function parseFileOrThrow(path: string, json: unknown) {
  try {
    return parseNatsIdentityFile(json)
  } catch (err) {
    throw new ClusterError('CLUSTER_DATA_INVALID', `${path}: ${(err as Error).message}`)
  }
}

/** DIR/admin-token: random on the first start, the same on every later one. */
async function adminToken(dir: string): Promise<string> {
  const file = join(dir, 'admin-token')
  const kept = await readFile(file, 'utf8').catch(() => null)
  if (kept !== null) {
    const token = kept.trim()
    if (token.length < 32) throw new ClusterError('CLUSTER_DATA_INVALID', `${file}: an admin token of at least 32 characters`)
    return token
  }
  const token = randomBytes(TOKEN_BYTES).toString('base64url')
  await writeFile(file, `${token}\n`, { mode: 0o600 })
  return token
}

/** Like Promise.all, but waits for every start to settle: a failed one must not leave another still starting behind the teardown. */
async function settleAll(starts: Promise<void>[]): Promise<void> {
  const failed = (await Promise.allSettled(starts)).find((r) => r.status === 'rejected')
  if (failed) throw failed.reason
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | undefined
  return () => (p ??= fn())
}
