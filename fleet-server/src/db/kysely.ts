// A typed Kysely instance over either store (issue 13): SQLite through the
// server's own better-sqlite3 connection, or PostgreSQL through a pg pool.
// Query code written against it runs unchanged on both; results come back in
// the same JS types (see INT8 below).
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely'
import pg from 'pg'
import type { Logger } from 'pino'
import { CopyClient, pgTypes, PG_POOL_MAX } from './database-pg.js'
import type { SqliteDatabase } from './sqlite.js'

export type DbTarget =
  | { readonly dialect: 'sqlite'; readonly db: SqliteDatabase }
  | { readonly dialect: 'postgres'; readonly url: string; readonly poolMax?: number }

/**
 * Builds a Kysely<DB> over the target. For SQLite it shares `db` with the
 * synchronous stores and `destroy()` leaves it open: the connection's owner
 * closes it. Until those stores move over, a Kysely transaction on SQLite is
 * not isolated from them (one connection; its awaits let their statements in
 * between), so use it there for single statements only.
 * For PostgreSQL it owns its pool: `destroy()` ends it.
 */
export function createKysely<DB>(target: DbTarget, log: Logger): Kysely<DB> {
  if (target.dialect === 'sqlite') {
    const { db } = target
    const shared = { prepare: (sql: string) => db.prepare(sql), close: () => {} }
    return new Kysely<DB>({ dialect: new SqliteDialect({ database: shared }) })
  }
  const pool = new pg.Pool({ connectionString: target.url, max: target.poolMax ?? PG_POOL_MAX, types: pgTypes, Client: CopyClient })
  // An idle pooled connection that fails (server restart, network) is emitted
  // here and would otherwise crash the process; the pool replaces it on demand.
  pool.on('error', (err) => log.warn({ err }, 'idle PostgreSQL connection failed'))
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool }) })
}
