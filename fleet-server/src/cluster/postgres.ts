// PostgreSQL servers for the local cluster and the tests (#13, #14): a data
// dir made from a cached initdb template, postgres on a 127.0.0.1 port with
// its socket beside the data dir, databases created on demand.
//
// initdb and postgres refuse to run as root, and CI runs as root: then the
// dirs are handed to an unprivileged account (the Debian package's `postgres`,
// else `nobody`) and both programs are spawned with that uid/gid. libuv drops
// root's supplementary groups when it changes uid, so the server holds no root
// privilege. As any other user they run as that user, in a dir it owns.
// A server is ~0.6 s to start (a copy of a cached initdb template) and ~0.1 s
// to stop on the 2-core CI box; the first start on a machine adds ~1 s of initdb.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chownSync, createWriteStream, existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rename, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { exitOf, isRunning, OutputTail, spawnTied } from './children.js'
import { BIND_FAILED, portOr } from './ports.js'

export const SUPERUSER = 'postgres'
const READY_TIMEOUT_MS = 20_000 // a loaded 2-core CI box; it normally takes ~0.2 s
const SMART_WAIT_MS = 2_000 // closing clients take milliseconds; longer means one was leaked
const STOP_TIMEOUT_MS = 10_000 // fast shutdown this long, then SIGQUIT (immediate shutdown)
const BIND_ATTEMPTS = 3

let binDirCache: string | undefined

/** The directory holding initdb and postgres: Debian's 15 (or other major), pg_config's, or PATH's; undefined when none. */
export function findPostgresBinDir(): string | undefined {
  if (binDirCache) return binDirCache
  const debian = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').filter((v) => /^\d+$/.test(v)) : []
  // 15 first (what the project targets), then any other Debian major, newest first.
  const candidates = ['15', ...debian.sort((a, b) => Number(b) - Number(a))].map((v) => `/usr/lib/postgresql/${v}/bin`)
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim())
  } catch {
    // no pg_config on PATH: try the next source
  }
  for (const p of (process.env.PATH ?? '').split(':')) if (p) candidates.push(p)
  return (binDirCache = candidates.find((d) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'postgres'))))
}

/** uid/gid of a local account, from /etc/passwd (Node has no getpwnam). */
function account(name: string): { uid: number; gid: number } | undefined {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`))
  if (!line) return undefined
  const [, , uid, gid] = line.split(':')
  return { uid: Number(uid), gid: Number(gid) }
}

export type RunAs = { uid: number; gid: number } | undefined

/** Who runs the server: ourselves, or when root an unprivileged account. */
export function postgresRunAs(): RunAs {
  if (process.getuid?.() !== 0) return undefined
  const who = account('postgres') ?? account('nobody')
  if (!who) throw new Error('running as root and found neither a postgres nor a nobody account to run PostgreSQL as')
  return who
}

type SpawnOpts = { cwd: string; uid?: number; gid?: number; env: NodeJS.ProcessEnv }

const spawnOpts = (cwd: string, user: RunAs): SpawnOpts => ({ cwd, ...user, env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' } })

/**
 * Makes `dir` (created by the caller, empty or not) hold a new cluster in
 * `dir`/data, owned by `user`: a copy of the machine's initdb template.
 */
export async function initPostgresData(bin: string, dir: string, user: RunAs): Promise<string> {
  if (user) chownSync(dir, user.uid, user.gid)
  const data = join(dir, 'data')
  await run('cp', ['-a', '--reflink=auto', await template(bin, user), data], spawnOpts(dir, user))
  return data
}

// 1 MiB WAL segments (not 16): the copy per server is what the start costs.
const INITDB_ARGS = ['-A', 'trust', '-U', SUPERUSER, '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions', '--wal-segsize=1']

/**
 * A freshly initdb'd cluster, made once per machine and copied per server:
 * initdb costs ~1 s of a busy 2-core box, a copy ~0.2 s. Keyed by the server's
 * version, the owner and the initdb arguments; built aside and renamed into
 * place, so a concurrent or interrupted build never leaves a half cluster.
 */
async function template(bin: string, user: RunAs): Promise<string> {
  const version = execFileSync(join(bin, 'postgres'), ['--version'], { encoding: 'utf8' }).trim()
  const key = createHash('sha256').update(JSON.stringify([version, bin, INITDB_ARGS])).digest('hex').slice(0, 12)
  const path = join(tmpdir(), `fupin-pg-template-${user?.uid ?? process.getuid?.() ?? 'u'}-${key}`)
  if (existsSync(join(path, 'PG_VERSION'))) return path
  const build = await mkdtemp(join(tmpdir(), 'fupin-pg-build-'))
  try {
    if (user) chownSync(build, user.uid, user.gid)
    const data = join(build, 'data')
    await run(join(bin, 'initdb'), ['-D', data, ...INITDB_ARGS], spawnOpts(build, user))
    try {
      await rename(data, path)
    } catch (err) {
      // Another worker renamed its build into place first: use that one.
      if (!existsSync(join(path, 'PG_VERSION'))) throw err
    }
  } finally {
    await rm(build, { recursive: true, force: true })
  }
  return path
}

function run(cmd: string, args: string[], opts: SpawnOpts): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
    child.once('error', reject)
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited with ${code}:\n${out}`))))
  })
}

