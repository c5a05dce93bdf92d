// Which cabinets are connected to the other fleet-server processes on the same
// database (issue 13). On PostgreSQL several servers share one database, each
// with its own embedded broker: each writes its own connects and disconnects
// to cabinet_presence (queued and written in one statement per flush, so a
// reconnect storm of 19,000 cabinets costs a few statements, not 19,000
// transactions), heartbeats its fleet_servers row, and reads the others'
// rows about once a second. A server that stops heartbeating (killed) stops
// counting after STALE_HEARTBEATS intervals; one closed cleanly deletes its
// rows. An SQLite file has one server: there presence stays in memory and
// nothing is written.
import { randomUUID } from 'node:crypto'
import { sql } from 'kysely'
import type { Logger } from 'pino'
import type { FleetDb } from '../db/database.js'

export interface SharedPresence {
  /** A cabinet connected to this process's broker. */
  up(cabinetId: string): void
  /** A cabinet's session on this process's broker ended. */
  down(cabinetId: string): void
  /** Cabinets connected to other live processes (as of the last refresh). */
  others(): ReadonlySet<string>
  /** Writes what is queued and reads the others' rows now (tests, shutdown). */
  sync(): Promise<void>
  /** Deletes this process's rows (a clean stop: the others drop its cabinets at once). */
  close(): Promise<void>
}

export interface SharedPresenceOptions {
  readonly log: Logger
  /** How often queued changes are written (default 300 ms). */
  readonly flushMs?: number
  /** How often this process heartbeats its fleet_servers row (default 5 s). */
  readonly heartbeatMs?: number
  /** How often the other processes' cabinets are read (default 1 s). */
  readonly refreshMs?: number
}

/** A server missing this many heartbeats is taken for dead: its cabinets no longer count. */
export const STALE_HEARTBEATS = 3
/** Rows of servers gone this many heartbeats are deleted (by any live server). */
const PRUNE_HEARTBEATS = 60

const NONE: ReadonlySet<string> = new Set()

/** In memory only (SQLite, or a database with one server). */
export const localPresence = (): SharedPresence => ({
  up() {},
  down() {},
  others: () => NONE,
  sync: async () => {},
  close: async () => {},
})

/** Shared through the database on PostgreSQL; in memory on SQLite. */
export function createSharedPresence(db: FleetDb, opts: SharedPresenceOptions): SharedPresence {
  return db.dialect === 'postgres' ? createPgPresence(db, opts) : localPresence()
}

// Epoch ms of the database's clock: servers' own clocks may disagree, the database's is one.
const DB_NOW_MS = sql<number>`(extract(epoch FROM clock_timestamp()) * 1000)::bigint`

function createPgPresence(db: FleetDb, { log, flushMs = 300, heartbeatMs = 5_000, refreshMs = 1_000 }: SharedPresenceOptions): SharedPresence {
  const k = db.kysely
  const serverId = randomUUID()
  /** Latest change per cabinet not yet written: true = connected here. */
  let queued = new Map<string, boolean>()
  let others: ReadonlySet<string> = NONE
  let closed = false
  let chain: Promise<void> = Promise.resolve()
  const serial = (fn: () => Promise<void>): Promise<void> => (chain = chain.then(fn, fn))

  const heartbeat = (): Promise<void> =>
    serial(async () => {
      if (closed) return
      try {
        await sql`INSERT INTO fleet_servers (server_id, started_at_ms, seen_at_ms) VALUES (${serverId}, ${DB_NOW_MS}, ${DB_NOW_MS})
          ON CONFLICT (server_id) DO UPDATE SET seen_at_ms = excluded.seen_at_ms`.execute(k)
        // Long-dead servers' rows (killed, never cleaned up) go; their cabinets stopped counting long ago.
        await sql`WITH gone AS (DELETE FROM fleet_servers WHERE seen_at_ms < ${DB_NOW_MS} - ${PRUNE_HEARTBEATS * heartbeatMs} RETURNING server_id)
          DELETE FROM cabinet_presence WHERE server_id IN (SELECT server_id FROM gone)`.execute(k)
      } catch (err) {
        log.warn({ err }, 'presence heartbeat failed; retrying')
      }
    })

  const flush = (): Promise<void> =>
    serial(async () => {
      if (queued.size === 0) return
      const batch = queued
      queued = new Map()
      const ups: string[] = []
      const downs: string[] = []
      for (const [id, isUp] of batch) (isUp ? ups : downs).push(id)
      try {
        // One statement per flush. A cabinet that reconnected to another
        // server moves its row there (upsert); a disconnect deletes the row
        // only while it is still ours.
        await sql`WITH up AS (
            INSERT INTO cabinet_presence (cabinet_id, server_id, since_ms)
            SELECT id, ${serverId}, ${DB_NOW_MS} FROM unnest(${ups}::text[]) AS t(id)
            ON CONFLICT (cabinet_id) DO UPDATE SET server_id = excluded.server_id, since_ms = excluded.since_ms
          )
          DELETE FROM cabinet_presence WHERE server_id = ${serverId} AND cabinet_id = ANY(${downs}::text[])`.execute(k)
      } catch (err) {
        log.warn({ err, cabinets: batch.size }, 'writing cabinet presence failed; retrying')
        // Put back what no newer change replaced.
        for (const [id, isUp] of batch) if (!queued.has(id)) queued.set(id, isUp)
      }
    })

  const refresh = (): Promise<void> =>
    serial(async () => {
      try {
        const r = await sql<{ cabinet_id: string }>`SELECT p.cabinet_id FROM cabinet_presence p JOIN fleet_servers s ON s.server_id = p.server_id
          WHERE p.server_id <> ${serverId} AND s.seen_at_ms >= ${DB_NOW_MS} - ${STALE_HEARTBEATS * heartbeatMs}`.execute(k)
        others = new Set(r.rows.map((x) => x.cabinet_id))
      } catch (err) {
        log.warn({ err }, 'reading cabinet presence failed; keeping the last view')
      }
    })

  void heartbeat()
  const timers = [
    setInterval(() => void flush(), flushMs),
    setInterval(() => void heartbeat(), heartbeatMs),
    setInterval(() => void refresh(), refreshMs),
  ]
  for (const t of timers) t.unref()

  return {
    up(cabinetId) {
      if (!closed) queued.set(cabinetId, true)
    },
    down(cabinetId) {
      if (!closed) queued.set(cabinetId, false)
    },
    others: () => others,
    async sync() {
      await flush()
      await refresh()
    },
    async close() {
      if (closed) return
      for (const t of timers) clearInterval(t)
      await flush()
      closed = true
      await serial(async () => {
        try {
          await k.deleteFrom('cabinet_presence').where('server_id', '=', serverId).execute()
          await k.deleteFrom('fleet_servers').where('server_id', '=', serverId).execute()
        } catch (err) {
          log.warn({ err }, 'removing this server from presence failed; it stops counting when its heartbeat is stale')
        }
      })
      others = NONE
    },
  }
}
