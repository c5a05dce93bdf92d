// Password guessing against the dashboard login. Failures are counted per
// (username, client address) and per client address; past a limit within the
// window, logins from there are refused for a while — before scrypt runs, so
// a guessing script also cannot keep the thread pool busy. The per-pair limit
// is the tight one: a wrong guess from one place does not lock the same
// official out of another office. The per-address limit is loose because a
// county government's staff often share one NAT address.
// Not on @fastify/rate-limit (which limits the rest of /api/): that counts
// every request in a fixed window, while this counts failures only, forgets a
// pair's failures on success and locks for lockMs past the window.
export interface LoginThrottleOptions {
  /** Failures of one username from one address within the window before it is refused. */
  readonly maxPerUser: number
  /** Failures of any usernames from one address within the window before it is refused. */
  readonly maxPerAddress: number
  readonly windowMs: number
  /** How long a refusal lasts once a limit is reached. */
  readonly lockMs: number
  /** Keys remembered at most (memory bound under a spray of addresses). */
  readonly maxKeys: number
}

export const DEFAULT_LOGIN_THROTTLE: LoginThrottleOptions = Object.freeze({
  maxPerUser: 5,
  maxPerAddress: 50,
  windowMs: 15 * 60_000,
  lockMs: 15 * 60_000,
  maxKeys: 10_000,
})

export interface LoginThrottle {
  /** Seconds until logins from here for this username are taken again; 0 = go ahead. */
  retryAfterS(username: string, address: string): number
  failed(username: string, address: string): void
  /** A successful login clears its pair's failures (not the address's). */
  succeeded(username: string, address: string): void
}

interface Entry {
  firstAtMs: number
  failures: number
  lockedUntilMs: number
}

export function createLoginThrottle(now: () => Date, opts: LoginThrottleOptions = DEFAULT_LOGIN_THROTTLE): LoginThrottle {
  const entries = new Map<string, Entry>()
  const pairKey = (u: string, a: string) => `u\u0000${u.toLowerCase()}\u0000${a}`
  const addressKey = (a: string) => `a\u0000${a}`

  function live(key: string, atMs: number): Entry | undefined {
    const e = entries.get(key)
    if (e && e.lockedUntilMs <= atMs && atMs - e.firstAtMs >= opts.windowMs) {
      entries.delete(key)
      return undefined
    }
    return e
  }

  function count(key: string, max: number, atMs: number): void {
    let e = live(key, atMs)
    if (!e) {
      if (entries.size >= opts.maxKeys) evict(atMs)
      e = { firstAtMs: atMs, failures: 0, lockedUntilMs: 0 }
      entries.set(key, e)
    }
    e.failures++
    if (e.failures >= max) e.lockedUntilMs = atMs + opts.lockMs
  }

  /** Drops expired keys; if none expired, the oldest (Map order is insertion order). */
  function evict(atMs: number): void {
    for (const key of entries.keys()) live(key, atMs)
    while (entries.size >= opts.maxKeys) entries.delete(entries.keys().next().value!)
  }

  return {
    retryAfterS(username, address) {
      const atMs = now().getTime()
      const until = Math.max(live(pairKey(username, address), atMs)?.lockedUntilMs ?? 0, live(addressKey(address), atMs)?.lockedUntilMs ?? 0)
      return until > atMs ? Math.ceil((until - atMs) / 1000) : 0
    },
    failed(username, address) {
      const atMs = now().getTime()
      count(pairKey(username, address), opts.maxPerUser, atMs)
      count(addressKey(address), opts.maxPerAddress, atMs)
    },
    succeeded(username, address) {
      entries.delete(pairKey(username, address))
    },
  }
}
