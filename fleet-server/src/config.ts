// Fleet server configuration: environment (and a few mirroring CLI flags),
// validated once, frozen, passed down. No other module reads process.env.
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import cron from 'node-cron'
import { z } from 'zod'
import { AppError, BUNDLED_PLANS, parsePlan, PlanInvalidError, type Plan } from '../../shared/src/index.js'
import type { DatabaseTarget } from './db/database.js'
import { DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from './broker/connection-guard.js'
import { DEFAULT_RATE_LIMIT } from './http/rate-limit.js'
import { parseNatsIdentityFile, type NatsIdentityFile } from './nats/identity-file.js'
import { REPORT_CRON } from './reports/schedule.js'

/** MQTT packets larger than this are cut off at the transport (socket destroyed). */
export const DEFAULT_MQTT_MAX_PACKET_BYTES = 1024 * 1024 // 1 MiB: 4x MAX_MESSAGE_BYTES, so "too large" still gets a reply
/** Cabinets the embedded broker serves at most (the rollout plan's scale, with room). */
export const DEFAULT_MQTT_MAX_CONNECTIONS = 19_000
/** File descriptors kept back for SQLite, HTTP and logs when sizing the MQTT cap. */
export const FD_HEADROOM = 500

const Port = z.coerce.number().int().min(0).max(65535)
const optionalString = z.string().min(1).optional()

/** Comma-separated URLs with one of `protocols`, each checked. */
const urlList = (protocols: RegExp, what: string) =>
  z
    .string()
    .transform((v) => v.split(',').map((u) => u.trim()))
    .pipe(z.array(z.url({ protocol: protocols, error: `${what}, comma-separated` })).min(1))

const Env = z.object({
  FLEET_DATA_DIR: z.string().min(1).default('./data'),
  FLEET_HOST: z.string().min(1).default('127.0.0.1'),
  FLEET_HTTP_PORT: Port.default(8080),
  FLEET_MQTT_PORT: Port.default(1883),
  /** The plain (unencrypted) MQTT listener; turn it off once every cabinet speaks mqtts. */
  FLEET_MQTT_PLAIN: z.stringbool().default(true),
  /** PEM files; both set: HTTPS on FLEET_HTTP_PORT and MQTT over TLS on FLEET_MQTTS_PORT. */
  FLEET_TLS_CERT: optionalString,
  FLEET_TLS_KEY: optionalString,
  FLEET_MQTTS_PORT: Port.default(8883),
  /** PEM CA bundle that signed an external broker's certificate (mqtts:// URLs); the system store otherwise. */
  FLEET_MQTT_CA: optionalString,
  /** PostgreSQL store (issue 13): read so that a deployment that sets it is refused, not silently put on SQLite. */
  FLEET_DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, error: 'a postgres:// URL' }).optional(),
  FLEET_MQTT_URL: z.url({ protocol: /^(mqtt|mqtts|tcp|tls|ws|wss)$/ }).optional(),
  FLEET_MQTT_USERNAME: optionalString,
  FLEET_MQTT_PASSWORD: optionalString,
  /**
   * Set: cabinets connect to a NATS cluster's MQTT listeners and sales reach
   * the server through a JetStream work queue (issue 14): its nodes' nats:// URLs.
   */
  FLEET_NATS_URL: urlList(/^nats$/, 'nats://HOST:PORT URLs').optional(),
  /** The NATS identity file (operator and account seeds, JSON): required with FLEET_NATS_URL. */
  FLEET_NATS_IDENTITY: optionalString,
  /** The cluster's MQTT listeners, as cabinets dial them (told to them at provisioning). */
  FLEET_NATS_MQTT_URL: urlList(/^(mqtt|mqtts|tcp|tls)$/, 'mqtt://HOST:PORT URLs').optional(),
  /** Copies JetStream keeps of the sales work queue; default: 3, or the number of URLs when fewer. */
  FLEET_NATS_STREAM_REPLICAS: z.coerce.number().int().min(1).max(5).optional(),
  FLEET_MQTT_MAX_CONNECTIONS: z.coerce.number().int().min(1).optional(),
  FLEET_MQTT_MAX_PACKET_BYTES: z.coerce.number().int().min(64 * 1024).max(256 * 1024 * 1024).default(DEFAULT_MQTT_MAX_PACKET_BYTES),
  FLEET_ADMIN_TOKEN: optionalString,
  FLEET_PLAN: z.string().min(1).default('chuzhou-2020'),
  PLATFORM_URL: z.url().optional(),
  PLATFORM_SECRET: optionalString,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Sale batches one group-commit transaction takes at most; bounds a tick's event-loop pause. */
  FLEET_INGEST_MAX_BATCHES_PER_TICK: z.coerce.number().int().min(1).max(100_000).default(1000),
  /** A tick stops taking batches once it holds this many sales (~1 s of work at most). */
  FLEET_INGEST_MAX_SALES_PER_TICK: z.coerce.number().int().min(1).max(10_000_000).default(50_000),
  /** Queued, not yet committed payload bytes above which the broker stops reading more (backpressure). */
  FLEET_INGEST_MAX_QUEUED_BYTES: z.coerce.number().int().min(1024).default(64 * 1024 * 1024),
  /** The V8 heap may grow to (1 + this/100) times what the last full GC kept; 0 (default) leaves V8's own factor (up to 4x). */
  FLEET_HEAP_GROWING_PERCENT: z.coerce.number().int().min(0).max(1000).default(0),
  /** How often lastSeenAt values from heartbeats are written to the database. */
  FLEET_PRESENCE_FLUSH_MS: z.coerce.number().int().min(10).max(3_600_000).default(5000),
  /** Days raw telemetry readings are kept (issue 16 §4); hourly rows outlive them. */
  FLEET_TELEMETRY_RAW_DAYS: z.coerce.number().int().min(1).max(366).default(7),
  /** Days hourly telemetry rows are kept. */
  FLEET_TELEMETRY_HOURLY_DAYS: z.coerce.number().int().min(1).max(3660).default(400),
  /** Log one JSON line per HTTP request (fastify's request logging). */
  FLEET_LOG_REQUESTS: z.stringbool().default(true),
  /** Generate the weekly, monthly and quarterly reports on the plan's schedule (on|off). */
  FLEET_REPORTS_SCHEDULE: z.stringbool().default(true),
  /**
   * When the schedule checks what is due (node-cron, Asia/Shanghai; a sixth
   * leading field is seconds). Hourly by default; tests of the schedule run it
   * every second.
   */
  FLEET_REPORTS_CRON: z.string().trim().refine((v) => cron.validate(v), { error: 'a node-cron expression, e.g. "0 * * * *"' }).default(REPORT_CRON),
  /**
   * Reverse proxies whose X-Forwarded-For names the client (comma-separated
   * addresses or CIDRs). Unset: the socket's peer is the client. Behind a
   * proxy without it, every login comes from the proxy's address and the
   * per-address login throttle would refuse everyone together.
   */
  FLEET_TRUST_PROXY: z
    .string()
    .transform((v) => v.split(',').map((x) => x.trim()).filter((x) => x !== ''))
    .pipe(z.array(z.union([z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()], { error: 'an IP address or CIDR range' })).min(1))
    .optional(),
  /** API requests one bearer token or session may make per window (a runaway script's bound, not a quota). */
  FLEET_RATE_LIMIT_PER_TOKEN: z.coerce.number().int().min(1).default(DEFAULT_RATE_LIMIT.perToken),
  /** API requests one address may make per window without credentials (logins, probes). */
  FLEET_RATE_LIMIT_PER_ADDRESS: z.coerce.number().int().min(1).default(DEFAULT_RATE_LIMIT.perAddress),
  FLEET_RATE_LIMIT_WINDOW_MS: z.coerce.number().int().min(1000).max(3_600_000).default(DEFAULT_RATE_LIMIT.windowMs),
  // Embedded broker limits against hostile clients (broker/connection-guard.ts has each default's reason).
  FLEET_MQTT_PRE_AUTH_MAX_PACKET_BYTES: z.coerce.number().int().min(512).max(1024 * 1024).default(DEFAULT_CONNECTION_LIMITS.preAuthMaxPacketBytes),
  FLEET_MQTT_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(500).max(120_000).default(DEFAULT_CONNECTION_LIMITS.connectTimeoutMs),
  FLEET_MQTT_MAX_UNAUTHENTICATED_PER_ADDRESS: z.coerce.number().int().min(1).default(DEFAULT_CONNECTION_LIMITS.maxUnauthenticatedPerAddress),
  FLEET_MQTT_MAX_FAILED_ATTEMPTS_PER_ADDRESS: z.coerce.number().int().min(1).default(DEFAULT_CONNECTION_LIMITS.maxFailedAttemptsPerAddress),
  FLEET_MQTT_FAILED_ATTEMPT_WINDOW_MS: z.coerce.number().int().min(1000).max(3_600_000).default(DEFAULT_CONNECTION_LIMITS.failedAttemptWindowMs),
  /** Session cookies always `Secure` (behind a TLS-terminating proxy); under FLEET_TLS_CERT they are anyway. */
  FLEET_SECURE_COOKIES: z.stringbool().default(false),
  // Issue 13 (backup): the daily online backup of the embedded SQLite store.
  /** Where backups are written; default <FLEET_DATA_DIR>/backups. */
  FLEET_BACKUP_DIR: optionalString,
  /** How many of the newest backups are kept (older ones go once a good new one exists). */
  FLEET_BACKUP_KEEP: z.coerce.number().int().min(1).max(10_000).default(7),
  /** Take the daily backup at 03:00 Asia/Shanghai (on|off). */
  FLEET_BACKUP_SCHEDULE: z.stringbool().default(true),
  /**
   * Issue 16 §2: `on` refuses sale batches of cabinets with no registered
   * signing key too (every cabinet enrolled); `off`: only enrolled cabinets
   * must sign, password-provisioned ones are accepted unsigned.
   */
  FLEET_REQUIRE_SIGNED_SALES: z.enum(['on', 'off'], { error: 'FLEET_REQUIRE_SIGNED_SALES: on or off' }).default('off'),
})
type Env = z.infer<typeof Env>

