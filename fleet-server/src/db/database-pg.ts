// The fleet database on PostgreSQL (FleetDb, database.ts): a pg pool under
// Kysely, transactions run again when they lose a race, versioned migrations
// one process at a time, and LISTEN/NOTIFY for cross-process notices. Loaded
// by openFleetDb only when FLEET_DATABASE_URL names a PostgreSQL server.
import { EventEmitter } from 'node:events'
import { Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import type { Logger } from 'pino'
import type { FleetDb } from './database.js'
import { classifyDbError } from './dialect.js'
import { PG_MIGRATIONS } from './migrations-pg.js'
import { copyInOf } from './pg-copy.js'
import type { Migration } from './migrations.js'
import type { Schema } from './schema.js'

/** Connections per server process to PostgreSQL: pg's default; the load is one event loop's. */
export const PG_POOL_MAX = 10

const INT8_OID = 20

/**
 * bigint (COUNT, SUM of integer fen) as a JS number, as SQLite returns it,
 * instead of pg's default string; a value past 2^53 throws rather than
 * rounding money. Scoped to our pools (pg's global parser table is untouched).
 */
export const pgTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid !== INT8_OID) return format === 'binary' ? pg.types.getTypeParser(oid, 'binary') : pg.types.getTypeParser(oid, 'text')
    return (text: string): number => {
      const n = Number(text)
      if (!Number.isSafeInteger(n)) throw new RangeError(`bigint ${text} is beyond a safe JS integer`)
      return n
    }
  },
}

/** How often a transaction that lost a race is tried in all. */
const TX_ATTEMPTS = 3
/** Advisory lock key (any fixed bigint) held while one process migrates. */
const MIGRATION_LOCK = 0x66_75_70_69_6e // "fupin"

/**
 * A pg client that runs pg-copy.ts's copyRows statements as COPY FROM STDIN
 * (streaming the data that came as their one parameter); every other query
 * is pg's own. Kysely reads `command`, `rowCount` and `rows` of a result.
 */
export class CopyClient extends pg.Client {
  override query(...args: unknown[]): never {
    const copy = copyInOf(args[0], args[1])
    const query = super.query as (...a: unknown[]) => never
    if (copy === null) return query.apply(this, args)
    return new Promise((resolve, reject) => {
      const stream = query.call(this, copyFrom(copy.statement)) as ReturnType<typeof copyFrom>
      stream.on('error', reject)
      stream.on('finish', () => resolve({ command: 'COPY', rowCount: stream.rowCount, rows: [] }))
      stream.end(copy.data)
    }) as never
  }
}

export async function openPostgres(url: string, poolMax: number, log: Logger): Promise<FleetDb> {
  const pool = new pg.Pool({ connectionString: url, max: poolMax, types: pgTypes, Client: CopyClient })
  // An idle pooled connection that fails (server restart, network) is emitted
  // here and would otherwise crash the process; the pool replaces it on demand.
  pool.on('error', (err) => log.warn({ err }, 'idle PostgreSQL connection failed'))
  const kysely = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) })
  try {
    await migratePostgres(kysely, PG_MIGRATIONS, log)
  } catch (err) {
    await kysely.destroy()
    throw err
  }
  const listener = createPgListener(url, log)
  let closed = false
  return {
    dialect: 'postgres',
    kysely,
    sqlite: null,
    pool,
    async transaction(fn) {
      for (let attempt = 1; ; attempt++) {
        try {
          return await kysely.transaction().execute(fn)
        } catch (err) {
          if (attempt >= TX_ATTEMPTS || classifyDbError(err) !== 'retryable') throw err
          log.debug({ err, attempt }, 'transaction lost a race; running it again')
        }
      }
    },
    exclusive: () => Promise.reject(new Error('exclusive() is SQLite only')),
    async notify(channel, payload, tx) {
      await sql`SELECT pg_notify(${channel}, ${payload})`.execute(tx ?? kysely)
    },
    listen: (channel, fn) => listener.listen(channel, fn),
    setDerived: () => {
      throw new Error('setDerived() is SQLite only')
    },
    async close() {
      if (closed) return
      closed = true
      await listener.close()
      await kysely.destroy()
    },
  }
}

/** Applies PostgreSQL migrations newer than the stored version, one process at a time. */
export async function migratePostgres(kysely: Kysely<Schema>, migrations: readonly Migration[], log: Logger): Promise<void> {
  await kysely.transaction().execute(async (tx) => {
    // Replicas starting together: the first migrates, the others wait here and then find nothing to do.
    await sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`.execute(tx)
    await sql`CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`.execute(tx)
    const row = await sql<{ v: number | null }>`SELECT max(version) AS v FROM schema_migrations`.execute(tx)
    const current = row.rows[0]?.v ?? 0
    const latest = migrations.at(-1)?.version ?? 0
    if (current > latest) {
      throw new Error(`database schema version ${current} is newer than this server knows (${latest}); refusing to run an older server on it`)
    }
    for (const m of migrations) {
      if (m.version <= current) continue
      await sql.raw(m.sql).execute(tx)
      await sql`INSERT INTO schema_migrations (version, name) VALUES (${m.version}, ${m.name})`.execute(tx)
      log.info({ version: m.version, name: m.name }, 'database migrated')
    }
  })
}

interface PgListener {
  listen(channel: string, fn: (payload: string) => void): () => void
  close(): Promise<void>
}

/**
 * One dedicated connection for LISTEN (a pooled one would be handed to other
 * queries). Connected on first use and reconnected after a failure; a notice
 * sent while it was down is lost, so listeners re-read what they cache after
 * a reconnect (they get an empty payload on every channel).
 */
function createPgListener(url: string, log: Logger): PgListener {
  const events = new EventEmitter().setMaxListeners(0)
  const channels = new Set<string>()
  let client: pg.Client | null = null
  let connecting: Promise<void> | null = null
  let closed = false
  let retry: NodeJS.Timeout | null = null

  const connect = (): Promise<void> =>
    (connecting ??= (async () => {
      const c = new pg.Client({ connectionString: url })
      c.on('notification', (n) => events.emit(n.channel, n.payload ?? ''))
      c.on('error', (err) => {
        log.warn({ err }, 'PostgreSQL notice connection failed; reconnecting')
        drop(c)
      })
      await c.connect()
      if (closed) {
        await c.end()
        return
      }
      for (const ch of channels) await c.query(`LISTEN ${quoteIdent(ch)}`)
      client = c
      // Anything sent while no connection listened is unknown: tell every listener to re-read.
      for (const ch of channels) events.emit(ch, '')
    })().catch((err: unknown) => {
      log.warn({ err }, 'PostgreSQL notice connection could not be made; retrying')
      schedule()
    }).finally(() => {
      connecting = null
    }))

  const drop = (c: pg.Client): void => {
    if (client === c) client = null
    void c.end().catch(() => {})
    schedule()
  }
  const schedule = (): void => {
    if (closed || retry) return
    retry = setTimeout(() => {
      retry = null
      void connect()
    }, 1_000)
    retry.unref()
  }

  return {
    listen(channel, fn) {
      events.on(channel, fn)
      if (!channels.has(channel)) {
        channels.add(channel)
        if (client) void client.query(`LISTEN ${quoteIdent(channel)}`).catch((err: unknown) => log.warn({ err, channel }, 'LISTEN failed'))
        else void connect()
      }
      return () => void events.off(channel, fn)
    },
    async close() {
      closed = true
      if (retry) clearTimeout(retry)
      await connecting
      await client?.end().catch(() => {})
      client = null
    },
  }
}

const quoteIdent = (s: string): string => `"${s.replace(/"/g, '""')}"`
