// buildFleet(): the fleet server as a handle — database, MQTT bus, sale
// ingest, HTTP API — wired from one frozen config. Never exits the process
// and reads no environment; main.ts does both. The composition root only
// wires the domain modules (modules.ts): open the database, build the
// modules with their dependencies, run them (the bus last), register HTTP,
// listen.
import type { FastifyInstance } from 'fastify'
import { pino, type Logger } from 'pino'
import { usccDivision, type Plan } from '../../shared/src/index.js'
import { createAccessService, createAuthHook, createLoginThrottle, createUserStore, ensureAdminToken, sessionRoutes, userRoutes, type Principal } from './access/index.js'
import { behindScheduleSource, certExpiringSource, complianceLowSource, forwardingSource, offlineSource } from './alerts/index.js'
import { alertsModule } from './alerts/module.js'
import { clockSkewSource, saleIdReusedSource, signatureInvalidSource } from './alerts/sale-flags-source.js'
import { tamperedCabinets } from './alerts/tampered-reads.js'
import { ledgerTamperedSource, telemetrySources } from './alerts/telemetry-sources.js'
import { backupModule } from './backup/module.js'
import { busModules } from './broker/module.js'
import { cabinetLogins, createCabinetStore, createEnrollmentStore, CREDENTIALS_CHANNEL } from './cabinets/index.js'
import { cabinetsModule } from './cabinets/module.js'
import { certificationWorkflowModule } from './certification/applications-module.js'
import { countyCatalogFigures } from './certification/index.js'
import { certificationModule } from './certification/module.js'
import { auditModule } from './audit/index.js'
import { commandsModule } from './commands/index.js'
import { withCertifiedTotals } from './compliance/index.js'
import { complianceModule } from './compliance/module.js'
import type { FleetConfig } from './config.js'
import { dashboardRoutes } from './dashboard/index.js'
import { createDisclosureService, disclosureRoutes } from './disclosure/index.js'
import { openFleetDb, type FleetDb } from './db/database.js'
import { forwardingModule } from './forwarding/module.js'
import type { ForwardingOptions } from './forwarding/index.js'
import { httpModule } from './http/module.js'
import { leaderModule } from './jobs/module.js'
import { createMetrics, metricsRoutes } from './metrics/index.js'
import { notificationsModule, type NotificationOptions } from './notifications/index.js'
import { overviewModule } from './overview/module.js'
import { startModules, type FleetModule, type RunningModules } from './modules.js'
import { reportsModule } from './reports/module.js'
import { createPlanStore } from './rollout/index.js'
import { rolloutModule } from './rollout/module.js'
import { createSalesReader, createSalesStore } from './sales/index.js'
import { ingestModule, saleFlagsModule } from './sales/module.js'
import { stockModule, stockSources } from './stock/index.js'
import { telemetryModule } from './telemetry/index.js'

export interface FleetDeps {
  /** Root logger; a pino logger at config.logLevel on stdout when absent. */
  readonly logger?: Logger
  /** Clock for timestamps and skew checks. */
  readonly now?: () => Date
  /** Forwarding timings (tests shorten them); DEFAULT_FORWARDING otherwise. */
  readonly forwarding?: Partial<ForwardingOptions>
  /** Notification timings (tests shorten them); DEFAULT_NOTIFICATIONS otherwise. */
  readonly notifications?: Partial<NotificationOptions>
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
  // The same clock in ms: per-message paths (ingest's arrival stamp, liveness'
  // last seen) read it, and the system clock needs no Date for that.
  const nowMs = deps.now === undefined ? Date.now : () => now().getTime()
  const database = await openFleetDb(config.database, log.child({ component: 'db' }))
  // The modules, once started; the database closes after them, last.
  let running: RunningModules | null = null
  const unwind = async (): Promise<void> => {
    await running?.stop()
    await database.close()
  }

