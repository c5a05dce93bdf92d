// The one HTTP error mapping (STYLE §4): every failure leaves as
// { error: { code, message, details? } }, the message in Chinese (issue 15:
// the code's text and the specifics); the English text goes to the log.
// Driver and internal messages never leave the process: anything unexpected
// is logged and answered INTERNAL.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod'
import { AppError, ERROR_CODES, quoteZh, type ErrorBody } from '../../../shared/src/index.js'
import { unsupportedMediaType } from './content-type.js'

const body = (code: string, message: string, details?: Record<string, unknown>): ErrorBody => ({
  error: { code, message, ...(details && { details }) },
})

/**
 * Fastify's `frameworkErrors` option: errors it raises before routing (a URL
 * that is not valid percent-encoding, a path parameter over maxParamLength)
 * never reach setErrorHandler and would leave in Fastify's own body shape.
 */
export function frameworkErrors(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400
  const zh = err.code === 'FST_ERR_BAD_URL' ? '网址不是合法的百分号编码' : err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? '路径参数超过服务器允许的长度' : '请求无法解析'
  req.log.info({ code: err.code, reason: err.message }, 'request refused before routing')
  void reply.code(status).send(body('VALIDATION_FAILED', `${ERROR_CODES.VALIDATION_FAILED}：${zh}`))
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | AppError | Error, req, reply) => {
    if (err instanceof AppError) {
      if (err.statusCode >= 500) req.log.error({ err }, 'request failed')
      else req.log.info({ code: err.code, reason: err.message }, 'request refused')
      const retryAfterS = err.details?.retryAfterS
      if (typeof retryAfterS === 'number') void reply.header('retry-after', String(retryAfterS))
      return reply.code(err.statusCode).send(body(err.code, err.messageZh, err.details))
    }
    // Our validator compiler already throws AppError; this catches schemas compiled elsewhere.
    if (hasZodFastifySchemaValidationErrors(err)) {
      req.log.info({ code: 'VALIDATION_FAILED', reason: err.message }, 'request refused')
      const zh = err.validation.map((v) => (v.instancePath ? `字段 ${quoteZh(v.instancePath)}：不合法` : '不合法')).join('；\n')
      return reply.code(400).send(body('VALIDATION_FAILED', `${ERROR_CODES.VALIDATION_FAILED}：${zh}`))
    }
    const fe = err as FastifyError
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send(body('PAYLOAD_TOO_LARGE', `${ERROR_CODES.PAYLOAD_TOO_LARGE}：上限为 1 MiB`))
    }
    if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      const e = unsupportedMediaType(req, 'application/json (UTF-8); the CSV import takes text/csv')
      return reply.code(e.statusCode).send(body(e.code, e.messageZh))
    }
    // Fastify's own 4xx (bad JSON, an empty JSON body, …): their English goes to the log.
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      req.log.info({ code: fe.code, reason: fe.message }, 'request refused')
      return reply.code(fe.statusCode).send(body('VALIDATION_FAILED', `${ERROR_CODES.VALIDATION_FAILED}：${fastifyClientErrorZh(fe)}`))
    }
    req.log.error({ err }, 'request failed')
    return reply.code(500).send(body('INTERNAL', `${ERROR_CODES.INTERNAL}，详情见服务器日志`))
  })

  app.setNotFoundHandler((req, reply) => {
    req.log.info({ code: 'NOT_FOUND', reason: `no route ${req.method} ${req.url.split('?')[0]}` }, 'request refused')
    reply.code(404).send(body('NOT_FOUND', `${ERROR_CODES.NOT_FOUND}：没有 ${req.method} ${quoteZh(req.url.split('?')[0])} 这个接口`))
  })
}

/** Fastify's client errors that reach the handler, in Chinese (their codes: fastify docs/Reference/Errors.md). */
function fastifyClientErrorZh(fe: FastifyError): string {
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return '请求体不是合法的 JSON'
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return '请求头声明了 JSON，但请求体为空'
    case 'FST_ERR_CTP_INVALID_TYPE':
      return '请求头 content-type 不合法'
    default:
      return '请求无法处理'
  }
}
