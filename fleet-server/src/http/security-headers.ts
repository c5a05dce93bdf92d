// Security headers on every answer (API, /healthz, /metrics, errors, the
// dashboard) through @fastify/helmet. The API serves only JSON and text, so
// its CSP allows nothing at all; the dashboard's pages set their own, looser
// CSP (dashboard/routes.ts), which replaces this one on those answers.
import helmet from '@fastify/helmet'
import type { FastifyInstance } from 'fastify'

export const API_CSP_DIRECTIVES = {
  defaultSrc: ["'none'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
}

export async function registerSecurityHeaders(app: FastifyInstance): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: API_CSP_DIRECTIVES },
    // Nothing of ours is framed or fetched cross-origin.
    frameguard: { action: 'deny' },
  })
}