  try {
    const plan = await createPlanStore(database, log.child({ component: 'rollout' })).activate(config.plan)

    const users = createUserStore(database)
    const admin = await ensureAdminToken(users, config.dataDir, config.adminToken, now, log.child({ component: 'access' }))
    const access = createAccessService({ store: users, plan: () => plan, now, log: log.child({ component: 'access' }), throttle: createLoginThrottle(database, now, log.child({ component: 'access' })) })

    // Modules, in start order; each stops after the ones started after it
    // (modules.ts), so the order carries the shutdown's constraints: the
    // broker's intake is quiesced first and the broker closed after every
    // domain that drains or publishes through it (ingest's replies), and
    // forwarding stops before HTTP (its aborted sends release a run request,
    // answered before HTTP's close cuts the open connections).
    const jobs = leaderModule({ database, log })
    const cabinetStore = createCabinetStore(database)
    const salesStore = createSalesStore(database)
    // Issue 16 §2: enrolled cabinets' keys, read by the ingest and the auditor's export.
    const enrollmentStore = createEnrollmentStore(database)
    const salesReader = createSalesReader(salesStore)
    const buses = busModules({
      config,
      credentials: () => cabinets.service().credentials,
      refused: (reason) => metrics.transportRefused.inc({ reason }),
      log: log.child({ component: 'mqtt' }),
      ...(deps.signal && { signal: deps.signal }),
    })
    // connectedCabinets is this process's own broker sessions (each replica
    // reports its own; the fleet-wide count is the rollout's online).
    const metrics = createMetrics(() => {
      const ingest = sales.ingest()
      return ingest ? { connectedCabinets: cabinets.liveness().connectedHere, outboxLag: cabinets.liveness().outboxLag, ingestQueuedBatches: ingest.queuedBatches } : null
    })
    // Certified figures are written with the sales of each ingest tick (issue 3).
    const compliance = complianceModule(database, () => plan, log)
    const cabinets = cabinetsModule({
      database,
      store: cabinetStore,
      sales: () => withCertifiedTotals(salesReader, compliance.service()),
      plan: () => plan,
      tracksConnections: () => buses.bus()?.tracksConnections ?? true,
      disconnect: (id) => buses.bus()?.disconnect(id),
      logins: cabinetLogins(buses.bus),
      servers: () => config.nats?.mqttUrls ?? (config.mqtt.url ? [config.mqtt.url] : []),
      presenceFlushMs: config.presenceFlushMs,
      now,
      nowMs,
      log,
    })
    const rollout = rolloutModule({ database, plan: () => plan, liveness: () => cabinets.liveness(), now })
    // The sale ingest: ack only after commit (sales/ingest.ts).
    const sales = ingestModule({
      database,
      store: salesStore,
      reader: salesReader,
      assertVisible: () => cabinets.service().assertVisible,
      // Certified figures commit with the sales of each tick, in its transaction
      // (PostgreSQL), or with the fold of the tick's sales (SQLite).
      tickWriters: () => {
        const figures = compliance.store()
        return [(tx, agg) => figures.recordTick(tx, agg)]
      },
      foldWriters: () => {
        const figures = compliance.store()
        return [(agg) => figures.recordFolded(agg)]
      },
      // A lazy iterable: the tick's aggregates are computed only if forwarding
      // reads them (a period held open), not for every tick.
      committed: (agg) => forwarding.service().salesCommitted({ [Symbol.iterator]: () => agg.days.values() }),
      // Replies go at QoS 0: a lost reply costs only a resend, which is re-acked
      // as a replay, and skipping the PUBACK round trip and aedes' outgoing
      // store per reply measured ~1.6x the one-sale-per-message ingest rate.
      publish: (topic, payload) => buses.bus()?.publish(topic, payload, { qos: 0 }),
      clockSample: (id, skewMs) => cabinets.liveness().clockSample(id, skewMs, 'sale'),
      nowMs,
      limits: config.ingest,
      signingKeys: { all: () => enrollmentStore.publicKeys(), one: (id) => enrollmentStore.publicKey(id) },
      keysChannel: CREDENTIALS_CHANNEL,
      requireSigned: config.requireSignedSales,
      metrics: metrics.ingest,
      now,
      log,
    })
    // Issue 3: the catalog published to cabinets, and forwarding to the national platform.
    const certification = certificationModule({
      database,
      bus: buses.bus,
      certifiedChanged: (tx, ranges) => compliance.store().applyCatalogChange(tx, ranges.map((r) => r.sku)),
      changed: () => forwarding.service().changed(),
      assertVisible: (p, id) => cabinets.service().assertVisible(p, id),
      counties: () => plan.counties.map((c) => c.code),
      now,
      log,
    })
    // Issue 15: applications → review → 公示 → certificates, through the catalog above.
    const certWorkflow = certificationWorkflowModule({
      database,
      catalog: () => certification.service(),
      policy: () => plan.certification,
      isLeader: jobs.isLeader,
      onLeading: (fn) => jobs.leader().onChange(fn),
      taskName: `certification@${config.dataDir}`,
      now,
      log,
    })
    // Issue 12: flagged sales hold their periods until an official resolves them.
    const saleFlags = saleFlagsModule({ database, resolved: () => forwarding.service().changed(), now, log })
    const http = httpModule({ log, logRequests: config.logRequests, trustProxy: config.trustProxy, https: config.tls, rateLimit: config.rateLimit, secureCookies: config.secureCookies })
    const forwarding = forwardingModule({
      database,
      leader: jobs.leader,
      platform: config.platform,
      ...(deps.forwarding && { options: deps.forwarding }),
      figures: () => compliance.store(),
      compliance: () => compliance.service(),
      onCatalogVersion: (id, v) => certification.catalog().reported(id, v),
      beforePass: () => void certification.catalog().refresh().catch((err: unknown) => log.error({ err }, 'catalog refresh failed')),
      saleFlagHolds: (range) => saleFlags.service.holds(range),
      plan: () => plan,
      now,
      log,
    })
    // Issue 16 §4: cabinet telemetry, read by the alert rules below.
    const telemetry = telemetryModule({
      database,
      rules: () => plan.alertRules,
      retention: config.telemetry,
      assertVisible: (p, id) => cabinets.service().assertVisible(p, id),
      isLeader: jobs.isLeader,
      taskName: `telemetry@${config.dataDir}`,
      now,
      log,
    })
    // Issue 16 §3: planograms, the cabinets' stock reports, restocks and the pick list.
    const stock = stockModule({
      database,
      commands: () => commands.service(),
      countyName: (code) => plan.counties.find((c) => c.code === code)?.name ?? code,
      now,
      log,
    })
    // Issue 16 §6: webhook notifications of alerts; its outbox rows are written in the alerts' transactions.
    const notifications = notificationsModule({
      database,
      isLeader: jobs.isLeader,
      countyName: (code) => plan.counties.find((c) => c.code === code)?.name ?? null,
      ...(deps.notifications && { options: deps.notifications }),
      now,
      log,
    })
    const alerts = alertsModule({
      database,
      isLeader: jobs.isLeader,
      listeners: () => [notifications.listener()],
      sources: () => {
        const live = cabinets.liveness()
        return [
          offlineSource({
            cabinets: (countyCode) => cabinetStore.installed(countyCode),
            counties: () => plan.counties.map((c) => c.code),
            isOnline: (id) => live.isOnline(id),
            lastSeenAt: (id) => live.lastSeenAt(id),
          }),
          behindScheduleSource({ progress: () => rollout.service().progress(SYSTEM) }),
          complianceLowSource({
            figures: (from, to, county) => compliance.service().query(SYSTEM, { from, to, ...(county && { county }) }),
            counties: () => plan.counties.map((c) => c.code),
            operatorOf: async (id) => (await rollout.store.ownerOf(id))?.operator ?? null,
          }),
          certExpiringSource({
            certificates: async (asOf) => (await certification.service().certificates({ asOf })).certificates,
            countyOf: (uscc) => {
              const division = usccDivision(uscc)
              return plan.counties.some((c) => c.code === division) ? division : null
            },
          }),
          forwardingSource({ troubled: (n) => forwarding.service().troubled(n) }),
          saleIdReusedSource({ open: (county) => saleFlags.store.open(county), counties: () => plan.counties.map((c) => c.code) }),
          clockSkewSource({ skewed: () => live.skewedClocks(), ownerOf: (id) => rollout.store.ownerOf(id) }),
          signatureInvalidSource({ flagged: (since) => salesStore.signatureFlags(since), ownerOf: (id) => rollout.store.ownerOf(id) }),
          ...stockSources({ stock: () => stock.service(), counties: () => plan.counties.map((c) => c.code) }),
          ...telemetrySources({ latest: (county) => telemetry.store().latestOf(county), counties: () => plan.counties.map((c) => c.code), rules: () => plan.alertRules }),
          ledgerTamperedSource({ tampered: (county) => tamperedCabinets(database, county), counties: () => plan.counties.map((c) => c.code) }),
        ]
      },
      now,
      log,
    })
    // Issue 15: the home page's figures per role, read through the domains above.
    const overview = overviewModule(() => ({
      plan: () => plan,
      figures: compliance.store(),
      compliance: compliance.service(),
      forwarding: forwarding.service(),
      rollout: rollout.service(),
      certifiedProducts: async (date) => {
        const counts = new Map<string, number>()
        for (const p of (await certification.service().products(date)).products) {
          if (!p.isCertified) continue
          // A product's county is its supplier's (the division in its 统一社会信用代码).
          const division = usccDivision(p.supplierUscc)
          counts.set(division, (counts.get(division) ?? 0) + 1)
        }
        return counts
      },
      cabinets: (filter) => cabinetStore.listAll(filter),
      now,
    }))
    // Reports (报表): stored snapshots for officials, on request and on the plan's schedule.
    const reports = reportsModule({
      database,
      sources: () => ({
        plan: () => plan,
        rollout: rollout.service(),
        figures: compliance.store(),
        compliance: compliance.service(),
        forwarding: forwarding.service(),
        cabinets: (filter) => cabinetStore.listAll(filter),
        targets: (viewer, asOf) => overview.service().targets(viewer, asOf),
        catalog: (asOf, withinDays) =>
          countyCatalogFigures(
            {
              products: async (date) => (await certification.service().products(date)).products,
              expiring: (date, days) => certification.service().expiring(date, days),
              inPublicity: async () => (await certWorkflow.service().publicity(SYSTEM, {})).notices,
              countyOf: usccDivision,
            },
            asOf,
            withinDays,
          ),
      }),
      schedule: config.reports,
      taskName: `reports@${config.dataDir}`,
      isLeader: jobs.isLeader,
      now,
      log,
    })
    // Issue 13: online backups of this database, on request and daily.
    const backup = backupModule({
      database,
      backup: config.backup,
      taskName: `backup@${config.dataDir}`,
      committedSeq: async (id) => (await salesStore.chainHead(id))?.seq ?? 0,
      bus: buses.bus,
      now,
      log,
    })
    // Issue 16: operators' remote commands to cabinets.
    const commands = commandsModule({ database, bus: buses.bus, now, log })
    // Issue 16 §2: the auditor's monthly export of a cabinet's signed records.
    const audit = auditModule({ sales: salesStore, keyOf: (id) => enrollmentStore.keyOf(id), assertVisible: () => cabinets.service().assertVisible, now })
    const modules: FleetModule[] = [jobs, buses.broker, compliance, cabinets, rollout, sales, certification, saleFlags, http, forwarding, certWorkflow, telemetry, stock, notifications, alerts, overview, reports, backup, commands, audit]
    // The broker starts last (its sink routes to every module) and its intake is the first to stop.
    running = await startModules([...modules, buses.intake(modules)], log)
    const bus = buses.started()

    // The day may have changed which certificates are in force since the last start.
    await certification.catalog().refresh()
    const server = http.http()
    // Issue 15: the public disclosure page and its one API, when the plan's policy asks.
    const disclosure = createDisclosureService({
      plan: () => plan,
      held: async () => (await forwarding.service().status()).held,
      cabinet: (id) => cabinetStore.get(id),
      thresholdBp: () => compliance.service().threshold().bp,
      now,
    })
    await server.register(metricsRoutes(metrics.registry))
    await server.register(dashboardRoutes({ publicDisclosure: disclosure.isOn }))
    await server.register(
      async (api) => {
        api.addHook('onRequest', createAuthHook(access))
        await api.register(userRoutes(access))
        await api.register(sessionRoutes(access))
        await api.register(disclosureRoutes(disclosure))
        for (const m of modules) if (m.routes) await api.register(m.routes())
      },
      { prefix: '/api/v1' },
    )
    await server.listen({ host: config.host, port: config.httpPort })
    const address = server.server.address()
    const httpPort = typeof address === 'object' && address ? address.port : config.httpPort
    log.info({ http: httpPort, https: config.tls !== null, mqtt: bus.url, mqtts: bus.tlsPort, plan: plan.id }, 'fleet server started')

    let closing: Promise<void> | null = null
    return {
      httpUrl: `${config.tls ? 'https' : 'http'}://${urlHost(config.host)}:${httpPort}`,
      mqttUrl: bus.url,
      httpPort,
      mqttPort: bus.port,
      mqttsPort: bus.tlsPort,
      http: server,
      adminToken: admin.token,
      adminTokenIssued: admin.issued,
      database,
      plan,
      config,
      close() {
        closing ??= (async () => {
          log.info('fleet server closing')
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

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1'
  return host.includes(':') ? `[${host}]` : host
}
