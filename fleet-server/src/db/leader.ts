// One leader per named job across the server processes on one database
// (issue 13: forwarding passes, retries, alert evaluation and report
// schedules run once however many replicas there are). On PostgreSQL the
// leader is whoever holds a session-level advisory lock on a connection of
// its own: the server drops the lock when that session ends, so a leader that
// dies or loses its connection hands over to the next process that tries
// (every `retryMs`). On SQLite the file has one server, which always leads.
//
// Leadership is a belief refreshed every `retryMs`: between a lost connection
// and its discovery the old leader may still start work. `run()` confirms the
// lock's session is alive just before it starts, which narrows that window to
// the work itself; leader-only work must still be safe to repeat (it commits
// idempotently, as forwarding and scheduled reports already do).
import type pg from 'pg'
import type { Logger } from 'pino'
import type { FleetDb } from './database.js'
import { loadPg } from './pg.js'

export interface Leader {
  /** Whether this process leads, as of the last check. */
  isLeader(): boolean
  /** Runs `fn` if this process leads (confirmed just before); otherwise resolves to null without running it. */
  run<T>(fn: () => Promise<T>): Promise<T | null>
  /** Calls `fn` now with the current state, then on every change; returns the unsubscribe. */
  onChange(fn: (leading: boolean) => void): () => void
  /** Tries to take leadership, or confirms it is still held, now. */
  check(): Promise<boolean>
  /** Gives leadership up (the lock goes with the session) and stops trying. Idempotent. */
  close(): Promise<void>
}

export interface LeaderOptions {
  /** How often a follower tries to take over and a leader confirms its lock, ms. */
  readonly retryMs?: number
}

/**
 * 5 s: a dead leader's jobs are taken over within this; each try is one
 * round trip on an idle connection, so replicas can afford it.
 */
export const LEADER_RETRY_MS = 5_000

/**
 * Retry intervals a leader whose session failed waits before trying again:
 * the other processes try every interval, so one of them takes over rather
 * than the process whose connection just failed (and may fail again).
 */
const HOLD_OFF_TRIES = 2

/**
 * First key of our two-key advisory locks ("fupi"): the second is the job
 * name's hash. Two-key locks are a space apart from one-key ones (such as the
 * migration lock), so a name's hash cannot collide with those.
 */
const LOCK_NAMESPACE = 0x66_75_70_69

/** Leadership of `name` (e.g. 'forwarding', 'reports') for this process. */
export function createLeader(db: FleetDb, name: string, log: Logger, opts: LeaderOptions = {}): Leader {
  if (db.dialect === 'sqlite' || !db.pool) return soleLeader()
  return lockLeader(db.pool, name, log.child({ component: 'leader', job: name }), opts.retryMs ?? LEADER_RETRY_MS)
}

function soleLeader(): Leader {
  return {
    isLeader: () => true,
    run: (fn) => fn(),
    onChange(fn) {
      fn(true)
      return () => {}
    },
    check: () => Promise.resolve(true),
    close: () => Promise.resolve(),
  }
}

function lockLeader(pool: pg.Pool, name: string, log: Logger, retryMs: number): Leader {
  const listeners = new Set<(leading: boolean) => void>()
  let leading = false
  let client: pg.Client | null = null
  let checking: Promise<boolean> | null = null
  let closed = false
  // After its session failed this process lets a healthy peer take over first.
  let holdOffUntil = 0

  const setLeading = (v: boolean): void => {
    if (v === leading) return
    leading = v
    if (v) log.info({}, 'took leadership')
    else log.warn({}, 'lost leadership')
    for (const fn of listeners) fn(v)
  }

  // A session that failed: its lock is gone with it (or will be, when the server notices).
  const drop = (c: pg.Client, err?: unknown): void => {
    if (client !== c) return
    client = null
    if (err) log.warn({ err }, 'leader lock connection failed')
    if (leading) holdOffUntil = Date.now() + HOLD_OFF_TRIES * retryMs
    setLeading(false)
    void c.end().catch(() => {})
  }

  const connect = async (): Promise<pg.Client> => {
    // Its own connection, not a pooled one: the lock lives as long as this session.
    const { Client } = await loadPg()
    const c = new Client({ ...pool.options, application_name: `fupin-leader ${name}`.slice(0, 63) })
    c.on('error', (err) => drop(c, err))
    c.on('end', () => drop(c))
    await c.connect()
    return c
  }

  const attempt = async (): Promise<boolean> => {
    if (closed) return false
    if (!leading && Date.now() < holdOffUntil) return false
    try {
      if (!client) {
        const c = await connect()
        if (closed) {
          await c.end()
          return false
        }
        client = c
      }
      const c = client
      if (leading) {
        // Held: prove the session (and so the lock) is still there.
        await c.query('SELECT 1')
        return leading
      }
      const r = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [LOCK_NAMESPACE, name])
      if (client === c && !closed) setLeading(r.rows[0]?.ok === true)
      return leading
    } catch (err) {
      if (client) drop(client, err)
      else log.warn({ err }, 'leader lock connection could not be made; retrying')
      return false
    }
  }

  const check = (): Promise<boolean> => (checking ??= attempt().finally(() => (checking = null)))

  const timer = setInterval(() => void check(), retryMs)
  timer.unref()
  void check()

  return {
    isLeader: () => leading,
    async run(fn) {
      if (!(await check())) return null
      return fn()
    },
    onChange(fn) {
      listeners.add(fn)
      fn(leading)
      return () => void listeners.delete(fn)
    },
    check,
    async close() {
      if (closed) return
      closed = true
      clearInterval(timer)
      await checking
      const c = client
      client = null
      setLeading(false)
      // Ending the session releases the lock at once; the next try elsewhere takes it.
      await c?.end().catch(() => {})
    },
  }
}
