// The delivery loop (issue 16 §6), run by the jobs leader only: every tick it
// takes the subscriptions with due outbox rows (a page at a time), a few at
// once, and for each one skips the rows its owner may no longer see, then
// sends the rest one message each — or, when more than `digestThreshold`
// would go out within `digestWindowMs`, one digest for all of them, so a
// city-wide outage reaches a city admin's webhook as a few messages, not
// thousands. A failed send is due again after an exponential backoff and
// given up (failed) once its row is older than `giveUpMs`.
import type { Logger } from 'pino'
import { uuidv7 } from '../../../shared/src/index.js'
import { alertBody, dingtalkSignedUrl, digestBody, type FormatContext } from './format.js'
import { postWebhook, type SendResult } from './send.js'
import type { NotificationStore, OwnedSubscription } from './store.js'

export interface NotificationOptions {
  /** How often the leader looks for due rows, ms. */
  readonly tickMs: number
  /** Per request, ms: a receiver that hangs must not hold the loop. */
  readonly timeoutMs: number
  /** First retry after this, doubling per attempt up to maxBackoffMs. */
  readonly baseBackoffMs: number
  readonly maxBackoffMs: number
  /** A row still undelivered this long after its transition is failed for good. */
  readonly giveUpMs: number
  /** More transitions than this due within digestWindowMs for one subscription: one digest instead. */
  readonly digestThreshold: number
  readonly digestWindowMs: number
  /** Transitions shown in full in a digest. */
  readonly digestLines: number
  /** Subscriptions served at once. */
  readonly concurrency: number
  /** Subscriptions taken per pass (the rest wait for the next tick): bounded memory. */
  readonly subscriptionsPerPass: number
}

export const DEFAULT_NOTIFICATIONS: NotificationOptions = Object.freeze({
  tickMs: 2_000, // 2 s: a raised alert reaches the webhook within a few seconds
  timeoutMs: 5_000, // 5 s: robots answer in well under a second
  baseBackoffMs: 30_000, // 30 s, 1 min, 2 min … 1 h
  maxBackoffMs: 3_600_000,
  giveUpMs: 24 * 3_600_000, // 24 h: a day-old alert is on the dashboard already
  digestThreshold: 10, // 10 a minute is what a person still reads one by one
  digestWindowMs: 60_000,
  digestLines: 5,
  concurrency: 4,
  subscriptionsPerPass: 100,
})

/** A claim older than this belongs to a pass that died mid-send (timeoutMs is far below). */
const STALE_CLAIM_MS = 5 * 60_000

export interface DeliveryDeps {
  readonly store: NotificationStore
  readonly options: NotificationOptions
  readonly format: FormatContext
  readonly isLeader: () => Promise<boolean>
  readonly now: () => Date
  /** The wall clock, for 钉钉's signature timestamp (checked against 钉钉's own clock). */
  readonly wallClockMs?: () => number
  readonly log: Logger
}

export interface DeliveryLoop {
  /** One pass now (tests, and the tick); concurrent callers share it. */
  pass(): Promise<void>
  /** Stops the ticks, aborts sends in flight and waits for the pass. */
  close(): Promise<void>
}

/** The URL a message goes to: 钉钉 with a secret is signed per request. */
export function targetUrl(s: Pick<OwnedSubscription, 'url' | 'format' | 'secret'>, wallClockMs: number): string {
  return s.format === 'dingtalk' && s.secret ? dingtalkSignedUrl(s.url, s.secret, wallClockMs) : s.url
}

