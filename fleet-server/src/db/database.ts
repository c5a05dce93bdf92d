// The fleet database as every store sees it (issue 13): one handle over
// either engine — SQLite under FLEET_DATA_DIR (the embedded default) or
// PostgreSQL at FLEET_DATABASE_URL — with typed Kysely queries, explicit
// transactions, cross-process change notices, and the raw connection for the
// few hot paths written per dialect.
import { EventEmitter } from 'node:events'
import { Kysely, SqliteDialect, type Transaction } from 'kysely'
import type pg from 'pg'
import type { Logger } from 'pino'
import { openDatabase, DB_FILE } from './index.js'
import { MIGRATIONS } from './migrations.js'
import type { Schema } from './schema.js'
import type { SqliteDatabase } from './sqlite.js'

export type Dialect = 'sqlite' | 'postgres'

/** Where a query runs: the database, or a transaction of it (a Transaction is a Kysely too). */
export type Executor = Kysely<Schema>
export type Tx = Transaction<Schema>

export type DatabaseTarget = { readonly dialect: 'sqlite'; readonly dataDir: string } | { readonly dialect: 'postgres'; readonly url: string; readonly poolMax?: number }

export interface FleetDb {
  readonly dialect: Dialect
  readonly kysely: Kysely<Schema>
  /**
   * SQLite only: the raw better-sqlite3 connection, for the hot paths written
   * per dialect, backups and tests. Any statement on it must run inside
   * {@link FleetDb.exclusive} (or a transaction's callback): Kysely shares the
   * connection, and a statement slipped between another caller's awaits would
   * run inside that caller's transaction.
   */
  readonly sqlite: SqliteDatabase | null
  /** PostgreSQL only: the pool behind `kysely`, for hot paths written per dialect. */
  readonly pool: pg.Pool | null
  /**
   * Runs `fn` in one transaction and commits when it resolves. On PostgreSQL a
   * transaction that lost a race (serialization failure, deadlock) is run
   * again from the start, up to 3 times, so `fn` must not have effects
   * outside the database it cannot repeat (see also {@link TransactionOptions.group}).
   */
  transaction<T>(fn: (tx: Tx) => Promise<T>, opts?: TransactionOptions): Promise<T>
  /** SQLite only: runs `fn` holding the one connection, no other query in between. */
  exclusive<T>(fn: (conn: SqliteDatabase) => T | Promise<T>, opts?: DerivedOption): Promise<T>
  /**
   * Tells every process on this database (this one included) that `channel`
   * changed. Given the transaction making the change, the notice goes out when
   * it commits and not at all when it rolls back (PostgreSQL NOTIFY; on SQLite,
   * where the file has one server, an in-process event after commit).
   */
  notify(channel: string, payload: string, tx?: Executor): Promise<void>
  /** Calls `fn` for each notice on `channel`; returns the unsubscribe. */
  listen(channel: string, fn: (payload: string) => void): () => void
  /**
   * SQLite only: registers work derived from committed writes that is allowed
   * to lag them (the sales fold: aggregates and figures of ingested sales,
   * kept in `work.tables`). It runs, synchronously on the one connection,
   * before anyone else can see those tables: before a statement outside a
   * transaction that names one of them, at the start of every transaction
   * (inside it: undone with it) and on entering {@link FleetDb.exclusive} —
   * unless the caller passes `deferDerived` (the ingest's own ticks). So
   * every reader and writer but the ingest sees it done, as if it were
   * written with the sales. Returns the unregister. One at a time.
   */
  setDerived(work: DerivedWork): () => void
  close(): Promise<void>
}

export interface DerivedOption {
  /** SQLite: the derived work is not run first (see {@link FleetDb.setDerived}). */
  readonly deferDerived?: boolean
}

export interface TransactionOptions extends DerivedOption {
  /**
   * SQLite: the transaction may commit together with the other grouped ones
   * that arrive in the same event-loop turn, one after another in one
   * transaction: one commit (and fsync) for all, each caller answered after
   * it. Their callbacks must be independent of each other. If any of them
   * throws (or the commit fails), none is committed and each is run again
   * alone, so only the failing one fails: like a PostgreSQL retry, `fn` may
   * run twice. Ignored on PostgreSQL, where commits run side by side. With
   * `deferDerived` too, the group runs the derived work first only if one of
   * its members did not defer it.
   */
  readonly group?: boolean
}

/** See {@link FleetDb.setDerived}. */
export interface DerivedWork {
  /** The tables it writes: a statement naming none of them does not wait for it. */
  readonly tables: readonly string[]
  /** Whether run() has anything to do; asked often, so it must be cheap. */
  pending(): boolean
  /**
   * Does it on `conn`, in a transaction of its own or, when `conn` is in one,
   * in a savepoint of that transaction. A throw fails whatever triggered it.
   */
  run(conn: SqliteDatabase): void
  /** The transaction run() last ran inside rolled back: its work is undone. */
  undone(): void
}

/** Opens the database named by the config and brings its schema up to date. */
export async function openFleetDb(target: DatabaseTarget, log: Logger): Promise<FleetDb> {
  if (target.dialect === 'sqlite') return openSqlite(target.dataDir, log)
  // Loaded only here: the embedded default never loads the PostgreSQL client.
  const { openPostgres, PG_POOL_MAX } = await import('./database-pg.js')
  return openPostgres(target.url, target.poolMax ?? PG_POOL_MAX, log)
}

