// Request rate limits on /api/ (@fastify/rate-limit): per credential (a hash
// of the bearer token or session cookie, never the secret itself) and per
// client address for calls without one. Checked before authentication, so
// failed attempts count too. Over the limit: 429 RATE_LIMITED with Retry-After.
// /healthz, /metrics and the dashboard's files are not limited (probes and
// scrapers poll them). Password guessing has its own, tighter throttle
// (access/login-throttle.ts).
import { createHash } from 'node:crypto'
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { AppError } from '../../../shared/src/index.js'
import { SESSION_COOKIE } from './cookies.js'

export interface RateLimitOptions {
  /** Requests one bearer token or session may make per window. */
  readonly perToken: number
  /** Requests one client address may make per window without credentials. */
  readonly perAddress: number
  readonly windowMs: number
  /** Keys remembered at most (LRU; bounds memory under a spray of addresses or tokens). */
  readonly maxKeys: number
}

/**
 * Sized never to trip legitimate heavy use. The heaviest is the fleet
 * simulator provisioning 20,000 cabinets with one admin token: 4 calls per
 * cabinet (create, three status steps), 16 in flight, then paging sales back.
 * Measured on the 2-core CI machine it sustains ~100-300 calls/s; 300,000 a
 * minute (5,000/s) leaves a wide margin on faster hardware. Without
 * credentials only the login, a cabinet's enrollment (which has a failure
 * throttle of its own) and the opt-in public disclosure are reachable: 1,200 a
 * minute lets a county office's whole NAT log in at once.
 */
export const DEFAULT_RATE_LIMIT: RateLimitOptions = Object.freeze({
  perToken: 300_000,
  perAddress: 1_200,
  windowMs: 60_000,
  maxKeys: 10_000,
})

const BEARER = /^Bearer\s+(\S+)\s*$/i

const digest = (secret: string) => createHash('sha256').update(secret).digest('base64url')

/** `t:` + hash of the credential, or `a:` + the client address (req.ip honours trustProxy). */
export function rateLimitKey(req: FastifyRequest): string {
  const bearer = BEARER.exec(req.headers.authorization ?? '')?.[1]
  if (bearer) return `t:${digest(bearer)}`
  const session = req.cookies?.[SESSION_COOKIE]
  if (session) return `t:${digest(session)}`
  return `a:${req.ip}`
}

export async function registerRateLimit(app: FastifyInstance, opts: RateLimitOptions = DEFAULT_RATE_LIMIT): Promise<void> {
  await app.register(rateLimit, { global: false, cache: opts.maxKeys })
  // A root hook rather than the plugin's per-route one: it runs before the
  // /api/ authentication hook, so 401s count against their key too.
  app.addHook(
    'onRequest',
    app.rateLimit({
      timeWindow: opts.windowMs,
      keyGenerator: rateLimitKey,
      max: (_req, key) => (key.startsWith('t:') ? opts.perToken : opts.perAddress),
      allowList: (req) => !req.url.startsWith('/api/'),
      errorResponseBuilder: (_req, ctx) => {
        const retryAfterS = Math.max(1, Math.ceil(ctx.ttl / 1000))
        return new AppError('RATE_LIMITED', `more than ${ctx.max} requests within ${opts.windowMs / 1000} s; try again in ${retryAfterS} s`, 429, { retryAfterS }, `${opts.windowMs / 1000} 秒内超过 ${ctx.max} 次，请 ${retryAfterS} 秒后再试`)
      },
    }),
  )
}
