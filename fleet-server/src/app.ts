// buildFleet(): the fleet server as a handle — database, MQTT bus, sale
// ingest, HTTP API — wired from one frozen config. Never exits the process
// and reads no environment; main.ts does both.
import type { FastifyInstance } from 'fastify'
import { pino, type Logger } from 'pino'
import type { Plan } from '../../shared/src/index.js'
import { createAccessService, createAuthHook, createSqliteUserStore, ensureAdminToken, userRoutes } from './access/index.js'
import { startEmbeddedBus, startExternalBus, type BusSink, type MessageBus } from './broker/index.js'
import { cabinetRoutes, createCabinetService, createLiveness, createSqliteCabinetStore, type Liveness } from './cabinets/index.js'
import type { FleetConfig } from './config.js'
import { openDatabase, type Db } from './db/index.js'
import { createHttp } from './http/index.js'
import { createMetrics, metricsRoutes } from './metrics/index.js'
import { createSqlitePlanStore } from './rollout/index.js'
import { createSaleIngest, createSalesReader, createSqliteSalesStore, salesRoutes, type SaleIngest } from './sales/index.js'

export interface FleetDeps {
  /** Root logger; a pino logger at config.logLevel on stdout when absent. */
  readonly logger?: Logger
  /** Clock for timestamps and skew checks. */
  readonly now?: () => Date
}

export interface Fleet {
  /** e.g. http://127.0.0.1:41234 */
  readonly httpUrl: string
  /** Where cabinets connect: the embedded broker's mqtt://host:port, or FLEET_MQTT_URL. */
  readonly mqttUrl: string
  readonly httpPort: number
  /** Embedded broker port; null when attached to an external broker. */
  readonly mqttPort: number | null
  readonly http: FastifyInstance
  /** Bearer token of the built-in city administrator. */
  readonly adminToken: string
  /** Set only on the start that generated the admin token (main prints it once). */
  readonly adminTokenIssued: { readonly token: string; readonly file: string } | null
  readonly db: Db
  /** The rollout plan in force (the stored one). */
  readonly plan: Plan
  readonly config: FleetConfig
  /** Stops MQTT intake, commits and acks what is queued, closes HTTP and the database. Idempotent. */
  close(): Promise<void>
}

