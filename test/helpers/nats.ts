// A real NATS cluster for tests (#14): 1 or 3 nodes of Debian's nats-server on
// 127.0.0.1 (fleet-server/src/cluster/nats-node.ts, which `npm run cluster`
// uses too), in one temp dir removed by stop(), with a fresh identity.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect as natsConnect, jwtAuthenticator } from '@nats-io/transport-node'
import { pino } from 'pino'
import { SALES_STREAM, untilClusterFormed } from '../../fleet-server/src/broker/nats.js'
import { NATS_SERVER_BIN, startNatsNodes, warmUpMqtt, type NatsNode } from '../../fleet-server/src/cluster/nats-node.js'
import { createNatsIdentity, createNatsIdentityFile, type NatsIdentity } from '../../fleet-server/src/nats/index.js'

export { connectMqtt, NATS_SERVER_BIN, RESOLVER_SYNC_INTERVAL_S, WARM_UP_CABINET_ID, type NatsNode } from '../../fleet-server/src/cluster/nats-node.js'

/**
 * NATS tests are skipped only on a machine without nats-server; in CI (which
 * installs it) a missing server fails them instead of passing by skipping.
 */
export const NO_NATS_SERVER = !NATS_SERVER_BIN && !process.env.CI

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

/**
 * nats-server 2.9.10 now and then leaves an account's MQTT session stream
 * missing on a fresh cluster: every connect to that node is refused with
 * "stream not found (10059)" for as long as it runs (seen in CI: 30 s, 5,224
 * attempts). A fresh cluster is the way out, so the warm-up gets this long on
 * one before the next is started.
 */
const WARM_UP_PER_CLUSTER_MS = 15_000
const CLUSTER_ATTEMPTS = 2

/** Starts the cluster and waits until every node is ready; the caller stops it (afterAll). */
export async function startNatsCluster(opts: NatsClusterOptions): Promise<NatsCluster> {
  if (!NATS_SERVER_BIN) throw new Error('nats-server is not installed (apt-get install nats-server; .ci/run does this)')
  for (let attempt = 1; ; attempt++) {
    try {
      return await startNatsClusterOnce(opts)
    } catch (err) {
      if (attempt >= CLUSTER_ATTEMPTS || !/no MQTT session on a fresh cluster/.test((err as Error).message)) throw err
    }
  }
}

async function startNatsClusterOnce(opts: NatsClusterOptions): Promise<NatsCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'fupin-nats-'))
  try {
    // The server JWTs are signed once here: every node of this cluster, and
    // every restart, gets the same resolver_preload.
    const nodes = await startNatsNodes({ count: opts.nodes ?? 1, dir, jwts: await opts.identity.serverJwts(), wipeOnRetry: true })
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
    if (opts.warmUpMqtt ?? true) await warmUpMqtt(nodes, opts.identity, WARM_UP_PER_CLUSTER_MS).catch(async (err: unknown) => {
      await cluster.stop()
      throw err
    })
    return cluster
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }
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

const quiet = pino({ level: 'silent' })

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
        // On a loaded machine (or just after a node died) the JetStream API may
        // not answer in time, or the stream may have no leader yet: ask again.
        return await untilClusterFormed(async () => {
          const leader = (await (await jetstreamManager(nc)).streams.info(SALES_STREAM)).cluster?.leader
          if (!leader) throw new Error('timeout: the sales stream has no leader yet')
          return leader
        }, quiet)
      } finally {
        await nc.close()
      }
    },
  }
}
