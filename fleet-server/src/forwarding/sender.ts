// Delivers the outbox to the national platform (PLATFORM_URL): each batch is
// POSTed with its idempotency key and an HMAC-SHA256 signature of the exact
// body bytes. 2xx → delivered; 409 (the platform already has that key) →
// delivered; network errors, timeouts, 429 and 5xx → retried with exponential
// backoff and full jitter; any other 4xx → failed, with the platform's
// message, for a person to look at. A batch stays 'pending' in SQLite until an
// answer settles it, so a restart resends it — and the key makes that safe.
import { createHmac } from 'node:crypto'
import type { Logger } from 'pino'
import { PLATFORM_IDEMPOTENCY_HEADER, PLATFORM_SIGNATURE_HEADER } from '../../../shared/src/index.js'
import type { ForwardingStore, OutboxRow } from './store.js'

export interface SenderOptions {
  /** Unset: batches wait in the outbox. */
  readonly url: string | null
  readonly secret: string | null
  /** First retry delay cap; doubles per attempt up to maxBackoffMs. */
  readonly baseBackoffMs: number
  readonly maxBackoffMs: number
  /** Per request, ms. */
  readonly timeoutMs: number
  /** Requests in flight at most. */
  readonly concurrency: number
}

export interface Sender {
  /** Sends what is due now (returns at once; delivery continues in the background). */
  kick(): void
  /** Resolves when nothing is in flight and nothing is due right now. */
  settled(): Promise<void>
  delivered(): number
  /** A failed batch was put back to pending by hand: forget its backoff and send it now. */
  retry(batchKey: string): void
  close(): Promise<void>
}

export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`
}

/** Full jitter: uniform in [0, min(max, base·2^(attempt−1))]. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(30, Math.max(0, attempt - 1)))
  return Math.round(random() * cap)
}

type Outcome = { kind: 'delivered'; status: number } | { kind: 'failed'; status: number; message: string } | { kind: 'retry'; status: number | null; message: string; retryAfterMs?: number }

export function createSender(opts: SenderOptions, store: ForwardingStore, now: () => Date, log: Logger): Sender {
  const inFlight = new Map<string, { abort: AbortController; done: Promise<void> }>()
  // Retry times live in memory on the real clock: after a restart every pending batch is due.
  const notBefore = new Map<string, number>()
  const attempts = new Map<string, number>()
  let timer: NodeJS.Timeout | null = null
  let closed = false
  let deliveredCount = 0
  let waiters: Array<() => void> = []

  const isSettled = (): boolean => {
    if (inFlight.size > 0) return false
    const t = Date.now()
    return !store.pendingBatches().some((b) => (notBefore.get(b.batchKey) ?? 0) <= t)
  }
  const notify = () => {
    if (!isSettled()) return
    const w = waiters
    waiters = []
    for (const f of w) f()
  }

  async function post(b: OutboxRow): Promise<Outcome> {
    const abort = new AbortController()
    const timeout = setTimeout(() => abort.abort(new Error(`no answer within ${opts.timeoutMs} ms`)), opts.timeoutMs)
    inFlight.get(b.batchKey)!.abort.signal.addEventListener('abort', () => abort.abort(new Error('sender closing')))
    try {
      const res = await fetch(opts.url!, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [PLATFORM_IDEMPOTENCY_HEADER]: b.batchKey,
          ...(opts.secret !== null && { [PLATFORM_SIGNATURE_HEADER]: signBody(b.body, opts.secret) }),
        },
        body: b.body,
        signal: abort.signal,
      })
      const text = await res.text()
      if (res.ok || res.status === 409) return { kind: 'delivered', status: res.status }
      let message = text.slice(0, 1000)
      try {
        const j = JSON.parse(text) as { error?: { code?: string; message?: string } }
        if (j.error?.message) message = j.error.code ? `${j.error.code}: ${j.error.message}` : j.error.message
      } catch {
        /* not JSON: keep the text */
      }
      if (res.status === 429 || res.status >= 500) {
        const ra = Number(res.headers.get('retry-after'))
        return { kind: 'retry', status: res.status, message, ...(Number.isFinite(ra) && ra > 0 && { retryAfterMs: Math.min(ra * 1000, opts.maxBackoffMs) }) }
      }
      return { kind: 'failed', status: res.status, message }
    } catch (err) {
      return { kind: 'retry', status: null, message: (err as Error).message }
    } finally {
      clearTimeout(timeout)
    }
  }

  async function deliver(b: OutboxRow): Promise<void> {
    const o = await post(b)
    const at = now().toISOString()
    if (o.kind === 'delivered') {
      store.markDelivered(b.batchKey, o.status, at)
      deliveredCount++
      notBefore.delete(b.batchKey)
      attempts.delete(b.batchKey)
      log.info({ batchKey: b.batchKey, kind: b.kind, status: o.status }, 'batch delivered to the platform')
    } else if (o.kind === 'failed') {
      store.markFailed(b, o.status, o.message, at)
      log.error({ batchKey: b.batchKey, status: o.status, message: o.message }, 'platform refused a batch; left in the failed list')
    } else {
      if (closed) return // unknown outcome at shutdown: still pending, resent after restart
      const n = (attempts.get(b.batchKey) ?? 0) + 1
      attempts.set(b.batchKey, n)
      const wait = o.retryAfterMs ?? backoffMs(n, opts.baseBackoffMs, opts.maxBackoffMs)
      notBefore.set(b.batchKey, Date.now() + wait)
      store.markRetry(b.batchKey, o.status, o.message)
      log.warn({ batchKey: b.batchKey, status: o.status, message: o.message, attempt: n, retryInMs: wait }, 'forwarding failed; will retry')
    }
  }

  function pump(): void {
    if (closed || opts.url === null) return
    const t = Date.now()
    let nextDue = Number.POSITIVE_INFINITY
    for (const b of store.pendingBatches()) {
      if (inFlight.size >= opts.concurrency) break
      if (inFlight.has(b.batchKey)) continue
      const due = notBefore.get(b.batchKey) ?? 0
      if (due > t) {
        nextDue = Math.min(nextDue, due)
        continue
      }
      const entry = { abort: new AbortController(), done: Promise.resolve() }
      inFlight.set(b.batchKey, entry)
      entry.done = deliver(b)
        .catch((err: unknown) => log.error({ err, batchKey: b.batchKey }, 'forwarding a batch failed unexpectedly'))
        .finally(() => {
          inFlight.delete(b.batchKey)
          pump()
          notify()
        })
    }
    if (Number.isFinite(nextDue)) {
      if (timer) clearTimeout(timer)
      timer = setTimeout(() => {
        timer = null
        pump()
      }, Math.max(1, nextDue - Date.now()))
      timer.unref()
    }
  }

  return {
    kick: pump,
    settled() {
      if (opts.url === null || isSettled()) return Promise.resolve()
      return new Promise((resolve) => waiters.push(resolve))
    },
    delivered: () => deliveredCount,
    retry(batchKey) {
      notBefore.delete(batchKey)
      attempts.delete(batchKey)
      pump()
    },
    async close() {
      closed = true
      if (timer) clearTimeout(timer)
      for (const f of inFlight.values()) f.abort.abort()
      await Promise.all([...inFlight.values()].map((f) => f.done))
      const w = waiters
      waiters = []
      for (const f of w) f()
    },
  }
}
