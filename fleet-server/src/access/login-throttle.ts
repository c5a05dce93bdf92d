// Password guessing against the dashboard login. Failures are counted per
// (username, client address) and per client address; past a limit within the
// window, logins from there are refused for a while — before scrypt runs, so
// a guessing script also cannot keep the thread pool busy. The per-pair limit
// is the tight one: a wrong guess from one place does not lock the same
// official out of another office. The per-address limit is loose because a
// county government's staff often share one NAT address.
// The counts live in the database (login_failures), so every server process
// on it counts the same failures: a guesser spread over replicas behind a
// load balancer gets no more tries than against one. Each failure is one
// atomic upsert; rows past their window are pruned.
// Not on @fastify/rate-limit (which limits the rest of /api/): that counts
// every request in a fixed window, while this counts failures only, forgets a
// pair's failures on success and locks for lockMs past the window.
import { sql } from 'kysely'
import type { Logger } from 'pino'
import type { FleetDb } from '../db/database.js'

export interface LoginThrottleOptions {
  /** Failures of one username from one address within the window before it is refused. */
  readonly maxPerUser: number
  /** Failures of any usernames from one address within the window before it is refused. */
  readonly maxPerAddress: number
  readonly windowMs: number
  /** How long a refusal lasts once a limit is reached. */
  readonly lockMs: number
  /** How often at most one process deletes rows past their window. */
  readonly pruneEveryMs: number
}

export const DEFAULT_LOGIN_THROTTLE: LoginThrottleOptions = Object.freeze({
  maxPerUser: 5,
  maxPerAddress: 50,
  windowMs: 15 * 60_000,
  lockMs: 15 * 60_000,
  pruneEveryMs: 60_000, // 1 min: a spray of addresses leaves at most a window and a minute of rows
})

export interface LoginThrottle {
  /** Seconds until logins from here for this username are taken again; 0 = go ahead. */
  retryAfterS(username: string, address: string): Promise<number>
  failed(username: string, address: string): Promise<void>
  /** A successful login clears its pair's failures (not the address's). */
  succeeded(username: string, address: string): Promise<void>
}

type Kind = 'pair' | 'address'

export function createLoginThrottle(db: FleetDb, now: () => Date, log: Logger, opts: LoginThrottleOptions = DEFAULT_LOGIN_THROTTLE): LoginThrottle {
  const k = db.kysely
  // Usernames compare case-insensitively; the address rows carry no username.
  const pair = (u: string, a: string) => ({ kind: 'pair' as Kind, username: u.toLowerCase(), address: a })
  const whole = (a: string) => ({ kind: 'address' as Kind, username: '', address: a })
  let prunedAtMs = 0

  /** One more failure of a key, counted atomically whichever process sees it. */
  async function count(key: { kind: Kind; username: string; address: string }, max: number, atMs: number): Promise<void> {
    const lockedUntil = atMs + opts.lockMs
    // A row whose window has passed and which holds no lock starts afresh (the
    // same rule retryAfterS relies on: such a row never refuses).
    const stale = sql<boolean>`(login_failures.locked_until_ms <= ${atMs} AND login_failures.first_at_ms <= ${atMs - opts.windowMs})`
    const failures = sql<number>`CASE WHEN ${stale} THEN 1 ELSE login_failures.failures + 1 END`
    await k
      .insertInto('login_failures')
      .values({ ...key, first_at_ms: atMs, failures: 1, locked_until_ms: 1 >= max ? lockedUntil : 0 })
      .onConflict((oc) =>
        oc.columns(['kind', 'username', 'address']).doUpdateSet({
          first_at_ms: sql`CASE WHEN ${stale} THEN excluded.first_at_ms ELSE login_failures.first_at_ms END`,
          failures,
          locked_until_ms: sql`CASE WHEN ${failures} >= ${max} THEN ${lockedUntil} WHEN ${stale} THEN 0 ELSE login_failures.locked_until_ms END`,
        }),
      )
      .execute()
  }

  async function prune(atMs: number): Promise<void> {
    if (atMs - prunedAtMs < opts.pruneEveryMs) return
    prunedAtMs = atMs
    try {
      await k.deleteFrom('login_failures').where('first_at_ms', '<=', atMs - opts.windowMs).where('locked_until_ms', '<=', atMs).execute()
    } catch (err) {
      // Stale rows never refuse anyone: pruning can wait for the next failure.
      log.warn({ err }, 'pruning login failures failed')
    }
  }

  return {
    async retryAfterS(username, address) {
      const atMs = now().getTime()
      const p = pair(username, address)
      const r = await k
        .selectFrom('login_failures')
        .select((eb) => eb.fn.max('locked_until_ms').as('until'))
        .where((eb) =>
          eb.or([
            eb.and([eb('kind', '=', p.kind), eb('username', '=', p.username), eb('address', '=', p.address)]),
            eb.and([eb('kind', '=', 'address'), eb('username', '=', ''), eb('address', '=', address)]),
          ]),
        )
        .executeTakeFirst()
      const until = Number(r?.until ?? 0)
      return until > atMs ? Math.ceil((until - atMs) / 1000) : 0
    },
    async failed(username, address) {
      const atMs = now().getTime()
      await count(pair(username, address), opts.maxPerUser, atMs)
      await count(whole(address), opts.maxPerAddress, atMs)
      await prune(atMs)
    },
    async succeeded(username, address) {
      const p = pair(username, address)
      await k.deleteFrom('login_failures').where('kind', '=', p.kind).where('username', '=', p.username).where('address', '=', p.address).execute()
    },
  }
}
