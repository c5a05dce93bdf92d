// /api/v1/users and /api/v1/session, and the hook every /api/ route runs
// first: a bearer token (scripts, fleetctl) or the dashboard's session cookie.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { CreateUserBody, CreateUserReply, LoginBody, MeReply, SessionReply } from '../../../shared/src/index.js'
import { errorResponses, SESSION_COOKIE } from '../http/index.js'
import { unauthorized } from './errors.js'
import type { Principal } from './policy.js'
import { SESSION_TTL_MS, type AccessService } from './service.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the access hook on every /api/ request. */
    principal: Principal | null
  }
  interface FastifyContextConfig {
    /** Reachable without credentials (the login itself). */
    isPublic?: boolean
  }
}

export { SESSION_COOKIE }

function cookieOf(req: FastifyRequest, name: string): string | null {
  // @fastify/cookie (registered by createHttp) parses; a value it cannot
  // percent-decode stays raw, which no session matches.
  return req.cookies[name] || null
}

function setSessionCookie(reply: FastifyReply, value: string, maxAgeS: number): void {
  // HttpOnly: page scripts never see it; SameSite=Strict: no other site's page
  // can make the browser send it (the CSRF defence); Secure under HTTPS
  // (createHttp's cookie defaults: the request's protocol, or always when configured).
  void reply.setCookie(SESSION_COOKIE, value, { path: '/', httpOnly: true, sameSite: 'strict', maxAge: maxAgeS })
}

const BEARER = /^Bearer\s+(\S+)\s*$/i

/** onRequest hook: 401 unless the request carries a known bearer token or a live session cookie. */
export function createAuthHook(access: AccessService) {
  return async function authenticate(req: FastifyRequest): Promise<void> {
    if (req.routeOptions.config?.isPublic) return
    const header = req.headers.authorization
    if (header) {
      const m = BEARER.exec(header)
      if (!m) throw unauthorized('malformed Authorization header: send Authorization: Bearer TOKEN', '请求头 “Authorization” 格式不对，应为 “Bearer” 加令牌')
      const principal = await access.authenticate(m[1]!)
      if (!principal) throw unauthorized('the bearer token is not valid', '令牌无效')
      req.principal = principal
      return
    }
    const session = cookieOf(req, SESSION_COOKIE)
    if (session) {
      const principal = await access.authenticateSession(session)
      if (!principal) throw unauthorized('the session has expired; log in again', '登录已过期，请重新登录')
      req.principal = principal
      return
    }
    throw unauthorized('missing bearer token: send Authorization: Bearer TOKEN', '缺少令牌')
  }
}

/** The authenticated principal; routes behind the auth hook always have one. */
export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw unauthorized('not authenticated')
  return req.principal
}

export const userRoutes = (access: AccessService): FastifyPluginAsync =>
  async function users(app) {
    app.withTypeProvider<ZodTypeProvider>().post('/users', {
      schema: {
        tags: ['access'],
        summary: 'Create a user and its bearer token (admin only)',
        body: CreateUserBody,
        response: { 201: CreateUserReply, ...errorResponses },
      },
    }, async (req, reply) => {
      const created = await access.createUser(principalOf(req), req.body)
      return reply.code(201).send(created)
    })
  }

/** Dashboard login: POST /session sets the cookie, DELETE /session ends it, GET /me says who is in. */
export const sessionRoutes = (access: AccessService): FastifyPluginAsync =>
  async function sessions(fastify) {
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    const tags = ['access']
    app.post('/session', {
      config: { isPublic: true },
      schema: { tags, summary: 'Log in with username and password; sets an HttpOnly, SameSite=Strict session cookie', security: [], body: LoginBody, response: { 200: SessionReply, ...errorResponses } },
    }, async (req, reply) => {
      const { sessionId, session } = await access.login(req.body.username, req.body.password, req.ip)
      setSessionCookie(reply, sessionId, SESSION_TTL_MS / 1000)
      return session
    })
    app.delete('/session', {
      schema: { tags, summary: 'Log out: ends the session of the cookie sent', response: { 204: z.null(), ...errorResponses } },
    }, async (req, reply) => {
      const session = cookieOf(req, SESSION_COOKIE)
      if (session) await access.logout(session)
      setSessionCookie(reply, '', 0)
      return reply.code(204).send(null)
    })
    app.get('/me', {
      schema: { tags, summary: 'Who the caller is: role and scope', response: { 200: MeReply, ...errorResponses } },
    }, async (req) => access.me(principalOf(req)))
  }
