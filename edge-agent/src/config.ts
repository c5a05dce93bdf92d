// Edge agent configuration: flags over EDGE_* environment variables, validated
// once with zod and frozen. Reads only the env and argv it is given, and the CA
// file they name (read once here, so a bad path fails the start, not a connect),
// and the signing key an enrolled board keeps in its data directory.
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { z } from 'zod'
import { AppError, CabinetId, MAX_BATCH_SALES } from '../../shared/src/edge.js'
import { readCredentials, SIGNING_KEY_FILE } from './enroll.js'

export const LogLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
export type LogLevel = z.infer<typeof LogLevel>

const int = (min: number, max: number) => z.number().int().min(min).max(max)

const ServerUrl = z.url({ protocol: /^(mqtts?|tcp|tls|wss?)$/, error: 'server: an mqtt://HOST:PORT URL (or several, comma-separated)' })
/** Splits `--server a,b,c` (blanks around commas ignored). */
function serverList(value: string): string[] {
  return value.split(',').map((s) => s.trim())
}
/** One broker URL, or several comma-separated; each checked on its own. */
const ServerList = z.string().superRefine((value, ctx) => {
  const urls = serverList(value)
  urls.forEach((url, i) => {
    const r = ServerUrl.safeParse(url)
    if (!r.success) ctx.addIssue({ code: 'custom', message: urls.length > 1 ? `server ${i + 1} of ${urls.length}: ${r.error.issues[0]!.message}` : r.error.issues[0]!.message })
  })
  if (new Set(urls).size !== urls.length) ctx.addIssue({ code: 'custom', message: 'server: the same URL is listed twice' })
})

/** What a program (the CLI, a simulator, a test) may set; everything but cabinetId and dataDir has a default. */
export const AgentOptions = z
  .strictObject({
    cabinetId: CabinetId,
    /** Directory holding ledger.db; created when missing. */
    dataDir: z.string().min(1, 'dataDir: a directory for ledger.db'),
    /**
     * The fleet's broker (default MQTT port 1883), or several of them
     * comma-separated (the nodes of a broker cluster): the agent fails over
     * between them (sync/servers.ts).
     */
    serverUrl: ServerList.default('mqtt://127.0.0.1:1883'),
    /**
     * PEM file of the CA(s) that signed the server's certificate, for an
     * mqtts:// (or tls://, wss://) server; without it the system store is used.
     * The certificate and its host name are always verified.
     */
    caFile: z.string().min(1).optional(),
    /** Defaults to the cabinet id, which is what the fleet server issues. */
    username: z.string().min(1).optional(),
    password: z.string().optional(),
    /** Local HTTP API port on 127.0.0.1; 0 = any free port; null = no HTTP API (simulated fleets). */
    apiPort: int(0, 65535).nullable().default(null),
    logLevel: LogLevel.default('info'),
    heartbeatIntervalMs: int(100, 3_600_000).default(30_000), // 30 s, protocol.md "Liveness"
    ackTimeoutMs: int(50, 600_000).default(10_000), // 10 s without a reply → resend
    /** Sales per batch; a batch is also kept under MAX_MESSAGE_BYTES. */
    batchMaxSales: int(1, MAX_BATCH_SALES).default(MAX_BATCH_SALES),
    /** Bounds of the jittered exponential backoff for reconnects and resends. */
    backoffMinMs: int(10, 600_000).default(500),
    backoffMaxMs: int(10, 3_600_000).default(30_000), // also the wait after a non-gap reject
    /** Telemetry publish interval (issue 16 §4): 60 s; a door or fault change publishes at once. */
    telemetryIntervalMs: int(100, 3_600_000).default(60_000),
    /** The cabinet keeps chilled goods: its temperature is watched (the `temperature_high` alert). */
    chilled: z.union([z.boolean(), z.stringbool()]).default(false),
    /** Test only: caps the ledger at this many pages (PRAGMA max_page_count) to provoke SQLITE_FULL. */
    ledgerMaxPages: int(1, 2 ** 31 - 1).optional(),
  })
  .refine((c) => c.backoffMinMs <= c.backoffMaxMs, { path: ['backoffMaxMs'], message: 'backoffMaxMs must be >= backoffMinMs' })
  .refine((c) => c.caFile === undefined || serverList(c.serverUrl).every(isTlsUrl), { path: ['caFile'], message: 'a CA file needs TLS server URLs (mqtts://HOST:PORT)' })

