// Stand-in for the national social poverty-alleviation platform (社会扶贫网):
// a real Fastify app that takes forwarded batches at POST /intake, refuses a
// batch it already holds (same idempotency key → 409, counted once), and can
// fail or slow down on purpose so forwarding is tested against a bad network.
// What it took survives a restart (append-only JSON lines, fsynced).
import { createHmac, timingSafeEqual } from 'node:crypto'
import { appendFileSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync } from 'node:fs'
import { dirname } from 'node:path'
import Fastify, { type FastifyReply } from 'fastify'
import type { Logger } from 'pino'
import { z } from 'zod'
import { PLATFORM_IDEMPOTENCY_HEADER, PLATFORM_SIGNATURE_HEADER, PlatformBatch } from '../../../shared/src/index.js'

export interface PlatformOptions {
  /** Probability (0..1) that an intake request fails on purpose. */
  failRate: number
  /** Added delay per intake request, in ms. */
  latencyMs: number
  /** When set, batches must carry a valid HMAC-SHA256 signature with this key. */
  secret: string | null
  /** JSON-lines file of accepted batches; null keeps them in memory only. */
  storePath: string | null
  random?: () => number
  logger: Logger
}

export interface Received {
  batches: number
  sales: number
  records: number
  duplicatesRejected: number
  failuresInjected: number
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

  const app = Fastify({ loggerInstance: opts.logger, bodyLimit: 64 * 1024 * 1024 })
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
    return { batches: byKey.size, sales, records, duplicatesRejected, failuresInjected }
  }
  app.get('/received', async () => received())
  app.get('/batches', async () => ({ batches: [...byKey.values()] }))
  app.get('/healthz', async () => ({ status: 'ok' }))
  return { app, received, batches: () => [...byKey.values()] }
}