/** The server's certificate chain and private key, PEM text. */
export interface TlsFiles {
  readonly cert: string
  readonly key: string
}

export interface FleetConfig {
  /** Local files (admin token, backups, reports); the SQLite database too unless `database` is PostgreSQL. */
  readonly dataDir: string
  /** Where the fleet's records live: SQLite under dataDir (unset FLEET_DATABASE_URL) or PostgreSQL. */
  readonly database: DatabaseTarget
  readonly host: string
  readonly httpPort: number
  /** Set: HTTP serves HTTPS and the embedded broker listens for MQTT over TLS. */
  readonly tls: TlsFiles | null
  readonly mqtt: {
    /** Embedded aedes listen port (0 = any); unused with an external broker. */
    readonly port: number
    /** Whether the embedded broker opens its plain listener on `port`. */
    readonly plain: boolean
    /** Embedded MQTT-over-TLS port (0 = any); used only when `tls` is set. */
    readonly tlsPort: number
    /** PEM CA bundle trusted for an external mqtts:// broker; null = the system store. */
    readonly ca: string | null
    /** Set: attach to this external broker instead of the embedded aedes. */
    readonly url: string | null
    readonly username: string | null
    readonly password: string | null
    readonly maxConnections: number
    readonly maxPacketBytes: number
    /** Embedded broker only: caps before login and per remote address. */
    readonly connectionLimits: ConnectionLimits
  }
  /** Set: the NATS cluster carries the cabinets instead of an MQTT broker (broker/nats.ts). */
  readonly nats: {
    readonly servers: readonly string[]
    readonly mqttUrls: readonly string[]
    readonly identity: NatsIdentityFile
    readonly streamReplicas: number
  } | null
  readonly adminToken: string | null
  /** The plan FLEET_PLAN names; the one stored on first start wins later. */
  readonly plan: { readonly source: string; readonly plan: Plan }
  readonly platform: { readonly url: string | null; readonly secret: string | null }
  readonly logLevel: Env['LOG_LEVEL']
  readonly logRequests: boolean
  readonly ingest: { readonly maxBatchesPerTick: number; readonly maxSalesPerTick: number; readonly maxQueuedBytes: number }
  /** FLEET_REQUIRE_SIGNED_SALES=on: batches of cabinets without a registered key are refused. */
  readonly requireSignedSales: boolean
  readonly presenceFlushMs: number
  /** FLEET_HEAP_GROWING_PERCENT: applied by main.ts, the process's owner (0: V8's own). */
  readonly heapGrowingPercent: number
  /** Retention of telemetry: raw readings, then hourly rows (telemetry/maintenance.ts). */
  readonly telemetry: { readonly rawDays: number; readonly hourlyDays: number }
  /** isScheduled: reports are generated on the plan's schedule (reports/schedule.ts); cron: when it checks. */
  readonly reports: { readonly isScheduled: boolean; readonly cron: string }
  /** Proxies trusted for X-Forwarded-For; empty = none. */
  readonly trustProxy: readonly string[]
  readonly rateLimit: { readonly perToken: number; readonly perAddress: number; readonly windowMs: number }
  readonly secureCookies: boolean
  /** dir: absolute; keep: newest backups kept; isScheduled: the daily job runs (backup/schedule.ts). */
  readonly backup: { readonly dir: string; readonly keep: number; readonly isScheduled: boolean }
}