function isTlsUrl(url: string): boolean {
  return /^(mqtts|tls|wss):/.test(url)
}

export type AgentOptions = z.input<typeof AgentOptions>

export interface AgentConfig {
  readonly cabinetId: string
  readonly dataDir: string
  /** The broker URLs, in the order given (at least one). */
  readonly servers: readonly string[]
  /** PEM text of --ca; null = the system store (or a plain mqtt:// server). */
  readonly ca: string | null
  readonly username: string
  readonly password: string | undefined
  readonly apiPort: number | null
  readonly logLevel: LogLevel
  readonly heartbeatIntervalMs: number
  readonly ackTimeoutMs: number
  readonly batchMaxSales: number
  readonly backoffMinMs: number
  readonly backoffMaxMs: number
  readonly ledgerMaxPages: number | undefined
  /** DIR/signing-key.pem of an enrolled board (issue 16 §2): every sale batch is signed with it. Null: batches go unsigned. */
  readonly signingKey: KeyObject | null
  readonly telemetryIntervalMs: number
  readonly chilled: boolean
}

// option name → [CLI flag, env variable]
const SOURCES = {
  cabinetId: ['cabinet', 'EDGE_CABINET'],
  dataDir: ['data', 'EDGE_DATA_DIR'],
  serverUrl: ['server', 'EDGE_SERVER'],
  caFile: ['ca', 'EDGE_CA'],
  username: ['username', 'EDGE_USERNAME'],
  password: ['password', 'EDGE_PASSWORD'],
  apiPort: ['api-port', 'EDGE_API_PORT'],
  logLevel: ['log-level', 'LOG_LEVEL'],
  heartbeatIntervalMs: ['heartbeat-interval-ms', 'EDGE_HEARTBEAT_INTERVAL_MS'],
  ackTimeoutMs: ['ack-timeout-ms', 'EDGE_ACK_TIMEOUT_MS'],
  batchMaxSales: ['batch-max-sales', 'EDGE_BATCH_MAX_SALES'],
  backoffMinMs: ['backoff-min-ms', 'EDGE_BACKOFF_MIN_MS'],
  backoffMaxMs: ['backoff-max-ms', 'EDGE_BACKOFF_MAX_MS'],
  telemetryIntervalMs: ['telemetry-interval-ms', 'EDGE_TELEMETRY_INTERVAL_MS'],
  chilled: ['chilled', 'EDGE_CHILLED'],
} as const satisfies Partial<Record<keyof AgentOptions, readonly [string, string]>>
type SourcedKey = keyof typeof SOURCES
const NUMERIC: ReadonlySet<SourcedKey> = new Set(['apiPort', 'heartbeatIntervalMs', 'ackTimeoutMs', 'batchMaxSales', 'backoffMinMs', 'backoffMaxMs', 'telemetryIntervalMs'])

export const USAGE = `usage: edge-agent enroll --code CODE --http URL --data DIR   (once, on a new board)
       edge-agent --data DIR [--server …]   (an enrolled board: the rest comes from DIR/credentials.json)
       edge-agent --cabinet ID --data DIR [--server mqtt://HOST:PORT[,mqtt://HOST2:PORT…] | mqtts://HOST:PORT[,…] [--ca FILE]] [--username U] [--password P] [--api-port PORT]
  [--log-level LEVEL] [--heartbeat-interval-ms N] [--ack-timeout-ms N] [--batch-max-sales N] [--backoff-min-ms N] [--backoff-max-ms N]
  [--telemetry-interval-ms N] [--chilled]
each flag may instead come from its environment variable: ${Object.values(SOURCES).map(([, env]) => env).join(', ')}`

