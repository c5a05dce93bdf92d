// A throwaway PostgreSQL 15 server per test file (issue 13): initdb into a
// temp dir, postgres on a free 127.0.0.1 port with its socket in that dir, one
// fresh database, all removed by close(). Settings trade durability for speed
// (fsync off): nothing here outlives the test.
//
// initdb and postgres refuse to run as root, and CI runs as root: then the data
// dir is handed to an unprivileged account (the Debian package's `postgres`,
// else `nobody`) and both programs are spawned with that uid/gid. libuv drops
// root's supplementary groups when it changes uid, so the server holds no root
// privilege. As any other user they run as that user, in a dir it owns.
// A server is ~0.6 s to start (a copy of a cached initdb template) and ~0.1 s
// to stop on the 2-core CI box; the first start on a machine adds ~1 s of initdb.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chownSync, existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rename, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { freePort } from './process.js'

export interface Postgres {
  /** postgres://postgres@127.0.0.1:PORT/DB for the fresh database. */
  url: string
  port: number
  database: string
  /** The temp dir holding the cluster and its socket; gone after close(). */
  dir: string
  /** Another empty database on the same server (~0.1 s): isolation per test without a server per test. */
  newDatabase(name: string): Promise<string>
  /** Stops the server (smart, then fast shutdown), then removes the dir. Idempotent. */
  close(): Promise<void>
}

export interface PostgresOptions {
  /** Name of the database created for the test (default `fleet_test`). */
  database?: string
  /** max_connections (default 50; the suite's shared server takes more). */
  maxConnections?: number
  /**
   * Commit as a production server does (fsync, synchronous_commit, full page
   * writes, 128 MB shared buffers, autovacuum): for the bench, whose SQLite
   * figures are made with synchronous=FULL. Default off: tests need no durability.
   */
  durable?: boolean
}

const SUPERUSER = 'postgres'
const READY_TIMEOUT_MS = 20_000 // a loaded 2-core CI box; it normally takes ~0.2 s
const SMART_WAIT_MS = 2_000 // closing clients take milliseconds; longer means one was leaked
const STOP_TIMEOUT_MS = 10_000 // fast shutdown this long, then SIGQUIT (immediate shutdown)

let binDirCache: string | undefined

/** The directory holding initdb and postgres: Debian's 15 (or other major), pg_config's, or PATH's. */
export function postgresBinDir(): string {
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
  const found = candidates.find((d) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'postgres')))
  if (!found) throw new Error('PostgreSQL 15 is not installed (apt-get install postgresql; .ci/run does this)')
  return (binDirCache = found)
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