export interface SystemLimits {
  /** Soft RLIMIT_NOFILE of this process, null when unknown. */
  readonly nofileSoft: number | null
}

/** Reads the soft open-files limit from /proc (Linux); null elsewhere. */
export function readSystemLimits(): SystemLimits {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
    return { nofileSoft: m?.[1] && m[1] !== 'unlimited' ? Number(m[1]) : null }
  } catch {
    return { nofileSoft: null }
  }
}

function invalid(message: string, details?: Record<string, unknown>): AppError {
  return new AppError('CONFIG_INVALID', message, 400, details)
}

/**
 * Loads the plan FLEET_PLAN names: a bundled plan name, or a path to a JSON
 * file (validated with the same schema).
 */
function loadPlan(nameOrPath: string): { source: string; plan: Plan } {
  const bundled = BUNDLED_PLANS[nameOrPath]
  if (bundled) return { source: `bundled:${nameOrPath}`, plan: bundled }
  const path = resolve(nameOrPath)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    throw new AppError('PLAN_NOT_FOUND', `FLEET_PLAN=${nameOrPath} is neither a bundled plan (${Object.keys(BUNDLED_PLANS).join(', ')}) nor a readable file`, 400)
  }
  try {
    return { source: path, plan: parsePlan(JSON.parse(text), path) }
  } catch (err) {
    const detail = err instanceof PlanInvalidError ? err.message : `plan ${path} is not valid JSON`
    throw new AppError('PLAN_INVALID', detail, 400)
  }
}

