// What bodies the API parses. JSON routes take application/json in UTF-8
// only (RFC 8259 §8.1): Fastify's default text/plain parser would hand a
// string to a JSON route (a confusing 400), and a declared latin1/GBK body
// would be decoded as UTF-8 anyway. Anything else is 415 UNSUPPORTED_MEDIA_TYPE
// (Fastify itself refuses types it has no parser for, and a body without a
// Content-Type). Routes that take another type (the CSV import) add their
// parser in their own encapsulated plugin, with `assertUtf8Charset`.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { AppError } from '../../../shared/src/index.js'

const CHARSET = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/i

/** The Content-Type's charset parameter, lower-cased; null when absent. */
export function charsetOf(contentType: string | undefined): string | null {
  const m = CHARSET.exec(contentType ?? '')
  return m ? (m[1] ?? m[2] ?? '').toLowerCase() : null
}

export const unsupportedMediaType = (req: FastifyRequest, expected: string) =>
  new AppError(
    'UNSUPPORTED_MEDIA_TYPE',
    `${req.method} ${req.url.split('?')[0]} does not take Content-Type ${JSON.stringify(req.headers['content-type'] ?? '(none)')}; send ${expected}`,
    415,
    undefined,
    req.headers['content-type'] ? `收到的是 “${req.headers['content-type'].replace(/\s+/g, '')}”` : '请求未声明内容类型',
  )

/** Throws 415 unless the request's charset is absent or UTF-8 (any case). */
export function assertUtf8Charset(req: FastifyRequest, expected: string): void {
  const charset = charsetOf(req.headers['content-type'])
  if (charset !== null && charset !== 'utf-8') throw unsupportedMediaType(req, expected)
}

export function acceptJsonOnly(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    try {
      assertUtf8Charset(req, 'application/json (UTF-8)')
    } catch (err) {
      done(err as AppError, undefined)
      return
    }
    parseJson(req, body as string, done)
  })
}
