// Delivers the outbox to the national platform (PLATFORM_URL): each batch is
// POSTed with its idempotency key and an HMAC-SHA256 signature of the exact
// body bytes. Only a receipt for that batch counts as delivered (receipt.ts);
// a redirect, an answer that is too big or too slow (platform-client.ts),
// a network error, 429 or 5xx is retried with exponential backoff and full
// jitter; any other 4xx → failed, with the platform's message, for a person
// to look at. A batch stays 'pending' in the database until an answer settles
// it, so a restart resends it — and the key makes that safe. Closing aborts
// what is in flight and leaves it pending. No transaction is ever held across
// a request: an answer's writes commit after it has come back. With two
// servers on one PostgreSQL each batch is sent by the one that claims it
// (claims.ts); the other looks again after a backoff step.
import { createHmac } from 'node:crypto'
import type { Logger } from 'pino'
import { PLATFORM_IDEMPOTENCY_HEADER, PLATFORM_SIGNATURE_HEADER } from '../../../shared/src/index.js'
import type { FleetDb } from '../db/database.js'
import { createBatchClaims } from './claims.js'
import { createPlatformClient, type AnswerLimits, type PlatformClient } from './platform-client.js'
import { judgeAnswer, type Outcome } from './receipt.js'
import type { ForwardingStore, OutboxRow } from './store.js'