/**
 * Validates the environment (CLI flags override it) into a frozen config.
 * Throws AppError CONFIG_INVALID / PLAN_NOT_FOUND / PLAN_INVALID; main exits 2 on those.
 */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  argv: readonly string[] = process.argv.slice(2),
  limits: SystemLimits = readSystemLimits(),
): FleetConfig {
  let values: Record<string, string | undefined>
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        'data-dir': { type: 'string' },
        host: { type: 'string' },
        'http-port': { type: 'string' },
        'mqtt-port': { type: 'string' },
        'mqtt-url': { type: 'string' },
        'mqtts-port': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        plan: { type: 'string' },
        'log-level': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }).values as Record<string, string | undefined>
  } catch (err) {
    throw invalid(`invalid command line: ${(err as Error).message}`)
  }
  const fromFlags: Record<string, string | undefined> = {
    FLEET_DATA_DIR: values['data-dir'],
    FLEET_HOST: values.host,
    FLEET_HTTP_PORT: values['http-port'],
    FLEET_MQTT_PORT: values['mqtt-port'],
    FLEET_MQTT_URL: values['mqtt-url'],
    FLEET_MQTTS_PORT: values['mqtts-port'],
    FLEET_TLS_CERT: values['tls-cert'],
    FLEET_TLS_KEY: values['tls-key'],
    FLEET_PLAN: values.plan,
    LOG_LEVEL: values['log-level'],
  }
  const merged: Record<string, string | undefined> = {}
  for (const key of Object.keys(Env.shape)) {
    // An empty variable counts as unset (`FLEET_MQTT_URL= npm start`).
    const v = fromFlags[key] ?? env[key]
    if (v !== undefined && v !== '') merged[key] = v
  }
  const r = Env.safeParse(merged)
  if (!r.success) throw invalid(`invalid configuration:\n${z.prettifyError(r.error)}`)
  const e = r.data

  if ((e.FLEET_MQTT_USERNAME || e.FLEET_MQTT_PASSWORD) && !e.FLEET_MQTT_URL) {
    throw invalid('FLEET_MQTT_USERNAME/FLEET_MQTT_PASSWORD are the login on an external broker; set FLEET_MQTT_URL too')
  }

  const tls = loadTls(e.FLEET_TLS_CERT, e.FLEET_TLS_KEY)
  if (e.FLEET_MQTT_CA && !e.FLEET_MQTT_URL) {
    throw invalid('FLEET_MQTT_CA is the CA of an external broker; set FLEET_MQTT_URL too (the embedded broker uses FLEET_TLS_CERT/FLEET_TLS_KEY)')
  }
  if (!e.FLEET_MQTT_URL && !e.FLEET_MQTT_PLAIN && !tls) {
    throw invalid('FLEET_MQTT_PLAIN=false leaves the embedded broker no listener; set FLEET_TLS_CERT and FLEET_TLS_KEY for MQTT over TLS')
  }
  const nats = e.FLEET_NATS_URL ? loadNats(e) : null
  if (!e.FLEET_NATS_URL && (e.FLEET_NATS_IDENTITY || e.FLEET_NATS_MQTT_URL || e.FLEET_NATS_STREAM_REPLICAS)) {
    throw invalid('FLEET_NATS_IDENTITY, FLEET_NATS_MQTT_URL and FLEET_NATS_STREAM_REPLICAS configure a NATS cluster; set FLEET_NATS_URL too')
  }
  const ca = e.FLEET_MQTT_CA ? readPem('FLEET_MQTT_CA', e.FLEET_MQTT_CA) : null
  if (ca !== null) parseCertificate('FLEET_MQTT_CA', e.FLEET_MQTT_CA!, ca)

  // Each MQTT connection is a descriptor; past the soft limit accept() fails
  // with EMFILE. Keep FD_HEADROOM back for the database, HTTP and logs.
  const fdCap = limits.nofileSoft === null ? DEFAULT_MQTT_MAX_CONNECTIONS : Math.max(1, limits.nofileSoft - FD_HEADROOM)
  const maxConnections = e.FLEET_MQTT_MAX_CONNECTIONS ?? Math.min(DEFAULT_MQTT_MAX_CONNECTIONS, fdCap)

  const dataDir = resolve(e.FLEET_DATA_DIR)
  const config: FleetConfig = {
    dataDir,
    database: Object.freeze(e.FLEET_DATABASE_URL ? { dialect: 'postgres' as const, url: e.FLEET_DATABASE_URL } : { dialect: 'sqlite' as const, dataDir }),
    host: e.FLEET_HOST,
    httpPort: e.FLEET_HTTP_PORT,
    tls,
    mqtt: Object.freeze({
      port: e.FLEET_MQTT_PORT,
      plain: e.FLEET_MQTT_PLAIN,
      tlsPort: e.FLEET_MQTTS_PORT,
      ca,
      url: e.FLEET_MQTT_URL ?? null,
      username: e.FLEET_MQTT_USERNAME ?? null,
      password: e.FLEET_MQTT_PASSWORD ?? null,
      maxConnections,
      maxPacketBytes: e.FLEET_MQTT_MAX_PACKET_BYTES,
      connectionLimits: Object.freeze({
        ...DEFAULT_CONNECTION_LIMITS,
        preAuthMaxPacketBytes: e.FLEET_MQTT_PRE_AUTH_MAX_PACKET_BYTES,
        connectTimeoutMs: e.FLEET_MQTT_CONNECT_TIMEOUT_MS,
        maxUnauthenticatedPerAddress: e.FLEET_MQTT_MAX_UNAUTHENTICATED_PER_ADDRESS,
        maxFailedAttemptsPerAddress: e.FLEET_MQTT_MAX_FAILED_ATTEMPTS_PER_ADDRESS,
        failedAttemptWindowMs: e.FLEET_MQTT_FAILED_ATTEMPT_WINDOW_MS,
      }),
    }),
    nats,
    adminToken: e.FLEET_ADMIN_TOKEN ?? null,
    plan: Object.freeze(loadPlan(e.FLEET_PLAN)),
    platform: Object.freeze({ url: e.PLATFORM_URL ?? null, secret: e.PLATFORM_SECRET ?? null }),
    logLevel: e.LOG_LEVEL,
    logRequests: e.FLEET_LOG_REQUESTS,
    ingest: Object.freeze({
      maxBatchesPerTick: e.FLEET_INGEST_MAX_BATCHES_PER_TICK,
      maxSalesPerTick: e.FLEET_INGEST_MAX_SALES_PER_TICK,
      maxQueuedBytes: e.FLEET_INGEST_MAX_QUEUED_BYTES,
    }),
    requireSignedSales: e.FLEET_REQUIRE_SIGNED_SALES === 'on',
    presenceFlushMs: e.FLEET_PRESENCE_FLUSH_MS,
    heapGrowingPercent: e.FLEET_HEAP_GROWING_PERCENT,
    telemetry: Object.freeze({ rawDays: e.FLEET_TELEMETRY_RAW_DAYS, hourlyDays: e.FLEET_TELEMETRY_HOURLY_DAYS }),
    reports: Object.freeze({ isScheduled: e.FLEET_REPORTS_SCHEDULE, cron: e.FLEET_REPORTS_CRON }),
    trustProxy: Object.freeze(e.FLEET_TRUST_PROXY ?? []),
    rateLimit: Object.freeze({ perToken: e.FLEET_RATE_LIMIT_PER_TOKEN, perAddress: e.FLEET_RATE_LIMIT_PER_ADDRESS, windowMs: e.FLEET_RATE_LIMIT_WINDOW_MS }),
    secureCookies: e.FLEET_SECURE_COOKIES,
    backup: Object.freeze({
      dir: resolve(e.FLEET_BACKUP_DIR ?? join(e.FLEET_DATA_DIR, 'backups')),
      keep: e.FLEET_BACKUP_KEEP,
      isScheduled: e.FLEET_BACKUP_SCHEDULE,
    }),
  }
  return Object.freeze(config)
}

