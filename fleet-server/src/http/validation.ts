// Request validation with the routes' zod schemas. Unlike the type provider's
// own compiler, this keeps the ZodError: users read its issues in Chinese
// (字段 “venueType”：须为 …, issue 15), the log the English z.prettifyError text.
import type { FastifySchemaCompiler } from 'fastify'
import { z } from 'zod'
import { AppError, zodErrorZh, zodIssueZh } from '../../../shared/src/index.js'

export const zodValidatorCompiler: FastifySchemaCompiler<z.ZodType> = ({ schema, httpPart }) => (data) => {
  // The Chinese issue texts apply to this parse only (not zod's global config):
  // MQTT and config validation keep their own texts.
  const r = schema.safeParse(data, { error: zodIssueZh })
  if (r.success) return { value: r.data }
  const where = httpPart === 'querystring' ? 'query' : (httpPart ?? 'request')
  const en = schema.safeParse(data)
  return { error: new AppError('VALIDATION_FAILED', en.success ? 'invalid request' : z.prettifyError(en.error), 400, { in: where }, zodErrorZh(r.error)) }
}
