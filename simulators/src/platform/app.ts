// Stand-in for the national social poverty-alleviation platform (社会扶贫网):
// a real Fastify app that takes forwarded batches at POST /intake, refuses a
// batch it already holds (same idempotency key → 409, counted once), and can
// fail or slow down on purpose so forwarding is tested against a bad network,
// or answer badly on purpose (bad-answers.ts: garbled receipts, redirects,
// huge, slow or no answers). What it took survives a restart (append-only
// JSON lines, fsynced).
import { createHmac, timingSafeEqual } from 'node:crypto'
import { appendFileSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync } from 'node:fs'
import { dirname } from 'node:path'
import Fastify, { type FastifyReply } from 'fastify'
import type { Logger } from 'pino'
import { z } from 'zod'
import { PLATFORM_IDEMPOTENCY_HEADER, PLATFORM_SIGNATURE_HEADER, PlatformBatch } from '../../../shared/src/index.js'
import { answerBadly, STORING_MODES, type BadAnswerMode } from './bad-answers.js'

export { BAD_ANSWER_MODES, STORING_MODES, type BadAnswerMode } from './bad-answers.js'

/** Where a `redirect` answer points: a route on this server that answers 200 to anything (and counts the hits). */
export const REDIRECT_TARGET_PATH = '/redirect-target'

export interface PlatformOptions {
  /** Probability (0..1) that an intake request fails on purpose. */
  failRate: number
  /** Added delay per intake request, in ms. */
  latencyMs: number
  /** When set, batches must carry a valid HMAC-SHA256 signature with this key. */
  secret: string | null
  /** JSON-lines file of accepted batches; null keeps them in memory only. */
  storePath: string | null
  /** Bad answers to give (in turn, one per bad request); empty = none. */
  badAnswers?: readonly BadAnswerMode[]
  /** Probability (0..1) that a valid intake request gets a bad answer; default 1. */
  badRate?: number
  random?: () => number
  logger: Logger
}

export interface Received {
  batches: number
  sales: number
  records: number
  duplicatesRejected: number
  failuresInjected: number
  /** Bad answers given, by mode. */
  badAnswers: Partial<Record<BadAnswerMode, number>>
  /** Requests that reached REDIRECT_TARGET_PATH (a client that followed a redirect). */
  redirectTargetHits: number
}

interface Stored {
  key: string
  kind: string
  records: PlatformBatch['records']
}

