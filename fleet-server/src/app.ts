// buildFleet(): the fleet server as a handle — database, MQTT bus, sale
// ingest, HTTP API — wired from one frozen config. Never exits the process
// and reads no environment; main.ts does both.
import type { FastifyInstance } from 'fastify'
import { pino, type Logger } from 'pino'
import { usccDivision, type Plan } from '../../shared/src/index.js'
import { createAccessService, createAuthHook, createLoginThrottle, createUserStore, ensureAdminToken, sessionRoutes, userRoutes, type Principal } from './access/index.js'
import { alertRoutes, behindScheduleSource, certExpiringSource, complianceLowSource, createAlertService, createAlertStore, forwardingSource, offlineSource } from './alerts/index.js'
import { startEmbeddedBus, startExternalBus, type BusSink, type MessageBus } from './broker/index.js'
import { cabinetRoutes, createCabinetService, createCabinetStore, createLiveness, createSharedPresence, type Liveness } from './cabinets/index.js'
import { cabinetIds, cabinetOwners, cabinetsInScope } from './cabinets/forwarding-reads.js'
import type { FleetConfig } from './config.js'
import { openFleetDb, type FleetDb } from './db/database.js'
import { createLeader } from './db/leader.js'
import { createUpRouter, type FleetModule } from './router.js'
import { dashboardRoutes } from './dashboard/index.js'
import { createHttp } from './http/index.js'
import { certificationRoutes, createCatalogPublisher, createCatalogStore, createCertificationService } from './certification/index.js'
import { complianceRoutes, createComplianceService, createComplianceStore, withCertifiedTotals } from './compliance/index.js'
import {
  createForwardingService, createSender, createForwardingStore, createSyncMarks, DEFAULT_FORWARDING, forwardingRoutes, type ForwardingOptions, type ForwardingService,
} from './forwarding/index.js'
import { createMetrics, metricsRoutes } from './metrics/index.js'
import { createPlanStore, createRolloutService, createRolloutStore, rolloutRoutes } from './rollout/index.js'
import { createReportService, createReportStore, reportRoutes, startReportSchedule, type ReportSchedule } from './reports/index.js'
import {
  createSaleFlagService, createSaleFlagStore, createSaleIngest, createSalesReader, createSalesStore, saleFlagRoutes, salesRoutes, type SaleIngest,
} from './sales/index.js'
import { clockSkewSource, saleIdReusedSource } from './alerts/sale-flags-source.js'
import { chainHeads } from './sales/forwarding-reads.js'
import { backupRoutes, createBackupService, createCatchUp, startBackupSchedule, type BackupSchedule } from './backup/index.js'

export interface FleetDeps {
  /** Root logger; a pino logger at config.logLevel on stdout when absent. */
  readonly logger?: Logger
  /** Clock for timestamps and skew checks. */
  readonly now?: () => Date
  /** Forwarding timings (tests shorten them); DEFAULT_FORWARDING otherwise. */
  readonly forwarding?: Partial<ForwardingOptions>
  /**
   * Aborts a start that is waiting (for an external broker to be attached:
   * buildFleet never resolves before that). buildFleet then undoes what it
   * opened and rejects with the signal's reason. main.ts aborts it on SIGTERM.
   */
  readonly signal?: AbortSignal
}

export interface Fleet {
  /** e.g. http://127.0.0.1:41234 */
  readonly httpUrl: string
  /** Where cabinets connect: the embedded broker's mqtt://host:port (mqtts:// when only TLS listens), or FLEET_MQTT_URL. */
  readonly mqttUrl: string
  readonly httpPort: number
  /** Embedded broker's plain port; null when that listener is off or attached to an external broker. */
  readonly mqttPort: number | null
  /** Embedded broker's MQTT-over-TLS port; null without FLEET_TLS_CERT/KEY or with an external broker. */
  readonly mqttsPort: number | null
  readonly http: FastifyInstance
  /** Bearer token of the built-in city administrator. */
  readonly adminToken: string
  /** Set only on the start that generated the admin token (main prints it once). */
  readonly adminTokenIssued: { readonly token: string; readonly file: string } | null
  /** The fleet database (either engine). */
  readonly database: FleetDb
  /** The rollout plan in force (the stored one). */
  readonly plan: Plan
  readonly config: FleetConfig
  /** Stops MQTT intake, commits and acks what is queued, closes HTTP and the database. Idempotent. */
  close(): Promise<void>
}

