// A throwaway PostgreSQL 15 server per test file (issue 13): a data dir in a
// temp dir, postgres on a free 127.0.0.1 port with its socket in that dir, one
// fresh database, all removed by close(). Settings trade durability for speed
// (fsync off): nothing here outlives the test. The server itself is
// fleet-server/src/cluster/postgres.ts, which `npm run cluster` uses too.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findPostgresBinDir, initPostgresData, postgresRunAs, startPostgresServer } from '../../fleet-server/src/cluster/postgres.js'

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

/** The directory holding initdb and postgres: Debian's 15 (or other major), pg_config's, or PATH's. */
export function postgresBinDir(): string {
  const found = findPostgresBinDir()
  if (!found) throw new Error('PostgreSQL 15 is not installed (apt-get install postgresql; .ci/run does this)')
  return found
}

/** Starts a fresh server with one empty database; the caller closes it (afterAll for one per file). */
export async function startPostgres(opts: PostgresOptions = {}): Promise<Postgres> {
  const bin = postgresBinDir()
  const user = postgresRunAs()
  const database = opts.database ?? 'fleet_test'
  const dir = await mkdtemp(join(tmpdir(), 'fupin-pg-'))
  try {
    const data = await initPostgresData(bin, dir, user)
    const server = await startPostgresServer({ bin, user, data, socketDir: dir, maxConnections: opts.maxConnections, durable: opts.durable })
    await server.createDatabase(database).catch(async (err: unknown) => {
      await server.stop()
      throw err
    })
    let closed: Promise<void> | undefined
    return {
      url: server.url(database),
      port: server.port,
      database,
      dir,
      newDatabase: async (name) => {
        await server.createDatabase(name)
        return server.url(name)
      },
      close: () => (closed ??= server.stop().then(() => rm(dir, { recursive: true, force: true }))),
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }
}