export interface PostgresServerOptions {
  bin: string
  user: RunAs
  /** The data dir (initPostgresData's). */
  data: string
  /** Holds the unix socket; the runAs user must be able to write it. */
  socketDir: string
  /** A port to try first (a --data cluster's last one); a fresh free port otherwise. */
  port?: number
  /** max_connections (default 50; the suite's shared server takes more). */
  maxConnections?: number
  /**
   * Commit as a production server does (fsync, synchronous_commit, full page
   * writes, 128 MB shared buffers, autovacuum). Off: throwaway data for tests.
   */
  durable?: boolean
  /** Appends the server's output to this file too. */
  logFile?: string
  onExit?: (code: number | null, signal: NodeJS.Signals | null) => void
}

export interface PostgresServer {
  readonly port: number
  readonly pid: number
  /** postgres://postgres@127.0.0.1:PORT/DB */
  url(database: string): string
  /** Creates the database; `ifMissing`: leaves an existing one (a --data restart). */
  createDatabase(name: string, opts?: { ifMissing?: boolean }): Promise<void>
  /** Smart, then fast, then immediate shutdown; resolves once it exited. Idempotent. */
  stop(): Promise<void>
  log(): string
}

/** Starts postgres and waits until it takes connections; a lost bind race is retried on a new port. */
export async function startPostgresServer(opts: PostgresServerOptions): Promise<PostgresServer> {
  for (let attempt = 1; ; attempt++) {
    const port = await portOr(attempt === 1 ? opts.port : undefined)
    const server = await launch(opts, port)
    if ('child' in server) {
      const { child, output } = server
      let stopped: Promise<void> | undefined
      return {
        port,
        pid: child.pid!,
        url: (db) => `postgres://${SUPERUSER}@127.0.0.1:${port}/${encodeURIComponent(db)}`,
        createDatabase: (name, o = {}) => createDatabase(port, name, o.ifMissing ?? false),
        stop: () => (stopped ??= stop(child)),
        log: () => output.toString(),
      }
    }
    if (attempt >= BIND_ATTEMPTS || !BIND_FAILED.test(server.log)) throw new Error(`postgres did not start:\n${server.log}`)
  }
}

async function launch(opts: PostgresServerOptions, port: number): Promise<{ child: ChildProcess; output: OutputTail } | { log: string }> {
  const child = spawnTied(
    join(opts.bin, 'postgres'),
    [
      '-D', opts.data,
      '-p', String(port),
      '-c', 'listen_addresses=127.0.0.1',
      '-c', `unix_socket_directories=${opts.socketDir}`,
      ...(opts.durable
        ? ['-c', 'shared_buffers=128MB']
        : [
            // Throwaway data: no fsync, no waiting for WAL flush, no torn-page guard.
            '-c', 'fsync=off',
            '-c', 'synchronous_commit=off',
            '-c', 'full_page_writes=off',
            // Tests on a shared 2-core box: a small server, no background work to wait on at stop.
            '-c', 'shared_buffers=32MB',
            '-c', 'max_wal_senders=0',
            '-c', 'wal_level=minimal',
            '-c', 'autovacuum=off',
          ]),
      '-c', `max_connections=${opts.maxConnections ?? 50}`,
      '-c', 'timezone=UTC',
    ],
    { ...spawnOpts(opts.socketDir, opts.user), stdio: ['ignore', 'pipe', 'pipe'] },
    // Fast shutdown when we die: it aborts sessions and still writes a checkpoint.
    'SIGINT',
  )
  const output = new OutputTail()
  const file = opts.logFile ? createWriteStream(opts.logFile, { flags: 'a' }) : undefined
  const take = (d: Buffer) => {
    output.push(d.toString())
    file?.write(d)
  }
  child.stdout!.on('data', take)
  child.stderr!.on('data', take)
  child.once('exit', (code, signal) => {
    file?.end()
    opts.onExit?.(code, signal)
  })
  const deadline = Date.now() + READY_TIMEOUT_MS
  for (;;) {
    if (!isRunning(child)) return { log: output.toString() }
    // Connecting (not just a TCP accept) proves startup recovery is over.
    const c = new pg.Client({ host: '127.0.0.1', port, user: SUPERUSER, database: 'postgres' })
    const ok = await c.connect().then(
      () => true,
      () => false,
    )
    await c.end().catch(() => {})
    if (ok) return { child, output }
    if (Date.now() > deadline) {
      await stop(child)
      throw new Error(`postgres did not accept connections within ${READY_TIMEOUT_MS} ms:\n${output.toString()}`)
    }
    await new Promise((r) => setTimeout(r, 25))
  }
}

async function createDatabase(port: number, database: string, ifMissing: boolean): Promise<void> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: SUPERUSER, database: 'postgres' })
  await c.connect()
  try {
    if (ifMissing && (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])).rowCount) return
    // FILE_COPY: with fsync off, copying template1's files beats PG 15's default of WAL-logging each block.
    await c.query(`CREATE DATABASE ${pg.escapeIdentifier(database)} STRATEGY = FILE_COPY`)
  } finally {
    await c.end()
  }
}

/**
 * Smart shutdown (SIGTERM) first: it waits for connected sessions to end, and
 * pg-pool's end() resolves before its sockets have closed, so a fast shutdown
 * right after it would send those clients a FATAL 57P01 as an unhandled
 * 'error'. A session still open after SMART_WAIT_MS is a leak (or a replica
 * SIGKILLed a moment ago): fast shutdown (SIGINT) ends it; SIGQUIT if even that hangs.
 */
async function stop(child: ChildProcess): Promise<void> {
  if (!isRunning(child)) return
  const exited = exitOf(child)
  child.kill('SIGTERM')
  const fast = setTimeout(() => child.kill('SIGINT'), SMART_WAIT_MS)
  const immediate = setTimeout(() => child.kill('SIGQUIT'), SMART_WAIT_MS + STOP_TIMEOUT_MS)
  await exited
  clearTimeout(fast)
  clearTimeout(immediate)
}
