// Cluster figures (issue 14): 3 NATS nodes (JetStream R3, MQTT listeners),
// one durable PostgreSQL, and fleet-server replicas as processes (`npm
// start`'s program), first one, then two. Ingest runs the same load shapes as
// the embedded serverIngest, from the same raw load generator, its cabinets
// spread over the nodes' MQTT listeners with their user JWTs as passwords and
// the replies subscribed at QoS 0, as the edge agent does there. Every sale
// sent is counted back in PostgreSQL: a run that lost or doubled one says so.
// Then the reconnect storm: N cabinets (19,000 by default) connected to the
// cluster, all dropped at once and reconnected, with each node's and
// replica's RSS idle, held and after the storm.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { httpClient, pool, type Http } from '../simulators/src/fleet/provision.js'
import { NATS_SERVER_BIN, startFleetNats, type FleetNats } from '../test/helpers/nats.js'
import { runLoad } from './child.js'
import type { LoadResult } from './loadgen.js'
import { startBenchPostgres } from './pg.js'
import { rssMiB, startConnectLoad, startProgram, type Program } from './procs.js'

const ADMIN = 'bench-admin-token-0123456789'
const COUNTIES = ['341102', '341103', '341122', '341124', '341125', '341126', '341181', '341182']
/** Cabinets per CSV import request: well under the route's 16 MiB limit, and one transaction each. */
const IMPORT_CHUNK = 5_000
/** /proc/PID/stat counts CPU in clock ticks: USER_HZ, 100 on Linux (getconf CLK_TCK). */
const TICKS_PER_S = 100
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms))

export interface ClusterIngestShape {
  cabinets: number
  salesPerCabinet: number
  batchSize: number
  window: number
}

/**
 * The embedded serverIngest's loads (bench/run.ts): the same sales, batch
 * sizes and messages in flight (200 x 2 batched, 100 x 10 one-sale), but one
 * batch in flight per cabinet, as the edge agent sends, over more cabinets.
 * The work queue does not keep one cabinet's batches in order across
 * replicas: with 10 in flight per cabinet and 2 replicas they commit out of
 * order, and SALE_SEQ_GAP resends took a try from ~1,500 to 50 sales/s.
 */
export const CLUSTER_INGEST = {
  batched: { cabinets: 400, salesPerCabinet: 500, batchSize: 100, window: 1 },
  perMessage: { cabinets: 1000, salesPerCabinet: 200, batchSize: 1, window: 1 },
} as const satisfies Record<string, ClusterIngestShape>

/** user + system CPU of a process so far, ms, from /proc/PID/stat. */
function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name may hold spaces: fields are counted after its closing parenthesis.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(f[11]) + Number(f[12])) * 1000) / TICKS_PER_S
}

const round1 = (x: number) => +x.toFixed(1)

interface Cluster {
  nats: FleetNats
  db: pg.Pool
  replicas: Program[]
  http: Http
  addReplica(): Promise<void>
}