export async function buildPlatform(opts: PlatformOptions) {
  const random = opts.random ?? Math.random
  const byKey = new Map<string, Stored>()
  let duplicatesRejected = 0
  let failuresInjected = 0
  let bad = { modes: [...(opts.badAnswers ?? [])], rate: opts.badRate ?? 1 }
  let badTurn = 0
  const badGiven: Partial<Record<BadAnswerMode, number>> = {}
  let redirectTargetHits = 0

  if (opts.storePath && existsSync(opts.storePath)) {
    for (const line of readFileSync(opts.storePath, 'utf8').split('\n')) {
      if (!line) continue
      try {
        const s = JSON.parse(line) as Stored
        byKey.set(s.key, s)
      } catch {
        break // a torn last line from a crash: everything before it was fsynced
      }
    }
  }
  const persist = (s: Stored) => {
    if (!opts.storePath) return
    mkdirSync(dirname(opts.storePath), { recursive: true })
    const fd = openSync(opts.storePath, 'a')
    try {
      appendFileSync(fd, `${JSON.stringify(s)}\n`)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
  }

  // forceCloseConnections: close() must not wait for answers that hang on purpose.
  const app = Fastify({ loggerInstance: opts.logger, bodyLimit: 64 * 1024 * 1024, forceCloseConnections: true })
  // Keep the raw body: the signature covers the exact bytes sent.
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body))

  const fail = (reply: FastifyReply, status: number, code: string, message: string) =>
    reply.code(status).send({ error: { code, message } })

  app.post('/intake', async (req, reply) => {
    if (opts.latencyMs > 0) await new Promise((r) => setTimeout(r, opts.latencyMs))
    const raw = req.body as Buffer
    if (opts.secret) {
      const sig = String(req.headers[PLATFORM_SIGNATURE_HEADER] ?? '')
      const want = `sha256=${createHmac('sha256', opts.secret).update(raw).digest('hex')}`
      if (sig.length !== want.length || !timingSafeEqual(Buffer.from(sig), Buffer.from(want))) {
        return fail(reply, 401, 'BAD_SIGNATURE', `header ${PLATFORM_SIGNATURE_HEADER} must be sha256=<HMAC-SHA256 of the body>`)
      }
    }
    let json: unknown
    try {
      json = JSON.parse(raw.toString('utf8'))
    } catch {
      return fail(reply, 400, 'BAD_JSON', 'body is not valid JSON')
    }
    const parsed = PlatformBatch.safeParse(json)
    if (!parsed.success) return fail(reply, 422, 'BAD_BATCH', z.prettifyError(parsed.error))
    const batch = parsed.data
    const headerKey = req.headers[PLATFORM_IDEMPOTENCY_HEADER]
    if (headerKey !== undefined && headerKey !== batch.idempotencyKey) {
      return fail(reply, 400, 'KEY_MISMATCH', `header ${PLATFORM_IDEMPOTENCY_HEADER} differs from the body's idempotencyKey`)
    }
    // Injected failures: half before storing (a plain outage), half after
    // storing (the platform took it but the answer was lost) - the second kind
    // is what makes idempotency keys necessary.
    if (bad.modes.length > 0 && random() < bad.rate) {
      const mode = bad.modes[badTurn++ % bad.modes.length]!
      badGiven[mode] = (badGiven[mode] ?? 0) + 1
      // A storing mode takes the batch once (a resend is not a second copy).
      if (STORING_MODES.has(mode) && !byKey.has(batch.idempotencyKey)) {
        const stored: Stored = { key: batch.idempotencyKey, kind: batch.kind, records: batch.records }
        persist(stored)
        byKey.set(stored.key, stored)
      }
      req.log.info({ mode, key: batch.idempotencyKey }, 'bad answer (injected)')
      reply.hijack()
      const host = req.headers.host ?? '127.0.0.1'
      answerBadly(mode, reply.raw, { accepted: batch.idempotencyKey, records: batch.records.length }, `http://${host}${REDIRECT_TARGET_PATH}`)
      return reply
    }
    const roll = random()
    if (roll < opts.failRate / 2) {
      failuresInjected++
      return fail(reply, 503, 'INJECTED_OUTAGE', 'platform unavailable (injected)')
    }
    if (byKey.has(batch.idempotencyKey)) {
      duplicatesRejected++
      return fail(reply, 409, 'DUPLICATE', `batch ${batch.idempotencyKey} was already received`)
    }
    const stored: Stored = { key: batch.idempotencyKey, kind: batch.kind, records: batch.records }
    persist(stored)
    byKey.set(stored.key, stored)
    if (roll < opts.failRate) {
      failuresInjected++
      return fail(reply, 500, 'INJECTED_LOST_REPLY', 'stored, but the reply failed (injected)')
    }
    return reply.code(202).send({ accepted: batch.idempotencyKey, records: batch.records.length })
  })

  const received = (): Received => {
    let sales = 0
    let records = 0
    for (const b of byKey.values()) {
      records += b.records.length
      for (const r of b.records) sales += r.salesCount
    }
    return { batches: byKey.size, sales, records, duplicatesRejected, failuresInjected, badAnswers: { ...badGiven }, redirectTargetHits }
  }
  // Would answer 200 to the redirected request: a client that follows redirects is seen here.
  app.all(REDIRECT_TARGET_PATH, async () => {
    redirectTargetHits++
    return { status: 'ok' }
  })
  app.get('/received', async () => received())
  app.get('/batches', async () => ({ batches: [...byKey.values()] }))
  app.get('/healthz', async () => ({ status: 'ok' }))
  /** Changes the bad answers from the next request on (tests: a platform that recovers). */
  const setBadAnswers = (modes: readonly BadAnswerMode[], rate = 1) => {
    bad = { modes: [...modes], rate }
  }
  return { app, received, batches: () => [...byKey.values()], setBadAnswers }
}
