// Notifications as users see them (issue 16 §6): their webhook subscriptions,
// a test message, the recent deliveries; and the listener that writes the
// outbox rows in the alert's own transaction. Any role but auditor may
// subscribe; a subscription gets only the alerts its owner may see (judged
// when written and again when due). Only the admin sees others' subscriptions.
import type { Logger } from 'pino'
import { uuidv7, type DeliveryList, type PostSubscriptionBody, type SubscriptionList, type SubscriptionView, type TestSubscriptionReply } from '../../../shared/src/index.js'
import { outOfScope, type Principal } from '../access/index.js'
import { alertVisibleTo, type AlertListener } from '../alerts/index.js'
import { targetUrl } from './delivery.js'
import { secretUnsupported, subscriptionNotFound, urlInvalid } from './errors.js'
import { testBody } from './format.js'
import { postWebhook } from './send.js'
import type { NotificationStore, OwnedSubscription } from './store.js'

export interface NotificationService {
  subscribe(by: Principal, body: PostSubscriptionBody): Promise<SubscriptionView>
  list(by: Principal): Promise<SubscriptionList>
  remove(by: Principal, id: string): Promise<void>
  test(by: Principal, id: string): Promise<TestSubscriptionReply>
  deliveries(by: Principal, limit: number): Promise<DeliveryList>
  /** Writes the outbox rows of alert transitions (alerts/service.ts calls it in its transaction). */
  readonly listener: AlertListener
}

export interface NotificationServiceDeps {
  readonly store: NotificationStore
  readonly timeoutMs: number
  readonly now: () => Date
  readonly wallClockMs?: () => number
  readonly log: Logger
}

const view = (s: OwnedSubscription): SubscriptionView => ({
  subscriptionId: s.subscriptionId,
  owner: s.owner?.username ?? s.userId,
  url: s.url,
  format: s.format,
  kinds: s.kinds,
  minSeverity: s.minSeverity,
  hasSecret: s.secret !== null,
  createdAt: s.createdAt,
})

function assertHttpUrl(url: string): void {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw urlInvalid(url)
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw urlInvalid(url)
}

export function createNotificationService({ store, timeoutMs, now, wallClockMs = Date.now, log }: NotificationServiceDeps): NotificationService {
  async function visibleSubscription(by: Principal, id: string): Promise<OwnedSubscription> {
    const s = await store.getSubscription(id)
    if (!s || (s.userId !== by.userId && by.role !== 'admin')) throw subscriptionNotFound(id)
    return s
  }

  return {
    async subscribe(by, body) {
      if (by.role === 'auditor') throw outOfScope('role auditor is read-only; it may not subscribe to notifications', '审计账号只读，不能订阅告警通知')
      assertHttpUrl(body.url)
      if (body.secret !== undefined && body.format !== 'dingtalk') throw secretUnsupported(body.format)
      const s = {
        subscriptionId: uuidv7(now().getTime()),
        userId: by.userId,
        url: body.url,
        format: body.format,
        kinds: body.kinds ? [...new Set(body.kinds)] : null,
        minSeverity: body.minSeverity ?? 'warning',
        secret: body.secret ?? null,
        createdAt: now().toISOString(),
      } as const
      await store.insertSubscription(s)
      log.info({ subscriptionId: s.subscriptionId, by: by.username, format: s.format }, 'notification subscription added')
      return view({ ...s, owner: by })
    },
    async list(by) {
      return { subscriptions: (await store.listSubscriptions(by.role === 'admin' ? null : by.userId)).map(view) }
    },
    async remove(by, id) {
      await visibleSubscription(by, id)
      await store.deleteSubscription(id)
      log.info({ subscriptionId: id, by: by.username }, 'notification subscription deleted')
    },
    async test(by, id) {
      const s = await visibleSubscription(by, id)
      const r = await postWebhook(targetUrl(s, wallClockMs()), testBody(s.format, s.owner?.username ?? s.userId, now().toISOString()), s.format, timeoutMs)
      return { delivered: r.delivered, status: r.status, error: r.error }
    },
    async deliveries(by, limit) {
      const rows = await store.recent(by.role === 'admin' ? null : by.userId, limit)
      return {
        deliveries: rows.map((r) => ({
          subscriptionId: r.subscriptionId,
          alertId: r.alertId,
          event: r.event,
          kind: r.kind,
          message: r.message,
          state: r.state,
          attempts: r.attempts,
          createdAt: r.createdAt,
          dueAt: r.dueAt,
          sentAt: r.sentAt,
          inDigest: r.digestId !== null,
          lastError: r.lastError,
        })),
      }
    },
    listener: {
      async transitions(tx, transitions) {
        const subs = await store.activeSubscriptions(tx)
        if (subs.length === 0) return
        const rows: Array<{ subscriptionId: string; t: (typeof transitions)[number] }> = []
        for (const t of transitions) {
          for (const s of subs) {
            if (s.kinds && !s.kinds.includes(t.kind)) continue
            if (s.minSeverity === 'critical' && t.severity !== 'critical') continue
            if (!s.owner || !alertVisibleTo(s.owner, t)) continue
            rows.push({ subscriptionId: s.subscriptionId, t })
          }
        }
        await store.enqueue(tx, rows)
      },
    },
  }
}
