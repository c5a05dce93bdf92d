// The Fastify instance: zod validation and serialization, the error mapping,
// OpenAPI generated from the same schemas, and the unauthenticated endpoints
// (/healthz, /openapi.json). Domains register their routes under /api/v1.
import swagger from '@fastify/swagger'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import { jsonSchemaTransform, serializerCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod'
import type { Logger } from 'pino'
import { HealthReply } from '../../../shared/src/index.js'
import { acceptJsonOnly } from './content-type.js'
import { refuseNul } from './nul-guard.js'
import { registerCookies, type CookieOptions } from './cookies.js'
import { frameworkErrors, installErrorHandling } from './errors.js'
import { DEFAULT_RATE_LIMIT, registerRateLimit, type RateLimitOptions } from './rate-limit.js'
import { registerSecurityHeaders } from './security-headers.js'
import { zodValidatorCompiler } from './validation.js'

export const BODY_LIMIT_BYTES = 1024 * 1024 // 1 MiB; API bodies are a few hundred bytes

export interface HttpOptions extends CookieOptions {
  readonly log: Logger
  readonly logRequests: boolean
  /** Reverse proxies (addresses, CIDRs) whose X-Forwarded-For gives req.ip. */
  readonly trustProxy?: readonly string[]
  /** Request limits on /api/; each field defaults to DEFAULT_RATE_LIMIT's. */
  readonly rateLimit?: Partial<RateLimitOptions>
  /** Certificate chain and key (PEM): serve HTTPS instead of HTTP. */
  readonly https?: { readonly cert: string; readonly key: string } | null
}

export async function createHttp(opts: HttpOptions): Promise<FastifyInstance> {
  const { log, logRequests, trustProxy = [], https = null } = opts
  // An HTTPS instance differs from an HTTP one only in its server's type; routes and inject are the same.
  const app = Fastify({
    ...(https && { https: { cert: https.cert, key: https.key } }),
    // Authorization headers are secrets; fastify's request serializer leaves
    // headers out, this keeps them out of any custom line too.
    loggerInstance: log.child({ component: 'http' }, { redact: ['req.headers.authorization', 'headers.authorization'] }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: !logRequests }),
    bodyLimit: BODY_LIMIT_BYTES,
    forceCloseConnections: true, // close() must not wait on idle keep-alive sockets
    trustProxy: trustProxy.length > 0 ? [...trustProxy] : false,
    frameworkErrors,
  })
  app.setValidatorCompiler(zodValidatorCompiler)
  app.setSerializerCompiler(serializerCompiler)
  installErrorHandling(app)
  app.decorateRequest('principal', null)
  await registerCookies(app, opts)
  acceptJsonOnly(app)
  refuseNul(app)
  registerSecurityHeaders(app)
  await registerRateLimit(app, { ...DEFAULT_RATE_LIMIT, ...opts.rateLimit })

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'fupin-fleet fleet server', description: '消费扶贫智能专柜 fleet server API', version: '1' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  })

  const typed = app.withTypeProvider<ZodTypeProvider>()
  typed.get('/healthz', { schema: { tags: ['ops'], summary: 'Liveness', security: [], response: { 200: HealthReply } } }, async () => ({ status: 'ok' as const }))
  typed.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  return app
}