function loadNats(e: Env): NonNullable<FleetConfig['nats']> {
  const servers = e.FLEET_NATS_URL!
  if (e.FLEET_MQTT_URL) throw invalid('FLEET_NATS_URL and FLEET_MQTT_URL are two ways to carry the cabinets; set one')
  if (!e.FLEET_NATS_IDENTITY) throw invalid('FLEET_NATS_URL needs FLEET_NATS_IDENTITY: the file with the NATS operator and account seeds')
  if (!e.FLEET_NATS_MQTT_URL) throw invalid('FLEET_NATS_URL needs FLEET_NATS_MQTT_URL: the cluster\'s MQTT listeners that cabinets dial')
  let identity: NatsIdentityFile
  try {
    identity = parseNatsIdentityFile(JSON.parse(readPem('FLEET_NATS_IDENTITY', e.FLEET_NATS_IDENTITY)))
  } catch (err) {
    if (err instanceof AppError) throw err
    throw invalid(`FLEET_NATS_IDENTITY=${e.FLEET_NATS_IDENTITY}: ${(err as Error).message}`)
  }
  return Object.freeze({
    servers: Object.freeze(servers),
    mqttUrls: Object.freeze(e.FLEET_NATS_MQTT_URL),
    identity,
    streamReplicas: e.FLEET_NATS_STREAM_REPLICAS ?? Math.min(3, servers.length),
  })
}

