// The one HTTP error mapping (STYLE §4): every failure leaves as
// { error: { code, message, details? } }. Driver and internal messages never
// leave the process: anything unexpected is logged and answered INTERNAL.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod'
import { AppError, type ErrorBody } from '../../../shared/src/index.js'
import { unsupportedMediaType } from './content-type.js'

const body = (code: string, message: string, details?: Record<string, unknown>): ErrorBody => ({
  error: { code, message, ...(details && { details }) },
})

/**
 * Fastify's `frameworkErrors` option: errors it raises before routing (a URL
 * that is not valid percent-encoding, a path parameter over maxParamLength)
 * never reach setErrorHandler and would leave in Fastify's own body shape.
 */
export function frameworkErrors(err: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400
  const message = err.code === 'FST_ERR_BAD_URL' ? 'the URL is not valid percent-encoding' : err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'a path parameter is longer than the server accepts' : err.message
  void reply.code(status).send(body('VALIDATION_FAILED', message))
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | AppError | Error, req, reply) => {
    if (err instanceof AppError) {
      if (err.statusCode >= 500) req.log.error({ err }, 'request failed')
      const retryAfterS = err.details?.retryAfterS
      if (typeof retryAfterS === 'number') void reply.header('retry-after', String(retryAfterS))
      return reply.code(err.statusCode).send(body(err.code, err.message, err.details))
    }
    // Our validator compiler already throws AppError; this catches schemas compiled elsewhere.
    if (hasZodFastifySchemaValidationErrors(err)) {
      const message = err.validation.map((v) => `✖ ${v.message}\n  → at ${v.instancePath}`).join('\n')
      return reply.code(400).send(body('VALIDATION_FAILED', message))
    }
    const fe = err as FastifyError
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send(body('PAYLOAD_TOO_LARGE', 'request body is larger than the 1 MiB limit'))
    }
    if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      const e = unsupportedMediaType(req, 'application/json (UTF-8); the CSV import takes text/csv')
      return reply.code(e.statusCode).send(body(e.code, e.message))
    }
    // Fastify's own 4xx (bad JSON, unsupported media type, …) carry messages meant for the client.
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      return reply.code(fe.statusCode).send(body('VALIDATION_FAILED', fe.message))
    }
    req.log.error({ err }, 'request failed')
    return reply.code(500).send(body('INTERNAL', 'internal server error; the server log has the details'))
  })

  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(body('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`))
  })
}