export async function buildFleet(config: FleetConfig, deps: FleetDeps = {}): Promise<Fleet> {
  const log = deps.logger ?? pino({ level: config.logLevel, redact: ['req.headers.authorization'] })
  const now = deps.now ?? (() => new Date())
  const database = await openFleetDb(config.database, log.child({ component: 'db' }))
  // Every part started pushes its stop here, in start order; a stop is the
  // list run in reverse, both for a start that fails part-way (e.g. the HTTP
  // port is taken) and for close(). Parts are started in the order their
  // stops must run backwards: e.g. the broker is stopped after ingest has
  // drained (its replies need it), forwarding before HTTP (its aborted sends
  // release a run request HTTP would otherwise wait for).
  const undo: Array<() => Promise<void> | void> = [() => database.close()]
  const unwind = async (): Promise<void> => {
    for (const u of undo.reverse()) await u()
  }

  try {
    // Issue 13: work that must run once across replicas on one database (the
    // scheduled forwarding passes, alert evaluation, scheduled reports) runs in
    // the process holding this lock; on SQLite this process always holds it.
    const leader = createLeader(database, 'fleet-jobs', log)
    undo.push(() => leader.close())
    const isLeader = async (): Promise<boolean> => leader.isLeader()

    const plan = await createPlanStore(database, log.child({ component: 'rollout' })).activate(config.plan)

    const users = createUserStore(database)
    const admin = await ensureAdminToken(users, config.dataDir, config.adminToken, now, log.child({ component: 'access' }))
    const access = createAccessService({ store: users, plan: () => plan, now, log: log.child({ component: 'access' }), throttle: createLoginThrottle(database, now, log.child({ component: 'access' })) })

    let bus: MessageBus | null = null
    // The broker starts last (its sink needs every domain) but stops after them.
    undo.push(() => bus?.close())
    let ingest: SaleIngest | null = null
    let liveness: Liveness | null = null
    // connectedCabinets is this process's own broker sessions (each replica
    // reports its own; the fleet-wide count is the rollout's online).
    const metrics = createMetrics(() =>
      liveness && ingest
        ? { connectedCabinets: liveness.connectedHere, outboxLag: liveness.outboxLag, ingestQueuedBatches: ingest.queuedBatches }
        : null,
    )

    // Certified figures are written with the sales of each ingest tick (issue 3).
    const complianceStore = await createComplianceStore(database, { log: log.child({ component: 'compliance' }) })
    undo.push(() => complianceStore.close())
    // Forwarding is built further down; a tick can only commit once the broker is up, after it.
    let forwardingRef: ForwardingService | null = null
    const salesStore = createSalesStore(database)
    const salesReader = createSalesReader(salesStore)
    const cabinetStore = createCabinetStore(database)
    const live = createLiveness({
      store: cabinetStore,
      tracksConnections: () => bus?.tracksConnections ?? true,
      now,
      log: log.child({ component: 'liveness' }),
      flushMs: config.presenceFlushMs,
      // Replicas on one PostgreSQL share who is connected where; SQLite keeps it in memory.
      presence: createSharedPresence(database, { log: log.child({ component: 'presence' }) }),
    })
    liveness = live
    undo.push(() => live.close())
    const compliance = createComplianceService({ store: complianceStore, plan: () => plan })
    const cabinets = createCabinetService({
      store: cabinetStore,
      database,
      sales: withCertifiedTotals(salesReader, compliance),
      liveness: live,
      plan: () => plan,
      disconnect: (id) => bus?.disconnect(id),
      now,
      log: log.child({ component: 'cabinets' }),
    })
    undo.push(() => cabinets.close())

    const rolloutStore = createRolloutStore(database)
    const rollout = createRolloutService({ store: rolloutStore, plan: () => plan, liveness: live, now })
    const alerts = createAlertService({
      store: createAlertStore(database),
      isLeader,
      sources: [
        offlineSource({
          cabinets: async (countyCode) => [
            ...(await cabinetStore.listAll({ status: 'installed', ...(countyCode && { countyCode }) })),
            ...(await cabinetStore.listAll({ status: 'operating', ...(countyCode && { countyCode }) })),
          ],
          counties: () => plan.counties.map((c) => c.code),
          isOnline: (id) => live.isOnline(id),
          lastSeenAt: (id) => live.lastSeenAt(id),
        }),
        behindScheduleSource({ progress: () => rollout.progress(SYSTEM) }),
        // compliance_low and cert_expiring are added below, once their domains are up.
      ],
      now,
      log: log.child({ component: 'alerts' }),
      everyMs: ALERTS_EVERY_MS,
    })
    undo.push(() => alerts.close())

    const sales = await createSaleIngest({
      db: database,
      store: salesStore,
      // Certified figures commit with the sales of each tick, in its transaction.
      tickWriters: [(tx, agg) => complianceStore.recordTick(tx, agg)],
      committed: (agg) => forwardingRef?.salesCommitted(agg.days.values()),
      // Replies go at QoS 0: a lost reply costs only a resend, which is re-acked
      // as a replay, and skipping the PUBACK round trip and aedes' outgoing
      // store per reply measured ~1.6x the one-sale-per-message ingest rate.
      publish: (topic, payload) => bus?.publish(topic, payload, { qos: 0 }),
      now,
      log: log.child({ component: 'ingest' }),
      metrics: metrics.ingest,
      maxBatchesPerTick: config.ingest.maxBatchesPerTick,
      maxSalesPerTick: config.ingest.maxSalesPerTick,
      maxQueuedBytes: config.ingest.maxQueuedBytes,
      clockSample: (id, skewMs) => live.clockSample(id, skewMs, 'sale'),
    })
    ingest = sales
    undo.push(() => sales.close())

    // Issue 3: the catalog published to cabinets, and forwarding to the national platform.
    const catalogStore = createCatalogStore()
    const catalog = await createCatalogPublisher({ db: database, store: catalogStore, publish: (t, p) => bus?.publish(t, p, { qos: 1, retain: true }), now, log: log.child({ component: 'catalog' }) })
    undo.push(() => catalog.close())
    const fwd = { ...DEFAULT_FORWARDING, ...deps.forwarding }
    // Issue 12: flagged sales hold their periods until an official resolves them.
    const saleFlagStore = createSaleFlagStore(database)
    const saleFlags = createSaleFlagService({ store: saleFlagStore, now, log: log.child({ component: 'sale-flags' }), resolved: () => forwardingRef?.changed() })
    // Routes are registered below; HTTP listens last but closes before forwarding's stop.
    const http = await createHttp({ log, logRequests: config.logRequests, trustProxy: config.trustProxy, https: config.tls, rateLimit: config.rateLimit, secureCookies: config.secureCookies })
    undo.push(() => http.close())
    const forwardingStore = createForwardingStore(database)
    const forwarding = await createForwardingService({
      db: database,
      leader,
      store: forwardingStore,
      // The cabinets and sales tables are read through their owners' named queries.
      cabinets: {
        ids: () => cabinetIds(database.kysely),
        inScope: (scope) => cabinetsInScope(database.kysely, scope),
        owners: (ids) => cabinetOwners(database.kysely, ids),
      },
      figures: complianceStore,
      compliance,
      marks: createSyncMarks({ db: database, store: forwardingStore, chains: (range) => chainHeads(database.kysely, range), now }),
      sender: createSender({ url: config.platform.url, secret: config.platform.secret, ...fwd }, database, forwardingStore, now, log.child({ component: 'forwarding' })),
      plan: () => plan,
      now,
      log: log.child({ component: 'forwarding' }),
      platformConfigured: config.platform.url !== null,
      intervalMs: fwd.intervalMs,
      debounceMs: fwd.debounceMs,
      ...(fwd.sliceCabinets !== undefined && { sliceCabinets: fwd.sliceCabinets }),
      onCatalogVersion: (id, v) => catalog.reported(id, v),
      beforePass: () => void catalog.refresh().catch((err: unknown) => log.error({ err }, 'catalog refresh failed')),
      saleFlagHolds: (range) => saleFlags.holds(range),
    })
    forwardingRef = forwarding
    undo.push(() => forwarding.close())
    const certification = createCertificationService({
      db: database,
      store: catalogStore,
      now,
      log: log.child({ component: 'certification' }),
      certifiedChanged: (tx, ranges) => complianceStore.applyCatalogChange(tx, ranges.map((r) => r.sku)),
      changed: async () => {
        await catalog.refresh()
        forwarding.changed()
      },
    })

    alerts.addSource(complianceLowSource({
      figures: (from, to, county) => compliance.query(SYSTEM, { from, to, ...(county && { county }) }),
      counties: () => plan.counties.map((c) => c.code),
      operatorOf: async (id) => (await rolloutStore.ownerOf(id))?.operator ?? null,
    }))
    alerts.addSource(
      certExpiringSource({
        certificates: async (asOf) => (await certification.certificates({ asOf })).certificates,
        countyOf: (uscc) => {
          const division = usccDivision(uscc)
          return plan.counties.some((c) => c.code === division) ? division : null
        },
      }),
    )

    alerts.addSource(forwardingSource({ troubled: (n) => forwarding.troubled(n) }))
    alerts.addSource(saleIdReusedSource({ open: (county) => saleFlagStore.open(county), counties: () => plan.counties.map((c) => c.code) }))
    alerts.addSource(clockSkewSource({ skewed: () => live.skewedClocks(), ownerOf: (id) => rolloutStore.ownerOf(id) }))

    // Reports (报表): stored snapshots for officials, on request and on the plan's schedule.
    const reportLog = log.child({ component: 'reports' })
    const reports = createReportService({
      store: createReportStore(database),
      plan: () => plan,
      rollout,
      figures: complianceStore,
      compliance,
      forwarding,
      cabinets: (filter) => cabinetStore.listAll(filter),
      now,
      log: reportLog,
    })
    const reportSchedule: ReportSchedule | null = config.reports.isScheduled
      ? startReportSchedule({
          name: `reports@${config.dataDir}`,
          expression: config.reports.cron,
          // One line per run, stored or not: across replicas it shows which server ran it.
          run: () =>
            reports.runSchedule().then(
              (stored) => reportLog.info({ stored: stored.length }, 'scheduled reports run'),
              (err: unknown) => reportLog.error({ err }, 'scheduled reports failed; the next run retries'),
            ),
          log: reportLog,
          isLeader,
        })
      : null
    undo.push(() => reportSchedule?.close())

    // Issue 13: online backups of this database, on request and daily.
    const backupLog = log.child({ component: 'backup' })
    const backups = createBackupService({ database, dir: config.backup.dir, keep: config.backup.keep, now, log: backupLog })
    // No daily job on PostgreSQL: the service is off there (pg_dump, replication).
    const backupSchedule: BackupSchedule | null = config.backup.isScheduled && backups.available
      ? startBackupSchedule({ name: `backup@${config.dataDir}`, run: () => backups.runOnce('schedule').then(() => undefined, () => undefined), log: backupLog })
      : null
    undo.push(async () => {
      await backupSchedule?.close()
      await backups.close()
    })
    // After a restore: idle cabinets are asked to resend what the server no longer has.
    const catchUp = createCatchUp({
      committedSeq: async (id) => (await salesStore.chainHead(id))?.seq ?? 0,
      publish: (topic, payload) => bus?.publish(topic, Buffer.from(payload), { qos: 1 }),
      now,
      log: backupLog,
    })

    // The domains that read cabinets' up-messages, each with the kinds it handles.
    const modules: FleetModule[] = [
      { name: 'liveness', up: { any: (id) => live.seen(id), heartbeat: (id, hb) => live.heartbeat(id, hb), presence: (id, p) => live.presence(id, p), events: (id, p) => live.event(id, p) } },
      { name: 'forwarding', up: { heartbeat: (id, hb) => forwarding.heartbeat(id, hb) } },
      { name: 'catch-up', up: { heartbeat: (id, hb) => catchUp.heartbeat(id, hb) } },
      // An external broker's sessions are known only from presence: the catalog goes out on it.
      { name: 'catalog', up: { presence: (id) => void (bus && !bus.tracksConnections && catalog.publishTo(id)) } },
    ]
    const sink: BusSink = {
      message: createUpRouter({ modules, sales: (id, payload, done) => sales.submit(id, payload, done), log: log.child({ component: 'mqtt' }) }),
      connected: (id) => {
        live.connected(id)
        catchUp.forget(id)
        void catalog.publishTo(id)
      },
      disconnected: (id) => {
        live.disconnected(id)
        catchUp.forget(id)
      },
      transportRefused: (reason) => metrics.transportRefused.inc({ reason }),
    }
    const busLog = log.child({ component: 'mqtt' })
    const started: MessageBus = config.mqtt.url
      ? await startExternalBus(
          { url: config.mqtt.url, username: config.mqtt.username, password: config.mqtt.password, ca: config.mqtt.ca, log: busLog, ...(deps.signal && { signal: deps.signal }) },
          sink,
        )
      : await startEmbeddedBus(
          {
            host: config.host,
            port: config.mqtt.plain ? config.mqtt.port : null,
            tls: config.tls && { ...config.tls, port: config.mqtt.tlsPort },
            maxConnections: config.mqtt.maxConnections,
            maxPacketBytes: config.mqtt.maxPacketBytes,
            connectionLimits: config.mqtt.connectionLimits,
            // A TLS handshake is the first step of a login: bounded like a CONNECT.
            tlsHandshakeTimeoutMs: config.mqtt.connectionLimits.connectTimeoutMs,
            credentials: cabinets.credentials,
            log: busLog,
          },
          sink,
        )
    bus = started
    // The day may have changed which certificates are in force since the last start.
    await catalog.refresh()
    await http.register(metricsRoutes(metrics.registry))
    await http.register(dashboardRoutes())
    await http.register(
      async (api) => {
        api.addHook('onRequest', createAuthHook(access))
        await api.register(userRoutes(access))
        await api.register(sessionRoutes(access))
        await api.register(cabinetRoutes(cabinets))
        await api.register(rolloutRoutes(rollout))
        await api.register(alertRoutes(alerts))
        await api.register(salesRoutes(salesReader, cabinets.assertVisible))
        await api.register(saleFlagRoutes(saleFlags))
        await api.register(certificationRoutes(certification, catalog, cabinets.assertVisible))
        await api.register(complianceRoutes(compliance))
        await api.register(forwardingRoutes(forwarding))
        await api.register(reportRoutes(reports))
        await api.register(backupRoutes(backups))
      },
      { prefix: '/api/v1' },
    )
    await http.listen({ host: config.host, port: config.httpPort })
    const address = http.server.address()
    const httpPort = typeof address === 'object' && address ? address.port : config.httpPort
    log.info({ http: httpPort, https: config.tls !== null, mqtt: started.url, mqtts: started.tlsPort, plan: plan.id }, 'fleet server started')

    let closing: Promise<void> | null = null
    return {
      httpUrl: `${config.tls ? 'https' : 'http'}://${urlHost(config.host)}:${httpPort}`,
      mqttUrl: started.url,
      httpPort,
      mqttPort: started.port,
      mqttsPort: started.tlsPort,
      http,
      adminToken: admin.token,
      adminTokenIssued: admin.issued,
      database,
      plan,
      config,
      close() {
        closing ??= (async () => {
          // Intake stops first; what was already received is committed and
          // acknowledged while the broker is still up to carry the replies.
          log.info('fleet server closing')
          await started.quiesce()
          await unwind()
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

/** The server itself, for rules that look city-wide (alerts). */
const SYSTEM: Principal = { userId: 'system', username: 'system', role: 'admin', countyCode: null, operator: null }
const ALERTS_EVERY_MS = 5 * 60_000 // 5 min: "offline > 24 h" needs no finer grain

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1'
  return host.includes(':') ? `[${host}]` : host
}