export function startDeliveryLoop(deps: DeliveryDeps): DeliveryLoop {
  const { store, options: o, log } = deps
  const wallClock = deps.wallClockMs ?? Date.now
  const abort = new AbortController()
  let running: Promise<void> | null = null
  const backoffMs = (attempts: number) => Math.min(o.baseBackoffMs * 2 ** Math.max(0, attempts - 1), o.maxBackoffMs)

  const send = (s: OwnedSubscription, body: unknown): Promise<SendResult> => postWebhook(targetUrl(s, wallClock()), body, s.format, o.timeoutMs, abort.signal)

  async function settle(s: OwnedSubscription, claim: string, r: SendResult, nowIso: string, digestId: string | null, rows: number): Promise<void> {
    if (r.delivered) {
      await store.sent(claim, nowIso, digestId)
      return
    }
    const giveUpBefore = new Date(Date.parse(nowIso) - o.giveUpMs).toISOString()
    await store.failed(claim, r.error ?? '发送失败', nowIso, giveUpBefore, backoffMs)
    log.warn({ subscriptionId: s.subscriptionId, status: r.status, rows, digest: digestId !== null }, 'notification not delivered; will retry')
  }

  async function serve(subscriptionId: string): Promise<void> {
    const now = deps.now()
    const nowIso = now.toISOString()
    const staleBefore = new Date(now.getTime() - STALE_CLAIM_MS).toISOString()
    const s = await store.getSubscription(subscriptionId)
    if (!s) return
    // Owner deleted: nothing more goes out; rows outside the owner's scope now are not sent.
    const skipped = await store.skipOutOfScope(subscriptionId, s.owner, nowIso, staleBefore, s.owner === null ? '订阅人已不存在' : '告警不在订阅人当前的查看范围内')
    if (skipped > 0) log.info({ subscriptionId, skipped }, 'notifications skipped: outside the owner’s scope')
    const owner = s.owner
    if (owner === null) return
    const dueN = await store.dueCount(subscriptionId, owner, nowIso, staleBefore)
    if (dueN === 0) return
    const recentN = await store.sentAloneSince(subscriptionId, new Date(now.getTime() - o.digestWindowMs).toISOString())
    if (dueN > 1 && dueN + recentN > o.digestThreshold) {
      const claim = uuidv7(now.getTime())
      const held = await store.claimDue(subscriptionId, owner, claim, nowIso, staleBefore)
      if (held === 0) return
      const digest = await store.digestOf(claim, o.digestLines)
      const r = await send(s, digestBody(s.format, digest, deps.format))
      await settle(s, claim, r, nowIso, claim, held)
      if (r.delivered) log.info({ subscriptionId, rows: held }, 'notification digest delivered')
      return
    }
    for (const row of await store.dueRows(subscriptionId, owner, nowIso, staleBefore, o.digestThreshold)) {
      if (abort.signal.aborted) return
      const claim = uuidv7(now.getTime())
      if (!(await store.claimOne(row, owner, claim, nowIso, staleBefore))) continue
      const r = await send(s, alertBody(s.format, row, deps.format))
      await settle(s, claim, r, nowIso, null, 1)
      // Later rows of a receiver that is down wait for their own retry.
      if (!r.delivered) return
    }
  }

  async function passOnce(): Promise<void> {
    const now = deps.now()
    const ids = await store.dueSubscriptions(now.toISOString(), new Date(now.getTime() - STALE_CLAIM_MS).toISOString(), o.subscriptionsPerPass)
    let next = 0
    const worker = async () => {
      while (next < ids.length && !abort.signal.aborted) {
        const id = ids[next++]!
        try {
          await serve(id)
        } catch (err) {
          // One subscription's trouble must not stop the others'.
          log.error({ err, subscriptionId: id }, 'notification delivery failed')
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(o.concurrency, ids.length) }, worker))
  }

  function pass(): Promise<void> {
    running ??= passOnce().finally(() => (running = null))
    return running
  }

  const tick = async () => {
    if (running || abort.signal.aborted) return
    const leading = await deps.isLeader().catch((err: unknown) => {
      log.error({ err }, 'cannot tell whether this process leads; notification pass skipped')
      return false
    })
    if (leading && !abort.signal.aborted) await pass()
  }
  const timer = o.tickMs > 0 ? setInterval(() => void tick().catch((err: unknown) => log.error({ err }, 'notification pass failed')), o.tickMs) : null
  timer?.unref()

  return {
    pass,
    async close() {
      if (timer) clearInterval(timer)
      abort.abort()
      await running?.catch(() => undefined)
    },
  }
}