export async function clusterRecord(opts: { connections: number; ingestScale?: number; concurrency?: number; log: (s: string) => void }) {
  const { log } = opts
  const scale = opts.ingestScale ?? 1
  const dataDir = await mkdtemp(join(tmpdir(), 'bench-cluster-'))
  const server = await startBenchPostgres()
  let nats: FleetNats | null = null
  const replicas: Program[] = []
  const db = new pg.Pool({ connectionString: await server.newDatabase('cluster'), max: 2 })
  try {
    log('bench: cluster: 3 NATS nodes (JetStream R3) and PostgreSQL …')
    nats = await startFleetNats(3)
    const fleetNats = nats
    const cluster: Cluster = {
      nats: fleetNats,
      db,
      replicas,
      http: httpClient('http://127.0.0.1:1', ADMIN), // replaced once the first replica is up
      async addReplica() {
        const p = await startProgram('fleet-server/src/main.ts', [], {
          FLEET_DATA_DIR: await mkdtemp(join(dataDir, 'replica-')), FLEET_DATABASE_URL: db.options.connectionString!,
          FLEET_HTTP_PORT: '0', FLEET_MQTT_PORT: '0', FLEET_ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'warn', FLEET_LOG_REQUESTS: 'false',
          // Scheduled reports and backups run on the wall clock (hourly): off, so no figure depends on when the bench ran.
          FLEET_REPORTS_SCHEDULE: 'false', FLEET_BACKUP_SCHEDULE: 'false',
          ...fleetNats.env(),
        }, 90_000)
        replicas.push(p)
        this.http = httpClient(replicas.map((r) => `http://127.0.0.1:${String(r.ready.http)}`).join(','), ADMIN)
      },
    }
    const ingest: Record<string, { batched: IngestFigures | Failed; perMessage: IngestFigures | Failed }> = {}
    for (const n of [1, 2]) {
      log(`bench: cluster: ${n} fleet-server replica${n > 1 ? 's' : ''} …`)
      while (replicas.length < n) await cluster.addReplica()
      const shapes = Object.fromEntries(
        Object.entries(CLUSTER_INGEST).map(([k, s]) => [k, { ...s, salesPerCabinet: Math.max(s.batchSize, Math.round(s.salesPerCabinet / scale)) }]),
      ) as Record<keyof typeof CLUSTER_INGEST, ClusterIngestShape>
      log(`bench: cluster ingest, batches of 100, ${n} replica(s) …`)
      const batched = await clusterIngest(cluster, shapes.batched).catch(failedOn(fleetNats, replicas))
      log(`bench: cluster ingest, one sale per message, ${n} replica(s) …`)
      const perMessage = await clusterIngest(cluster, shapes.perMessage).catch(failedOn(fleetNats, replicas))
      ingest[`replicas${n}`] = { batched, perMessage }
    }
    log(`bench: cluster reconnect storm: ${opts.connections} cabinets …`)
    const reconnectStorm = await clusterStorm(cluster, opts.connections, opts.concurrency ?? 300, log).catch(failedOn(fleetNats, replicas))
    const runs = Object.values(ingest).flatMap((r) => [r.batched, r.perMessage])
    const isVerified = runs.every((r) => 'salesPerS' in r)
    return {
      setup:
        `${natsVersion()}, 3 nodes on loopback (JetStream R3 file storage, MQTT listeners, JWT operator mode), Debian PostgreSQL 15 with durable settings, fleet-server replicas as processes (node --import tsx fleet-server/src/main.ts) sharing the sales work queue; loadgen (raw mqtt-packet) in its own process, cabinets spread round-robin over the 3 MQTT listeners, each with its user JWT as password, replies subscribed at QoS 0; the embedded ingest's sales, batch sizes and messages in flight, one batch in flight per cabinet (batched: 400 cabinets x 500 sales in batches of 100; one sale per message: 1,000 cabinets x 200)` +
        (scale === 1 ? '' : ` (sales per cabinet divided by ${scale})`),
      ingest,
      /** Sent minus committed (distinct) rows, over every ingest run; null when a run failed before counting. */
      salesLost: isVerified ? runs.reduce((s, r) => s + (r as IngestFigures).lost, 0) : null,
      salesDuplicated: isVerified ? runs.reduce((s, r) => s + (r as IngestFigures).duplicated, 0) : null,
      reconnectStorm,
    }
  } finally {
    for (const r of replicas) await r.stop()
    await db.end()
    await nats?.cluster.stop()
    await server.close()
    await rm(dataDir, { recursive: true, force: true })
  }
}

interface Failed {
  status: 'failed'
  error: string
  /** The last warnings and errors each NATS node and replica logged, to say why. */
  natsLog: Record<string, string[]>
  replicasLog: string[][]
}
const failedOn = (nats: FleetNats, replicas: readonly Program[]) => (err: unknown): Failed => ({
  status: 'failed',
  error: (err as Error).message,
  // Health checks polled while the cluster formed are noise here.
  natsLog: Object.fromEntries(nats.cluster.nodes.map((n) => [n.name, n.log().split('\n').filter((l) => /\[(ERR|WRN)\]/.test(l) && !l.includes('Healthcheck')).slice(-8)])),
  replicasLog: replicas.map((r) => r.lines.slice(-8)),
})

