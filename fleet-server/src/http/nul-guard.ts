// U+0000 in request text. SQLite stores it, PostgreSQL's text type cannot
// (SQLSTATE 22021): the same request must get the same answer on both
// engines, so text with NUL is refused at the door — in the URL (path and
// query, percent-encoded as %00) and in any string of a JSON body — with a
// 400 rather than reaching a store.
import type { FastifyInstance } from 'fastify'
import { AppError } from '../../../shared/src/index.js'

const WHERE_ZH: Readonly<Record<string, string>> = { 'the URL': '网址', 'the request body': '请求体' }
const nulRefused = (where: string): AppError =>
  new AppError('VALIDATION_FAILED', `${where} contains the NUL character (U+0000), which cannot be stored`, 400, undefined, `${WHERE_ZH[where] ?? '请求'}含有无法保存的空字符（U+0000）`)

/** True when any string in a parsed JSON value (keys included) holds U+0000. Iterative: bodies may nest deeply. */
export function hasNul(root: unknown): boolean {
  const stack: unknown[] = [root]
  while (stack.length > 0) {
    const v = stack.pop()
    if (typeof v === 'string') {
      if (v.includes('\0')) return true
    } else if (Array.isArray(v)) {
      for (const x of v) stack.push(x)
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k.includes('\0')) return true
        stack.push(x)
      }
    }
  }
  return false
}

export function refuseNul(app: FastifyInstance): void {
  // Callback hooks: an async one costs every request a promise and its turns.
  app.addHook('onRequest', (req, _reply, done) => done(req.url.includes('%00') ? nulRefused('the URL') : undefined))
  app.addHook('preValidation', (req, _reply, done) => done(req.body !== undefined && hasNul(req.body) ? nulRefused('the request body') : undefined))
}