export interface SenderOptions extends AnswerLimits {
  /** Unset: batches wait in the outbox. */
  readonly url: string | null
  readonly secret: string | null
  /** First retry delay cap; doubles per attempt up to maxBackoffMs. */
  readonly baseBackoffMs: number
  readonly maxBackoffMs: number
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
  /**
   * Every batch waiting out a backoff is due now (a person forced a pass: the
   * platform is back, say). Attempt counts stay, so a further failure still
   * waits longer.
   */
  retryWaitingNow(): void
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

/** Records in a batch body, for checking the receipt; 0 when the body cannot be read (then no receipt matches). */
function recordCount(body: string): number {
  try {
    const j = JSON.parse(body) as { records?: unknown }
    return Array.isArray(j.records) ? j.records.length : 0
  } catch {
    return 0
  }
}

export function createSender(opts: SenderOptions, db: FleetDb, store: ForwardingStore, now: () => Date, log: Logger): Sender {
  const inFlight = new Map<string, { abort: AbortController; done: Promise<void> }>()
  // Batches settled (delivered or failed) since the running pump began reading
  // the queue: its read may predate their write, and must not send them again.
  const settledDuringRead = new Set<string>()
  let pumping: Promise<void> | null = null
  let pumpAgain = false
  // Retry times live in memory on the real clock: after a restart every pending batch is due.
  const notBefore = new Map<string, number>()
  const attempts = new Map<string, number>()
  let timer: NodeJS.Timeout | null = null
  let closed = false
  let deliveredCount = 0
  let waiters: Array<() => void> = []
  const client: PlatformClient | null = opts.url === null ? null : createPlatformClient(opts.url, opts)
  const claims = createBatchClaims(db, store, log)

  /** After a pump: nothing in flight means it found nothing due (it starts what is due, up to the concurrency). */
  const notify = () => {
    if (inFlight.size > 0 || pumping) return
    const w = waiters
    waiters = []
    for (const f of w) f()
  }

  async function post(b: OutboxRow, signal: AbortSignal): Promise<Outcome> {
    try {
      const answer = await client!.post(
        b.body,
        {
          'content-type': 'application/json',
          [PLATFORM_IDEMPOTENCY_HEADER]: b.batchKey,
          ...(opts.secret !== null && { [PLATFORM_SIGNATURE_HEADER]: signBody(b.body, opts.secret) }),
        },
        signal,
      )
      return judgeAnswer(answer, { batchKey: b.batchKey, records: recordCount(b.body) }, opts.maxBackoffMs)
    } catch (err) {
      return { kind: 'retry', status: null, message: (err as Error).message }
    }
  }

  async function deliver(batchKey: string, signal: AbortSignal): Promise<void> {
    if (!(await claims.take(batchKey))) {
      // Another server is sending it, or has settled it since the queue was read: look again later.
      notBefore.set(batchKey, Date.now() + opts.baseBackoffMs)
      return
    }
    try {
      // The body, read now (the queue read carries keys only); settled since that read: nothing to send.
      const b = await store.outbox(batchKey)
      if (b?.state !== 'pending') return
      await settle(b, await post(b, signal))
    } finally {
      // Only once the outcome is recorded: the next claimant reads it and skips a settled batch.
      await claims.release(batchKey)
    }
  }

  async function settle(b: OutboxRow, o: Outcome): Promise<void> {
    const at = now().toISOString()
    if (o.kind === 'delivered') {
      await store.markDelivered(db.kysely, b.batchKey, o.status, at)
      settledDuringRead.add(b.batchKey)
      deliveredCount++
      notBefore.delete(b.batchKey)
      attempts.delete(b.batchKey)
      log.info({ batchKey: b.batchKey, kind: b.kind, status: o.status }, 'batch delivered to the platform')
    } else if (o.kind === 'failed') {
      await db.transaction((tx) => store.markFailed(tx, b, o.status, o.message, at))
      settledDuringRead.add(b.batchKey)
      log.error({ batchKey: b.batchKey, status: o.status, message: o.message }, 'platform refused a batch; left in the failed list')
    } else {
      if (closed) return // unknown outcome at shutdown: still pending, resent after restart
      const n = (attempts.get(b.batchKey) ?? 0) + 1
      attempts.set(b.batchKey, n)
      const wait = o.retryAfterMs ?? backoffMs(n, opts.baseBackoffMs, opts.maxBackoffMs)
      notBefore.set(b.batchKey, Date.now() + wait)
      await store.markRetry(db.kysely, b.batchKey, o.status, o.message)
      log.warn({ batchKey: b.batchKey, status: o.status, message: o.message, attempt: n, retryInMs: wait }, 'forwarding failed; will retry')
    }
  }

  /** Sends what is due; one pump at a time, and one more after it when asked meanwhile. */
  function pump(): void {
    if (closed || opts.url === null) return
    if (pumping) {
      pumpAgain = true
      return
    }
    pumping = pumpOnce()
      .catch((err: unknown) => log.error({ err }, 'reading the forwarding outbox failed'))
      .finally(() => {
        pumping = null
        if (pumpAgain && !closed) {
          pumpAgain = false
          pump()
        } else notify()
      })
  }

  async function pumpOnce(): Promise<void> {
    settledDuringRead.clear()
    const pending = await store.pendingKeys()
    if (closed) return
    const t = Date.now()
    let nextDue = Number.POSITIVE_INFINITY
    for (const batchKey of pending) {
      if (inFlight.size >= opts.concurrency) break
      if (inFlight.has(batchKey) || settledDuringRead.has(batchKey)) continue
      const due = notBefore.get(batchKey) ?? 0
      if (due > t) {
        nextDue = Math.min(nextDue, due)
        continue
      }
      const entry = { abort: new AbortController(), done: Promise.resolve() }
      inFlight.set(batchKey, entry)
      entry.done = deliver(batchKey, entry.abort.signal)
        .catch((err: unknown) => log.error({ err, batchKey }, 'forwarding a batch failed unexpectedly'))
        .finally(() => {
          inFlight.delete(batchKey)
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
      // Closed: nothing more will be sent, so nothing is left to wait for.
      if (opts.url === null || closed) return Promise.resolve()
      return new Promise((resolve) => {
        waiters.push(resolve)
        // The pump finds out whether anything is due, and answers the waiters when nothing is.
        pump()
      })
    },
    delivered: () => deliveredCount,
    retry(batchKey) {
      notBefore.delete(batchKey)
      attempts.delete(batchKey)
      pump()
    },
    retryWaitingNow() {
      notBefore.clear()
      pump()
    },
    async close() {
      closed = true
      if (timer) clearTimeout(timer)
      for (const f of inFlight.values()) f.abort.abort(new Error('sender closing'))
      await Promise.all([...inFlight.values()].map((f) => f.done))
      await pumping
      await claims.close()
      client?.close()
      const w = waiters
      waiters = []
      for (const f of w) f()
    },
  }
}
