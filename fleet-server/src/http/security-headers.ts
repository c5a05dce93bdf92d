// Security headers on every answer (API, /healthz, /metrics, errors, the
// dashboard) through helmet. The API serves only JSON and text, so its CSP
// allows nothing at all; the dashboard's pages set their own, looser CSP
// (dashboard/routes.ts), which replaces this one on those answers.
import type { FastifyInstance } from 'fastify'
import helmet from 'helmet'

export const API_CSP_DIRECTIVES = {
  defaultSrc: ["'none'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
}

export function registerSecurityHeaders(app: FastifyInstance): void {
  // helmet's middleware built once, the same headers. @fastify/helmet 13
  // builds it again on every request (options parsed, CSP directives checked
  // and joined) and adds an async hook for CSP nonces we never use: part of
  // what made a cached GET /rollout 1.4x slower than at #13's start.
  const setHeaders = helmet({
    contentSecurityPolicy: { useDefaults: false, directives: API_CSP_DIRECTIVES },
    // Nothing of ours is framed or fetched cross-origin.
    frameguard: { action: 'deny' },
  })
  app.addHook('onRequest', (req, reply, done) => setHeaders(req.raw, reply.raw, (err) => done(err as Error | undefined)))
}