/** Validates options from code (simulators, tests) into a frozen config. Throws AppError('CONFIG_INVALID'). */
export function makeConfig(options: AgentOptions, describePath: (key: string) => string = (k) => k): AgentConfig {
  const r = AgentOptions.safeParse(options)
  if (!r.success) {
    const issues = r.error.issues.map((i) => ({ ...i, path: i.path.map((p, n) => (n === 0 ? describePath(String(p)) : p)) }))
    throw new AppError('CONFIG_INVALID', `invalid configuration:\n${z.prettifyError({ issues })}`, 400)
  }
  const c = r.data
  return Object.freeze({
    cabinetId: c.cabinetId,
    dataDir: c.dataDir,
    servers: Object.freeze(serverList(c.serverUrl)),
    ca: c.caFile === undefined ? null : readCa(describePath('caFile'), c.caFile),
    username: c.username ?? c.cabinetId,
    password: c.password,
    apiPort: c.apiPort,
    logLevel: c.logLevel,
    heartbeatIntervalMs: c.heartbeatIntervalMs,
    ackTimeoutMs: c.ackTimeoutMs,
    batchMaxSales: c.batchMaxSales,
    backoffMinMs: c.backoffMinMs,
    backoffMaxMs: c.backoffMaxMs,
    ledgerMaxPages: c.ledgerMaxPages,
    signingKey: readSigningKey(c.dataDir),
    telemetryIntervalMs: c.telemetryIntervalMs,
    chilled: c.chilled,
  })
}

/** DIR/signing-key.pem (written by enroll); null when DIR holds none. A key that is there but unusable fails the start. */
function readSigningKey(dataDir: string): KeyObject | null {
  const path = join(dataDir, SIGNING_KEY_FILE)
  let pem: string
  try {
    pem = readFileSync(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new AppError('CONFIG_INVALID', `invalid configuration: ${path} is not readable: ${(err as Error).message}`, 400)
  }
  try {
    const key = createPrivateKey(pem)
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`a ${key.asymmetricKeyType ?? 'unknown'} key`)
    return key
  } catch (err) {
    throw new AppError('CONFIG_INVALID', `invalid configuration: ${path} is not an Ed25519 private key (${(err as Error).message}); enroll again`, 400)
  }
}

/**
 * The CLI's configuration: `--flag` wins over its EDGE_* variable. The local
 * API defaults to port 0 here so the ready line always has a port to report.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, argv: string[] = process.argv.slice(2)): AgentConfig {
  let flags: Record<string, string | undefined>
  try {
    // --chilled is a bare switch; every other flag takes a value.
    const options = Object.fromEntries(Object.values(SOURCES).map(([flag]) => [flag, { type: flag === 'chilled' ? ('boolean' as const) : ('string' as const) }]))
    const values = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>
    flags = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, typeof v === 'boolean' ? String(v) : v]))
  } catch (err) {
    throw new AppError('CONFIG_INVALID', `invalid configuration: ${(err as Error).message}\n${USAGE}`, 400)
  }
  const raw: Record<string, unknown> = {}
  for (const key of Object.keys(SOURCES) as SourcedKey[]) {
    const [flag, envName] = SOURCES[key]
    const value = flags[flag] ?? nonEmpty(env[envName])
    if (value === undefined) continue
    raw[key] = NUMERIC.has(key) && /^\s*\d+\s*$/.test(value) ? Number(value) : value
  }
  raw.apiPort ??= 0
  // An enrolled board (edge-agent enroll) keeps its cabinet id, login and broker
  // URLs in DIR/credentials.json: used for whatever the flags and env leave out.
  if (typeof raw.dataDir === 'string') {
    const enrolled = readCredentials(raw.dataDir)
    if (enrolled && (raw.cabinetId === undefined || raw.cabinetId === enrolled.cabinetId)) {
      raw.cabinetId ??= enrolled.cabinetId
      raw.username ??= enrolled.username
      raw.password ??= enrolled.password
      if (enrolled.servers.length) raw.serverUrl ??= enrolled.servers.join(',')
    }
  }
  const describe = (key: string): string => {
    const source = SOURCES[key as SourcedKey] as readonly [string, string] | undefined
    return source ? `--${source[0]} (${source[1]})` : key
  }
  // Keys missing from `raw` fall back to makeConfig's defaults.
  return makeConfig(raw as AgentOptions, describe)
}

/** The CA file's PEM text, checked to hold a certificate. */
function readCa(name: string, path: string): string {
  let pem: string
  try {
    pem = readFileSync(path, 'utf8')
  } catch (err) {
    throw new AppError('CONFIG_INVALID', `invalid configuration: ${name}=${path} is not readable: ${(err as Error).message}`, 400)
  }
  try {
    new X509Certificate(pem)
  } catch {
    throw new AppError('CONFIG_INVALID', `invalid configuration: ${name}=${path} is not a PEM certificate`, 400)
  }
  return pem
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v
}