function readPem(variable: string, path: string): string {
  try {
    return readFileSync(resolve(path), 'utf8')
  } catch (err) {
    throw invalid(`${variable}=${path} is not readable: ${(err as Error).message}`)
  }
}

function parseCertificate(variable: string, path: string, pem: string): X509Certificate {
  try {
    return new X509Certificate(pem)
  } catch {
    throw invalid(`${variable}=${path} is not a PEM certificate`)
  }
}

/**
 * Reads and checks the server's certificate and key now, so a typo or a
 * mismatched pair stops the start with exit 2 instead of failing at the
 * first handshake.
 */
function loadTls(certFile: string | undefined, keyFile: string | undefined): TlsFiles | null {
  if (!certFile && !keyFile) return null
  if (!certFile || !keyFile) {
    throw invalid(`TLS needs both files: ${certFile ? 'FLEET_TLS_KEY' : 'FLEET_TLS_CERT'} is missing (FLEET_TLS_CERT and FLEET_TLS_KEY go together)`)
  }
  const cert = readPem('FLEET_TLS_CERT', certFile)
  const key = readPem('FLEET_TLS_KEY', keyFile)
  const x509 = parseCertificate('FLEET_TLS_CERT', certFile, cert)
  let privateKey
  try {
    privateKey = createPrivateKey(key)
  } catch {
    throw invalid(`FLEET_TLS_KEY=${keyFile} is not a PEM private key (an encrypted key is not supported)`)
  }
  if (!x509.checkPrivateKey(privateKey)) throw invalid(`FLEET_TLS_KEY=${keyFile} does not belong to the certificate in FLEET_TLS_CERT=${certFile}`)
  return Object.freeze({ cert, key })
}

/** Config errors main.ts turns into exit code 2. */
export function isConfigError(err: unknown): err is AppError {
  return err instanceof AppError && (err.code === 'CONFIG_INVALID' || err.code === 'PLAN_NOT_FOUND' || err.code === 'PLAN_INVALID')
}