interface IngestFigures extends ClusterIngestShape {
  replicas: number
  salesPerS: number
  messagesPerS: number
  sent: number
  /** Rows in PostgreSQL for these cabinets, and how many distinct sale ids among them. */
  stored: number
  lost: number
  duplicated: number
  /** Replies other than committed (the load generator counts them). */
  rejects: number
  /** Batches sent again after a SALE_SEQ_GAP reply: with 2 replicas a cabinet's batches in flight may commit out of order. */
  resent: number
  errors: string[]
  connectMs: number
  durationMs: number
  /** CPU per message (user + system over the load's whole run incl. connects): all replicas together, all NATS nodes together, the load generator's timed window. */
  cpuUsPerMessage: { replicas: number; nats: number; loadgen: number | null }
}

/** A cabinet's MQTT login as the API hands it out: on the cluster the password is its bearer user JWT. */
interface Credentials {
  username: string
  password: string
}

/** Creates `n` cabinets over the API in parallel; their logins. */
async function createCabinets(http: Http, n: number): Promise<Credentials[]> {
  return pool(Array.from({ length: n }, (_, i) => i), 16, async (i) => {
    const r = await http.call<{ cabinetId: string; mqtt: Credentials }>('POST', '/api/v1/cabinets', { countyCode: COUNTIES[i % COUNTIES.length] })
    if (r.status !== 201) throw new Error(`provisioning failed: ${r.status} ${JSON.stringify(r.body)}`)
    return r.body.mqtt
  })
}

function mqttServers(nats: FleetNats): Array<{ host: string; port: number }> {
  return nats.cluster.mqttUrls.map((u) => {
    const url = new URL(u)
    return { host: url.hostname, port: Number(url.port) }
  })
}

async function clusterIngest(c: Cluster, shape: ClusterIngestShape): Promise<IngestFigures> {
  const credentials = await createCabinets(c.http, shape.cabinets)
  const ids = credentials.map((x) => x.username)
  const pids = { replicas: c.replicas.map((r) => r.pid), nats: c.nats.cluster.nodes.map((n) => n.pid) }
  const cpu = (list: number[]) => list.reduce((s, pid) => s + procCpuMs(pid), 0)
  const replicas0 = cpu(pids.replicas)
  const nats0 = cpu(pids.nats)
  const [first] = mqttServers(c.nats)
  const r: LoadResult = await runLoad(
    { mode: 'sales', host: first!.host, port: first!.port, servers: mqttServers(c.nats), replyQos: 0, resendOnGap: true, credentials, salesPerClient: shape.salesPerCabinet, batchSize: shape.batchSize, window: shape.window },
    600_000,
  )
  const replicasCpuMs = cpu(pids.replicas) - replicas0
  const natsCpuMs = cpu(pids.nats) - nats0
  // Every reply said committed after the commit: what PostgreSQL holds now is the whole outcome.
  const { rows } = await c.db.query<{ stored: number; ids: number }>('SELECT count(*)::int AS stored, count(DISTINCT sale_id)::int AS ids FROM sales WHERE cabinet_id = ANY($1)', [ids])
  const { stored, ids: distinct } = rows[0]!
  const sent = shape.cabinets * shape.salesPerCabinet
  return {
    ...shape,
    replicas: c.replicas.length,
    salesPerS: Math.round(r.salesPerS),
    messagesPerS: Math.round(r.messagesPerS),
    sent,
    stored,
    lost: sent - distinct,
    duplicated: stored - distinct,
    rejects: r.rejects,
    resent: r.resent ?? 0,
    errors: r.errors,
    connectMs: Math.round(r.connectMs),
    durationMs: Math.round(r.durationMs),
    cpuUsPerMessage: {
      replicas: round1((replicasCpuMs * 1000) / r.messages),
      nats: round1((natsCpuMs * 1000) / r.messages),
      loadgen: r.cpuMs === undefined ? null : round1((r.cpuMs * 1000) / r.messages),
    },
  }
}

