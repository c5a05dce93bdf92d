// Which process sends a batch when two fleet servers share one PostgreSQL
// (issue 13). A sender claims a batch before POSTing it: a session advisory
// lock keyed by the batch key, on one pooled connection the sender keeps,
// released once the answer is recorded. No transaction stays open across the
// HTTP call, and a process that dies drops its claims with its connection, so
// nothing waits for a lease to run out. After taking the lock the batch is
// read again: the other server may have settled it since this one read the
// queue. SQLite has one server per file: every claim is granted.
import type pg from 'pg'
import type { Logger } from 'pino'
import type { FleetDb } from '../db/database.js'
import type { ForwardingStore } from './store.js'

export interface BatchClaims {
  /** True when this process may send the batch now: no other process holds it, and it is still pending. */
  take(batchKey: string): Promise<boolean>
  /** Gives up a claim taken with take() (after the answer is recorded). */
  release(batchKey: string): Promise<void>
  /** Releases every claim and the connection holding them. */
  close(): Promise<void>
}

/** First key of pg_advisory_lock(int4, int4): forwarding claims; the second is hashtext(batch key). */
const CLAIM_SPACE = 0x66_77_64 // "fwd"

export function createBatchClaims(db: FleetDb, store: ForwardingStore, log: Logger): BatchClaims {
  const pool = db.pool
  if (db.dialect !== 'postgres' || pool === null) return { take: async () => true, release: async () => {}, close: async () => {} }
  // Session locks belong to one connection: the sender keeps one for all its claims.
  let conn: Promise<pg.PoolClient> | null = null
  /** Claims held on `conn`, by key (a hash collision of two keys nests on one session: counts keep unlock balanced). */
  const held = new Map<string, number>()
  let closed = false
  // One query at a time on the connection (pg deprecates queueing on a client).
  let queue: Promise<unknown> = Promise.resolve()
  const query = <R extends pg.QueryResultRow>(c: pg.PoolClient, text: string, values: unknown[]): Promise<pg.QueryResult<R>> => {
    const run = queue.then(() => c.query<R>(text, values))
    queue = run.catch(() => undefined)
    return run
  }

  const connection = (): Promise<pg.PoolClient> => {
    if (conn) return conn
    const p = pool.connect().then((c) => {
      c.on('error', (err) => {
        // The connection is gone, and its locks with it.
        log.warn({ err }, 'forwarding claims connection failed; claims dropped')
        if (conn === p) {
          conn = null
          held.clear()
          c.release(err)
        }
      })
      return c
    })
    p.catch(() => {
      if (conn === p) conn = null
    })
    conn = p
    return p
  }

  return {
    async take(batchKey) {
      if (closed) return false
      const c = await connection()
      const r = await query<{ ok: boolean }>(c, 'SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [CLAIM_SPACE, batchKey])
      if (!r.rows[0]?.ok) return false
      held.set(batchKey, (held.get(batchKey) ?? 0) + 1)
      if ((await store.outbox(batchKey))?.state === 'pending') return true
      await this.release(batchKey)
      return false
    },
    async release(batchKey) {
      const n = held.get(batchKey)
      if (n === undefined || !conn) return
      if (n > 1) held.set(batchKey, n - 1)
      else held.delete(batchKey)
      const c = await conn
      await query(c, 'SELECT pg_advisory_unlock($1, hashtext($2))', [CLAIM_SPACE, batchKey])
    },
    async close() {
      closed = true
      const p = conn
      conn = null
      held.clear()
      if (!p) return
      const c = await p.catch(() => null)
      if (!c) return
      // Session locks outlive a connection's return to the pool: drop them first.
      try {
        await query(c, 'SELECT pg_advisory_unlock_all()', [])
        c.release()
      } catch (err) {
        c.release(err as Error)
      }
    },
  }
}