export const SCHEMA_VERSION = MIGRATIONS.at(-1)!.version

/** Prepared statements kept for Kysely on SQLite, by SQL text. */
const STATEMENT_CACHE = 500

function openSqlite(dataDir: string, log: Logger): FleetDb {
  const conn = openDatabase(dataDir, log)
  // Kysely's SQLite driver prepares every statement it runs; compiling the SQL
  // again each time cost more than running many of them. Statements are kept
  // by their text (the one connection runs one at a time, and a stream holds
  // the connection until it ends); texts that vary (IN lists, multi-row
  // inserts) only churn the oldest entries of a bounded cache.
  const statements = new Map<string, ReturnType<typeof conn.prepare>>()
  let derived: DerivedWork | null = null
  let derivedTables: RegExp | null = null
  // Per statement text: whether it names a derived table (asked once per text).
  const namesDerived = new Map<string, boolean>()
  let deriving = false
  const runDerived = (): boolean => {
    if (derived === null || deriving || !derived.pending()) return false
    deriving = true
    try {
      derived.run(conn)
    } finally {
      deriving = false
    }
    return true
  }
  const prepare = (q: string) => {
    // A statement outside a transaction stands alone: if it reads or writes
    // derived tables, they are brought up to date first.
    if (derived !== null && !conn.inTransaction) {
      let names = namesDerived.get(q)
      if (names === undefined) {
        names = derivedTables!.test(q)
        if (namesDerived.size >= STATEMENT_CACHE) namesDerived.clear()
        namesDerived.set(q, names)
      }
      if (names) runDerived()
    }
    let stmt = statements.get(q)
    if (stmt === undefined) {
      stmt = conn.prepare(q)
      if (statements.size >= STATEMENT_CACHE) statements.delete(statements.keys().next().value!)
      statements.set(q, stmt)
    }
    return stmt
  }
  const shared = { prepare, close: () => {} }
  const kysely = new Kysely<Schema>({ dialect: new SqliteDialect({ database: shared }) })
  const events = new EventEmitter().setMaxListeners(0)
  const afterCommit = new WeakMap<object, Array<() => void>>()
  let closed = false

  async function transaction<T>(fn: (tx: Tx) => Promise<T>, opts?: DerivedOption): Promise<T> {
    let pending: Array<() => void> = []
    let derivedRan: DerivedWork | null = null
    let result: T
    try {
      result = await kysely.transaction().execute(async (tx) => {
        afterCommit.set(tx, pending)
        // Inside the transaction (BEGIN has run: this is where it holds the connection).
        if (!opts?.deferDerived && runDerived()) derivedRan = derived
        return fn(tx)
      })
    } catch (err) {
      ;(derivedRan as DerivedWork | null)?.undone()
      throw err
    }
    for (const p of pending) p()
    pending = []
    return result
  }

  // Grouped transactions (TransactionOptions.group) waiting for the end of this
  // turn. With synchronous = FULL each commit is an fsync on the event loop:
  // provisioning 32 cabinets at a time cost one per request (issue 13).
  interface Grouped {
    readonly fn: (tx: Tx) => Promise<unknown>
    readonly opts: DerivedOption | undefined
    readonly resolve: (value: unknown) => void
    readonly reject: (err: unknown) => void
  }
  let group: Grouped[] | null = null
  async function commitGroup(): Promise<void> {
    const jobs = group!
    group = null
    if (jobs.length > 1) {
      const results: unknown[] = []
      try {
        await transaction(async (tx) => {
          for (const j of jobs) results.push(await j.fn(tx))
        }, { deferDerived: jobs.every((j) => j.opts?.deferDerived === true) })
      } catch {
        results.length = 0 // nothing committed: each runs alone below
      }
      if (results.length === jobs.length) {
        jobs.forEach((j, i) => j.resolve(results[i]))
        return
      }
    }
    for (const j of jobs) await transaction(j.fn, j.opts).then(j.resolve, j.reject)
  }
  const joinGroup = <T>(fn: (tx: Tx) => Promise<T>, opts: DerivedOption | undefined): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (group === null) {
        group = []
        setImmediate(() => void commitGroup())
      }
      group.push({ fn, opts, resolve: resolve as (value: unknown) => void, reject })
    })

  return {
    dialect: 'sqlite',
    kysely,
    sqlite: conn,
    pool: null,
    transaction: (fn, opts) => (opts?.group ? joinGroup(fn, opts) : transaction(fn, opts)),
    exclusive: (fn, opts) =>
      kysely.connection().execute(async () => {
        if (!opts?.deferDerived) runDerived()
        return fn(conn)
      }),
    async notify(channel, payload, tx) {
      const emit = () => void events.emit(channel, payload)
      const pending = tx && afterCommit.get(tx)
      if (pending) pending.push(emit)
      else emit()
    },
    listen(channel, fn) {
      events.on(channel, fn)
      return () => void events.off(channel, fn)
    },
    setDerived(work) {
      if (derived !== null) throw new Error('derived work is already registered')
      derived = work
      derivedTables = new RegExp(`\\b(${work.tables.join('|')})\\b`)
      namesDerived.clear()
      return () => {
        if (derived === work) {
          derived = null
          derivedTables = null
        }
      }
    },
    async close() {
      if (closed) return
      closed = true
      await kysely.destroy()
      conn.close()
    },
  }
}

export { DB_FILE }