/** Cabinets created through the CSV import (generated ids), IMPORT_CHUNK per request; their logins. */
async function importCabinets(httpUrl: string, n: number): Promise<Credentials[]> {
  const out: Credentials[] = []
  for (let done = 0; done < n; done += IMPORT_CHUNK) {
    const rows = Array.from({ length: Math.min(IMPORT_CHUNK, n - done) }, (_, i) => COUNTIES[(done + i) % COUNTIES.length])
    const res = await fetch(`${httpUrl}/api/v1/cabinets/import`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'text/csv; charset=utf-8' },
      body: ['countyCode', ...rows].join('\n'),
    })
    const text = await res.text()
    if (res.status !== 201) throw new Error(`cabinet import failed: ${res.status} ${text.slice(0, 300)}`)
    const body = JSON.parse(text) as { cabinets: Array<{ mqtt: Credentials }> }
    out.push(...body.cabinets.map((x) => x.mqtt))
  }
  return out
}

async function clusterStorm(c: Cluster, n: number, concurrency: number, log: (s: string) => void) {
  const nodes = c.nats.cluster.nodes
  const rss = () => ({
    natsMiB: Object.fromEntries(nodes.map((node) => [node.name, round1(rssMiB(node.pid))])),
    replicasMiB: c.replicas.map((r) => round1(rssMiB(r.pid))),
  })
  const t0 = performance.now()
  // The import answers each cabinet's JWT: provisioning includes the signing.
  const credentials = await importCabinets(`http://127.0.0.1:${String(c.replicas[0]!.ready.http)}`, n)
  const provisionMs = Math.round(performance.now() - t0)
  await settle(1_000)
  const idle = rss()
  log(`bench: cluster: connecting ${n} cabinets over ${nodes.length} MQTT listeners (subscribed at QoS 0, as the edge agent) …`)
  const deadlineMs = 300_000 // ~650 connects/s on this box: 19,000 take ~30–60 s; room for a slow run
  const servers = mqttServers(c.nats)
  const { program: load, connected } = await startConnectLoad({
    mode: 'connect', host: servers[0]!.host, port: servers[0]!.port, servers, credentials, concurrency, deadlineMs, attemptTimeoutMs: 30_000, subscribeDown: true,
    // No cap on the cluster to refuse at: `extra` is never asked for.
    extra: credentials[0]!,
  })
  await settle(2_000)
  const held = rss()
  const connectionsPerNode = await nodeConnections(c.nats)
  log('bench: cluster reconnect storm: every connection dropped and re-established at once …')
  load.send('storm')
  const storm = await load.nextEvent(deadlineMs + 60_000)
  await settle(1_000)
  const afterStorm = rss()
  const connectionsPerNodeAfterStorm = await nodeConnections(c.nats)
  const isHealthy = await Promise.all(c.replicas.map(async (r) => (await fetch(`http://127.0.0.1:${String(r.ready.http)}/healthz`)).status === 200))
  await load.stop()
  return {
    cabinets: n,
    provisionMs,
    provisionedBy: `CSV import, ${IMPORT_CHUNK} rows per request, each cabinet's JWT signed by the replica in its answer`,
    concurrency,
    connected,
    connectionsPerNode,
    storm,
    connectionsPerNodeAfterStorm,
    replicasHealthyAfterStorm: isHealthy.every(Boolean),
    rss: { idle, held, afterStorm },
    natsMiBPer1000Held: round1(((sum(held.natsMiB) - sum(idle.natsMiB)) / n) * 1000),
    measuredAs: 'RSS = VmRSS from /proc/PID/status: idle after provisioning (the ingest runs before it), held 2 s after the connect phase, after the storm 1 s after it; client connections per node from each node\'s /varz (the replicas\' own NATS connections included)',
  }
}

const sum = (o: Record<string, number>) => Object.values(o).reduce((s, x) => s + x, 0)

/** Client connections each node reports (its MQTT cabinets and the replicas' NATS connections), from its monitoring /varz. */
async function nodeConnections(nats: FleetNats): Promise<Record<string, number | null>> {
  const out: Record<string, number | null> = {}
  for (const node of nats.cluster.nodes) {
    try {
      const v = (await (await fetch(`${node.monitorUrl}/varz`, { signal: AbortSignal.timeout(5_000) })).json()) as { connections: number }
      out[node.name] = v.connections
    } catch {
      out[node.name] = null
    }
  }
  return out
}

function natsVersion(): string {
  try {
    return execFileSync(NATS_SERVER_BIN!, ['--version'], { encoding: 'utf8' }).trim()
  } catch {
    return 'nats-server'
  }
}