/** Who runs the server: ourselves, or when root an unprivileged account. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined
  const who = account('postgres') ?? account('nobody')
  if (!who) throw new Error('running as root and found neither a postgres nor a nobody account to run PostgreSQL as')
  return who
}

const running = new Set<ChildProcess>()
// A worker that exits without close() must not leave servers behind.
process.once('exit', () => {
  for (const c of running) c.kill('SIGQUIT')
})

/** Starts a fresh server with one empty database; the caller closes it (afterAll for one per file). */
export async function startPostgres(opts: PostgresOptions = {}): Promise<Postgres> {
  const bin = postgresBinDir()
  const user = runAs()
  const database = opts.database ?? 'fleet_test'
  const dir = await mkdtemp(join(tmpdir(), 'fupin-pg-'))
  try {
    if (user) chownSync(dir, user.uid, user.gid)
    const data = join(dir, 'data')
    const spawnOpts = { cwd: dir, ...user, env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' } }
    await run('cp', ['-a', '--reflink=auto', await template(bin, user), data], spawnOpts)
    // The port was free a moment ago; another process may take it first, so
    // a failed bind is retried on a new one.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort()
      const server = await launch(join(bin, 'postgres'), data, dir, port, spawnOpts, opts.maxConnections ?? 50, opts.durable ?? false)
      if ('child' in server) {
        await createDatabase(port, database).catch(async (err: unknown) => {
          await stop(server.child)
          throw err
        })
        const urlOf = (db: string) => `postgres://${SUPERUSER}@127.0.0.1:${port}/${encodeURIComponent(db)}`
        let closed: Promise<void> | undefined
        return {
          url: urlOf(database),
          port,
          database,
          dir,
          newDatabase: async (name) => {
            await createDatabase(port, name)
            return urlOf(name)
          },
          close: () => (closed ??= stop(server.child).then(() => rm(dir, { recursive: true, force: true }))),
        }
      }
      if (attempt >= 3 || !/could not bind|Address already in use/i.test(server.log)) throw new Error(`postgres did not start:\n${server.log}`)
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }
}

// 1 MiB WAL segments (not 16): the copy per server is what the start costs.
const INITDB_ARGS = ['-A', 'trust', '-U', SUPERUSER, '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions', '--wal-segsize=1']

/**
 * A freshly initdb'd cluster, made once per machine and copied per server:
 * initdb costs ~1 s of a busy 2-core box, a copy ~0.2 s. Keyed by the server's
 * version, the owner and the initdb arguments; built aside and renamed into
 * place, so a concurrent or interrupted build never leaves a half cluster.
 */
async function template(bin: string, user: { uid: number; gid: number } | undefined): Promise<string> {
  const version = execFileSync(join(bin, 'postgres'), ['--version'], { encoding: 'utf8' }).trim()
  const key = createHash('sha256').update(JSON.stringify([version, bin, INITDB_ARGS])).digest('hex').slice(0, 12)
  const path = join(tmpdir(), `fupin-pg-template-${user?.uid ?? process.getuid?.() ?? 'u'}-${key}`)
  if (existsSync(join(path, 'PG_VERSION'))) return path
  const build = await mkdtemp(join(tmpdir(), 'fupin-pg-build-'))
  try {
    if (user) chownSync(build, user.uid, user.gid)
    const data = join(build, 'data')
    await run(join(bin, 'initdb'), ['-D', data, ...INITDB_ARGS], { cwd: build, ...user, env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' } })
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

type SpawnOpts = { cwd: string; uid?: number; gid?: number; env: NodeJS.ProcessEnv }

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

// setpriv (util-linux) asks the kernel to stop the server when the worker that
// started it dies: a vitest worker ended by a signal runs no exit handlers. It
// runs after Node has dropped root, as the credential change would clear it.
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p))

async function launch(postgres: string, data: string, dir: string, port: number, opts: SpawnOpts, maxConnections: number, durable: boolean): Promise<{ child: ChildProcess } | { log: string }> {
  const [cmd, pre] = SETPRIV ? [SETPRIV, ['--pdeathsig', 'SIGINT', postgres]] : [postgres, []]
  const child = spawn(
    cmd,
    [
      ...pre,
      '-D', data,
      '-p', String(port),
      '-c', 'listen_addresses=127.0.0.1',
      '-c', `unix_socket_directories=${dir}`,
      ...(durable
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
      '-c', `max_connections=${maxConnections}`,
      '-c', 'timezone=UTC',
    ],
    { ...opts, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let log = ''
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()))
  let exited = false
  child.once('exit', () => (exited = true))
  running.add(child)
  child.once('exit', () => running.delete(child))
  const deadline = Date.now() + READY_TIMEOUT_MS
  for (;;) {
    if (exited) return { log }
    // Connecting (not just a TCP accept) proves startup recovery is over.
    const c = new pg.Client({ host: '127.0.0.1', port, user: SUPERUSER, database: 'postgres' })
    const ok = await c.connect().then(
      () => true,
      () => false,
    )
    await c.end().catch(() => {})
    if (ok) return { child }
    if (Date.now() > deadline) {
      await stop(child)
      throw new Error(`postgres did not accept connections within ${READY_TIMEOUT_MS} ms:\n${log}`)
    }
    await new Promise((r) => setTimeout(r, 25))
  }
}

async function createDatabase(port: number, database: string): Promise<void> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: SUPERUSER, database: 'postgres' })
  await c.connect()
  try {
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
 * 'error'. A session still open after SMART_WAIT_MS is a leak: fast shutdown
 * (SIGINT) ends it; SIGQUIT if even that hangs.
 */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  child.kill('SIGTERM')
  const fast = setTimeout(() => child.kill('SIGINT'), SMART_WAIT_MS)
  const immediate = setTimeout(() => child.kill('SIGQUIT'), SMART_WAIT_MS + STOP_TIMEOUT_MS)
  await exited
  clearTimeout(fast)
  clearTimeout(immediate)
}