export async function buildFleet(config: FleetConfig, deps: FleetDeps = {}): Promise<Fleet> {
  const log = deps.logger ?? pino({ level: config.logLevel, redact: ['req.headers.authorization'] })
  const now = deps.now ?? (() => new Date())
  const db = openDatabase(config.dataDir, log.child({ component: 'db' }))
  // Undone in reverse if a later step of the start fails (e.g. the HTTP port is taken).
  const undo: Array<() => Promise<void> | void> = [() => void db.close()]
  const unwind = async (): Promise<void> => {
    for (const u of undo.reverse()) await u()
  }

  try {
    const plan = await createSqlitePlanStore(db, log.child({ component: 'rollout' })).activate(config.plan)

    const users = createSqliteUserStore(db)
    const admin = await ensureAdminToken(users, config.dataDir, config.adminToken, now, log.child({ component: 'access' }))
    const access = createAccessService({ store: users, plan: () => plan, now, log: log.child({ component: 'access' }) })

    let bus: MessageBus | null = null
    let ingest: SaleIngest | null = null
    let liveness: Liveness | null = null
    const metrics = createMetrics(() =>
      liveness && ingest
        ? { connectedCabinets: liveness.onlineCount, outboxLag: liveness.outboxLag, ingestQueuedBatches: ingest.queuedBatches }
        : null,
    )

    const salesStore = createSqliteSalesStore(db)
    const salesReader = createSalesReader(salesStore)
    const cabinetStore = createSqliteCabinetStore(db)
    const live = createLiveness({
      store: cabinetStore,
      tracksConnections: () => bus?.tracksConnections ?? true,
      now,
      log: log.child({ component: 'liveness' }),
      flushMs: config.presenceFlushMs,
    })
    liveness = live
    undo.push(() => live.close())
    const cabinets = createCabinetService({
      store: cabinetStore,
      sales: salesReader,
      liveness: live,
      plan: () => plan,
      disconnect: (id) => bus?.disconnect(id),
      now,
      log: log.child({ component: 'cabinets' }),
    })

    const sales = await createSaleIngest({
      store: salesStore,
      publish: (topic, payload) => bus?.publish(topic, payload, { qos: 1 }),
      now,
      log: log.child({ component: 'ingest' }),
      metrics: metrics.ingest,
      maxBatchesPerTick: config.ingest.maxBatchesPerTick,
      maxSalesPerTick: config.ingest.maxSalesPerTick,
      maxQueuedBytes: config.ingest.maxQueuedBytes,
    })
    ingest = sales
    undo.push(() => sales.close())

    const sink: BusSink = {
      message(msg, done) {
        live.seen(msg.cabinetId)
        switch (msg.kind) {
          case 'sales':
            return sales.submit(msg.cabinetId, msg.payload, done)
          case 'heartbeat':
            live.heartbeat(msg.cabinetId, msg.payload)
            break
          case 'presence':
            live.presence(msg.cabinetId, msg.payload)
            break
          case 'events':
            live.event(msg.cabinetId, msg.payload)
            break
        }
        done()
      },
      connected: (id) => live.connected(id),
      disconnected: (id) => live.disconnected(id),
      transportRefused: (reason) => metrics.transportRefused.inc({ reason }),
    }
    const busLog = log.child({ component: 'mqtt' })
    const started: MessageBus = config.mqtt.url
      ? await startExternalBus({ url: config.mqtt.url, username: config.mqtt.username, password: config.mqtt.password, log: busLog }, sink)
      : await startEmbeddedBus(
          {
            host: config.host,
            port: config.mqtt.port,
            maxConnections: config.mqtt.maxConnections,
            maxPacketBytes: config.mqtt.maxPacketBytes,
            credentials: cabinets.credentials,
            log: busLog,
          },
          sink,
        )
    bus = started
    undo.push(() => started.close())

    const http = await createHttp({ log, logRequests: config.logRequests })
    undo.push(() => http.close())
    await http.register(metricsRoutes(metrics.registry))
    await http.register(
      async (api) => {
        api.addHook('onRequest', createAuthHook(access))
        await api.register(userRoutes(access))
        await api.register(cabinetRoutes(cabinets))
        await api.register(salesRoutes(salesReader, cabinets.assertVisible))
      },
      { prefix: '/api/v1' },
    )
    await http.listen({ host: config.host, port: config.httpPort })
    const address = http.server.address()
    const httpPort = typeof address === 'object' && address ? address.port : config.httpPort
    log.info({ http: httpPort, mqtt: started.url, plan: plan.id }, 'fleet server started')

    let closing: Promise<void> | null = null
    return {
      httpUrl: `http://${urlHost(config.host)}:${httpPort}`,
      mqttUrl: started.url,
      httpPort,
      mqttPort: started.port,
      http,
      adminToken: admin.token,
      adminTokenIssued: admin.issued,
      db,
      plan,
      config,
      close() {
        closing ??= (async () => {
          // Intake stops first; what was already received is committed and
          // acknowledged while the broker is still up to carry the replies.
          log.info('fleet server closing')
          await started.quiesce()
          await http.close()
          log.debug('http closed')
          await sales.close()
          log.debug('ingest drained')
          await started.close()
          await live.close()
          db.close()
          log.info('fleet server closed')
        })()
        return closing
      },
    }
  } catch (err) {
    await unwind().catch((e: unknown) => log.error({ err: e }, 'cleanup after a failed start failed'))
    throw err
  }
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1'
  return host.includes(':') ? `[${host}]` : host
}
