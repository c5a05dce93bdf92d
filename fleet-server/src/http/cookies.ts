// Cookies through @fastify/cookie rather than a hand-written parser: a
// malformed percent-encoding (`%E0%A4%A`) is kept as the raw text instead of
// throwing, so a bad session cookie is just an unknown session (401), never a 500.
import cookie from '@fastify/cookie'
import type { FastifyInstance } from 'fastify'

/** The dashboard's session cookie (set by access/routes.ts). */
export const SESSION_COOKIE = 'fleet_session'

export interface CookieOptions {
  /**
   * Mark cookies `Secure` on every answer (the server sits behind a TLS
   * terminator that speaks plain HTTP to it). Otherwise they are `Secure`
   * exactly when the request came over HTTPS (`req.protocol`).
   */
  readonly secureCookies?: boolean
}

export async function registerCookies(app: FastifyInstance, { secureCookies = false }: CookieOptions): Promise<void> {
  // parseOptions are also the defaults of reply.setCookie.
  await app.register(cookie, { parseOptions: { secure: secureCookies ? true : 'auto' } })
}
