// Request validation with the routes' zod schemas. Unlike the type provider's
// own compiler, this keeps the ZodError, so the answer carries
// z.prettifyError's text: "✖ Invalid input: expected string, received number → at username".
import type { FastifySchemaCompiler } from 'fastify'
import { z } from 'zod'
import { AppError } from '../../../shared/src/index.js'

export const zodValidatorCompiler: FastifySchemaCompiler<z.ZodType> = ({ schema, httpPart }) => (data) => {
  const r = schema.safeParse(data)
  if (r.success) return { value: r.data }
  const where = httpPart === 'querystring' ? 'query' : (httpPart ?? 'request')
  return { error: new AppError('VALIDATION_FAILED', z.prettifyError(r.error), 400, { in: where }) }
}
