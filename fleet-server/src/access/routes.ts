// /api/v1/users, and the bearer-token hook every /api/ route runs first.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { CreateUserBody, CreateUserReply } from '../../../shared/src/index.js'
import { errorResponses } from '../http/index.js'
import { unauthorized } from './errors.js'
import type { Principal } from './policy.js'
import type { AccessService } from './service.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the access hook on every /api/ request. */
    principal: Principal | null
  }
}

const BEARER = /^Bearer\s+(\S+)\s*$/i

/** onRequest hook: 401 unless the request carries a known bearer token. */
export function createAuthHook(access: AccessService) {
  return async function authenticate(req: FastifyRequest): Promise<void> {
    const header = req.headers.authorization
    const m = header ? BEARER.exec(header) : null
    if (!m) throw unauthorized('missing bearer token: send Authorization: Bearer TOKEN')
    const principal = await access.authenticate(m[1]!)
    if (!principal) throw unauthorized('the bearer token is not valid')
    req.principal = principal
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
