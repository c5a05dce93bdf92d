// HTTP bodies of alert notifications (issue 16 §6): a user's webhook
// subscriptions and the deliveries made to them.
import { z } from 'zod'
import { IsoUtc } from '../domain/time.js'
import { AlertKind } from './rollout.js'

export const NOTIFY_FORMATS = ['json', 'wecom', 'dingtalk'] as const
export const NotifyFormat = z.enum(NOTIFY_FORMATS)
export type NotifyFormat = z.infer<typeof NotifyFormat>

/** A delivery's state: pending (due now or after a backoff), sent, failed (gave up), skipped (outside the owner's scope when due). */
export const NOTIFY_STATES = ['pending', 'sent', 'failed', 'skipped'] as const
export const NotifyState = z.enum(NOTIFY_STATES)

export const NotifyEvent = z.enum(['raised', 'cleared'])
export type NotifyEvent = z.infer<typeof NotifyEvent>

export const PostSubscriptionBody = z.strictObject({
  /** Checked for http(s) by the service, with a Chinese refusal (NOTIFY_URL_INVALID). */
  url: z.string().min(1).max(2000),
  format: NotifyFormat,
  /** Only these kinds; all kinds when absent. */
  kinds: z.array(AlertKind).min(1).max(50).optional(),
  /** critical: only critical alerts; warning (default): all. */
  minSeverity: z.enum(['warning', 'critical']).optional(),
  /** 钉钉 加签 secret (SEC…): the URL is signed with it. */
  secret: z.string().min(1).max(200).optional(),
})
export type PostSubscriptionBody = z.infer<typeof PostSubscriptionBody>

export const SubscriptionView = z.object({
  subscriptionId: z.string(),
  /** The owner (username): the alerts sent are those this user may see. */
  owner: z.string(),
  url: z.string(),
  format: NotifyFormat,
  kinds: z.array(AlertKind).nullable(),
  minSeverity: z.enum(['warning', 'critical']),
  /** The secret itself is never shown again. */
  hasSecret: z.boolean(),
  createdAt: IsoUtc,
})
export type SubscriptionView = z.infer<typeof SubscriptionView>

export const PostSubscriptionReply = z.object({ subscription: SubscriptionView })
export const SubscriptionList = z.object({ subscriptions: z.array(SubscriptionView) })
export type SubscriptionList = z.infer<typeof SubscriptionList>
export const SubscriptionIdParams = z.strictObject({ id: z.string().min(1).max(64) })

export const TestSubscriptionReply = z.object({
  delivered: z.boolean(),
  /** The receiver's HTTP status; null when it could not be reached. */
  status: z.number().int().nullable(),
  /** Why it counts as not delivered (HTTP status, 企业微信/钉钉 errcode, timeout …). */
  error: z.string().nullable(),
})
export type TestSubscriptionReply = z.infer<typeof TestSubscriptionReply>

export const DeliveryView = z.object({
  subscriptionId: z.string(),
  alertId: z.string(),
  event: NotifyEvent,
  kind: z.string().nullable(),
  message: z.string().nullable(),
  state: NotifyState,
  attempts: z.number().int(),
  createdAt: IsoUtc,
  /** When the next attempt is due (pending). */
  dueAt: IsoUtc,
  sentAt: IsoUtc.nullable(),
  /** Sent inside a digest (a flood summarised in one message). */
  inDigest: z.boolean(),
  lastError: z.string().nullable(),
})
export type DeliveryView = z.infer<typeof DeliveryView>

export const ListDeliveriesQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(500).default(50) })
export const DeliveryList = z.object({ deliveries: z.array(DeliveryView) })
export type DeliveryList = z.infer<typeof DeliveryList>
