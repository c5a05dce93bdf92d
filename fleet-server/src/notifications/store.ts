// SQL for notifications on either database (issue 16 §6): subscriptions, and
// the outbox of (subscription, alert, event) rows. A row is sent by whoever
// claims it with a conditional UPDATE, so two passes (a leader change) never
// send one row twice; it ends sent, failed (gave up) or skipped (its alert
// was outside the owner's scope when it came due).
import type { ExpressionBuilder, Selectable } from 'kysely'
import type { AlertKind, NotifyFormat, Role } from '../../../shared/src/index.js'
import { cabinetScope, type Principal } from '../access/index.js'
import type { AlertTransition } from '../alerts/index.js'
import type { FleetDb, Tx } from '../db/database.js'
import type { NotificationOutboxTable, NotificationSubscriptionsTable, Schema } from '../db/schema.js'
import type { Digest, OutgoingAlert } from './format.js'

export interface SubscriptionRow {
  readonly subscriptionId: string
  readonly userId: string
  readonly url: string
  readonly format: NotifyFormat
  readonly kinds: AlertKind[] | null
  readonly minSeverity: 'warning' | 'critical'
  readonly secret: string | null
  readonly createdAt: string
}

/** A subscription with its owner as a principal; null when the user no longer exists. */
export interface OwnedSubscription extends SubscriptionRow {
  readonly owner: Principal | null
}

export interface OutboxRow extends OutgoingAlert {
  readonly subscriptionId: string
  readonly state: 'pending' | 'sent' | 'failed' | 'skipped'
  readonly attempts: number
  readonly createdAt: string
  readonly dueAt: string
  readonly sentAt: string | null
  readonly digestId: string | null
  readonly lastError: string | null
}

export interface NotificationStore {
  insertSubscription(s: SubscriptionRow): Promise<void>
  getSubscription(id: string): Promise<OwnedSubscription | null>
  /** The user's subscriptions, or everyone's (null), oldest first. */
  listSubscriptions(userId: string | null): Promise<OwnedSubscription[]>
  /** Deletes it and its outbox rows. */
  deleteSubscription(id: string): Promise<void>
  /** Every subscription whose owner exists, read inside the alert's transaction. */
  activeSubscriptions(tx: Tx): Promise<OwnedSubscription[]>
  /** Outbox rows, once per key (the de-duplication): rows already there are left as they are. */
  enqueue(tx: Tx, rows: ReadonlyArray<{ subscriptionId: string; t: AlertTransition }>): Promise<void>
  /** Subscriptions with rows due at `nowIso`, at most `limit`. */
  dueSubscriptions(nowIso: string, staleBefore: string, limit: number): Promise<string[]>
  /** Due rows whose alert `owner` may not see (or all of them: null) → skipped. */
  skipOutOfScope(subscriptionId: string, owner: Principal | null, nowIso: string, staleBefore: string, why: string): Promise<number>
  /** How many in-scope rows are due, and how many were sent one by one since `windowFrom`. */
  dueCount(subscriptionId: string, owner: Principal, nowIso: string, staleBefore: string): Promise<number>
  sentAloneSince(subscriptionId: string, windowFrom: string): Promise<number>
  /** The first `limit` due rows, oldest first (the one-message-each path). */
  dueRows(subscriptionId: string, owner: Principal, nowIso: string, staleBefore: string, limit: number): Promise<OutboxRow[]>
  /** Claims one row for `claim`; false when another pass holds it or it is no longer due. */
  claimOne(row: Pick<OutboxRow, 'subscriptionId' | 'alertId' | 'event'>, owner: Principal, claim: string, nowIso: string, staleBefore: string): Promise<boolean>
  /** Claims every due row of the subscription for `claim` (a digest); returns how many. */
  claimDue(subscriptionId: string, owner: Principal, claim: string, nowIso: string, staleBefore: string): Promise<number>
  /** What a digest of the rows held by `claim` says: counts by kind and county, the first `lines` rows. */
  digestOf(claim: string, lines: number): Promise<Digest>
  /** The rows held by `claim` were delivered (in a digest when `digestId` is given). */
  sent(claim: string, nowIso: string, digestId: string | null): Promise<void>
  /**
   * The send of the rows held by `claim` failed: each is due again after
   * `backoffMs(attempts)`, or failed for good when created before `giveUpBefore`.
   */
  failed(claim: string, error: string, nowIso: string, giveUpBefore: string, backoffMs: (attempts: number) => number): Promise<void>
  /** Recent rows of the user's subscriptions (or everyone's: null), newest first. */
  recent(userId: string | null, limit: number): Promise<OutboxRow[]>
}

type Eb = ExpressionBuilder<Schema, 'notification_outbox'>

/**
 * The alerts `owner` may see, as GET /alerts filters them (alerts/service.ts
 * alertVisibleTo), over the outbox row's snapshot of the alert. Written so it
 * is never NULL (a NOT of it must hold for every row outside).
 */
function inScope(eb: Eb, owner: Principal) {
  const scope = cabinetScope(owner)
  if (owner.role === 'county') return eb.and([eb('county_code', 'is not', null), eb('county_code', '=', scope.countyCode!)])
  if (owner.role === 'operator') {
    return eb.and([eb('cabinet_id', 'is not', null), eb('county_code', 'is not', null), eb('operator', 'is not', null), eb('operator', '=', scope.operator!)])
  }
  return eb.lit(true)
}

/**
 * Pending, due, held by no pass (or by one that died: its claim is older than
 * `staleBefore`) and, given the owner, within the owner's scope.
 */
function due(eb: Eb, subscriptionId: string, nowIso: string, staleBefore: string, owner: Principal | null = null) {
  return eb.and([
    eb('subscription_id', '=', subscriptionId),
    eb('state', '=', 'pending'),
    eb('due_at', '<=', nowIso),
    eb.or([eb('claim', 'is', null), eb('claimed_at', '<', staleBefore)]),
    ...(owner ? [inScope(eb, owner)] : []),
  ])
}

type DbSubscription = Selectable<NotificationSubscriptionsTable> & {
  username: string | null
  role: string | null
  user_county: string | null
  user_operator: string | null
}

const toSubscription = (r: DbSubscription): OwnedSubscription => ({
  subscriptionId: r.subscription_id,
  userId: r.user_id,
  url: r.url,
  format: r.format as NotifyFormat,
  kinds: r.kinds === null ? null : (JSON.parse(r.kinds) as AlertKind[]),
  minSeverity: r.min_severity as 'warning' | 'critical',
  secret: r.secret,
  createdAt: r.created_at,
  owner: r.username === null ? null : { userId: r.user_id, username: r.username, role: r.role as Role, countyCode: r.user_county, operator: r.user_operator },
})

const toOutbox = (r: Selectable<NotificationOutboxTable>): OutboxRow => ({
  subscriptionId: r.subscription_id,
  alertId: r.alert_id,
  event: r.event as OutboxRow['event'],
  kind: r.kind,
  severity: r.severity,
  countyCode: r.county_code,
  cabinetId: r.cabinet_id,
  operator: r.operator,
  message: r.message,
  raisedAt: r.raised_at,
  clearedAt: r.cleared_at,
  state: r.state as OutboxRow['state'],
  attempts: Number(r.attempts),
  createdAt: r.created_at,
  dueAt: r.due_at,
  sentAt: r.sent_at,
  digestId: r.digest_id,
  lastError: r.last_error,
})

/** Outbox rows per INSERT: 20 columns each, far below either engine's bound-parameter limit. */
const CHUNK = 200

export function createNotificationStore(db: FleetDb): NotificationStore {
  const k = db.kysely
  const subscriptions = (ex: typeof k | Tx) =>
    ex
      .selectFrom('notification_subscriptions as s')
      .leftJoin('users as u', 'u.user_id', 's.user_id')
      .select(['s.subscription_id', 's.user_id', 's.url', 's.format', 's.kinds', 's.min_severity', 's.secret', 's.created_at'])
      .select(['u.username', 'u.role', 'u.county_code as user_county', 'u.operator as user_operator'])

  return {
    async insertSubscription(s) {
      await k
        .insertInto('notification_subscriptions')
        .values({
          subscription_id: s.subscriptionId,
          user_id: s.userId,
          url: s.url,
          format: s.format,
          kinds: s.kinds === null ? null : JSON.stringify(s.kinds),
          min_severity: s.minSeverity,
          secret: s.secret,
          created_at: s.createdAt,
        })
        .execute()
    },
    async getSubscription(id) {
      const r = await subscriptions(k).where('s.subscription_id', '=', id).executeTakeFirst()
      return r ? toSubscription(r) : null
    },
    async listSubscriptions(userId) {
      let q = subscriptions(k)
      if (userId !== null) q = q.where('s.user_id', '=', userId)
      return (await q.orderBy('s.created_at').orderBy('s.subscription_id').execute()).map(toSubscription)
    },
    async deleteSubscription(id) {
      await db.transaction(async (tx) => {
        await tx.deleteFrom('notification_outbox').where('subscription_id', '=', id).execute()
        await tx.deleteFrom('notification_subscriptions').where('subscription_id', '=', id).execute()
      })
    },
    async activeSubscriptions(tx) {
      return (await subscriptions(tx).where('u.user_id', 'is not', null).execute()).map(toSubscription)
    },
    async enqueue(tx, rows) {
      for (let i = 0; i < rows.length; i += CHUNK) {
        const values = rows.slice(i, i + CHUNK).map(({ subscriptionId, t }) => {
          // Due from the transition's own time (the evaluation's clock).
          const at = t.event === 'cleared' ? (t.clearedAt ?? t.raisedAt) : t.raisedAt
          return {
          subscription_id: subscriptionId,
          alert_id: t.alertId,
          event: t.event,
          kind: t.kind,
          severity: t.severity,
          county_code: t.countyCode,
          cabinet_id: t.cabinetId,
          operator: t.operator,
          message: t.message,
          raised_at: t.raisedAt,
          cleared_at: t.clearedAt,
          state: 'pending',
          attempts: 0,
          created_at: at,
          due_at: at,
        }
        })
        await tx.insertInto('notification_outbox').values(values).onConflict((oc) => oc.doNothing()).execute()
      }
    },
    async dueSubscriptions(nowIso, staleBefore, limit) {
      const rows = await k
        .selectFrom('notification_outbox')
        .select('subscription_id')
        .distinct()
        .where('state', '=', 'pending')
        .where('due_at', '<=', nowIso)
        .where((eb) => eb.or([eb('claim', 'is', null), eb('claimed_at', '<', staleBefore)]))
        .orderBy('subscription_id')
        .limit(limit)
        .execute()
      return rows.map((r) => r.subscription_id)
    },
    async skipOutOfScope(subscriptionId, owner, nowIso, staleBefore, why) {
      const r = await k
        .updateTable('notification_outbox')
        .set({ state: 'skipped', last_error: why, claim: null, claimed_at: null })
        .where((eb) => (owner === null ? due(eb, subscriptionId, nowIso, staleBefore) : eb.and([due(eb, subscriptionId, nowIso, staleBefore), eb.not(inScope(eb, owner))])))
        .executeTakeFirst()
      return Number(r.numUpdatedRows)
    },
    async dueCount(subscriptionId, owner, nowIso, staleBefore) {
      const r = await k
        .selectFrom('notification_outbox')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where((eb) => due(eb, subscriptionId, nowIso, staleBefore, owner))
        .executeTakeFirstOrThrow()
      return Number(r.n)
    },
    async sentAloneSince(subscriptionId, windowFrom) {
      const r = await k
        .selectFrom('notification_outbox')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('subscription_id', '=', subscriptionId)
        .where('state', '=', 'sent')
        .where('digest_id', 'is', null)
        .where('sent_at', '>=', windowFrom)
        .executeTakeFirstOrThrow()
      return Number(r.n)
    },
    async dueRows(subscriptionId, owner, nowIso, staleBefore, limit) {
      const rows = await k
        .selectFrom('notification_outbox')
        .selectAll()
        .where((eb) => due(eb, subscriptionId, nowIso, staleBefore, owner))
        .orderBy('created_at')
        .orderBy('alert_id')
        .orderBy('event', 'desc') // raised before cleared
        .limit(limit)
        .execute()
      return rows.map(toOutbox)
    },
    async claimOne(row, owner, claim, nowIso, staleBefore) {
      const r = await k
        .updateTable('notification_outbox')
        .set({ claim, claimed_at: nowIso })
        .where((eb) => eb.and([due(eb, row.subscriptionId, nowIso, staleBefore, owner), eb('alert_id', '=', row.alertId), eb('event', '=', row.event)]))
        .executeTakeFirst()
      return Number(r.numUpdatedRows) === 1
    },
    async claimDue(subscriptionId, owner, claim, nowIso, staleBefore) {
      const r = await k
        .updateTable('notification_outbox')
        .set({ claim, claimed_at: nowIso })
        .where((eb) => due(eb, subscriptionId, nowIso, staleBefore, owner))
        .executeTakeFirst()
      return Number(r.numUpdatedRows)
    },
    async digestOf(claim, lines) {
      const held = () => k.selectFrom('notification_outbox').where('claim', '=', claim)
      const [byEvent, byKind, byCounty, first] = await Promise.all([
        held().select(['event', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('event').execute(),
        held().select(['kind', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('kind').orderBy('kind').execute(),
        held().select(['county_code', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('county_code').orderBy('county_code').execute(),
        held().selectAll().orderBy('created_at').orderBy('alert_id').orderBy('event', 'desc').limit(lines).execute(),
      ])
      const of = (e: string) => Number(byEvent.find((r) => r.event === e)?.n ?? 0)
      return {
        total: of('raised') + of('cleared'),
        raised: of('raised'),
        cleared: of('cleared'),
        byKind: byKind.map((r) => ({ kind: r.kind, n: Number(r.n) })).sort((a, b) => b.n - a.n),
        byCounty: byCounty.map((r) => ({ countyCode: r.county_code, n: Number(r.n) })).sort((a, b) => b.n - a.n),
        first: first.map(toOutbox),
      }
    },
    async sent(claim, nowIso, digestId) {
      await k
        .updateTable('notification_outbox')
        .set((eb) => ({ state: 'sent', sent_at: nowIso, digest_id: digestId, claim: null, claimed_at: null, last_error: null, attempts: eb('attempts', '+', 1) }))
        .where('claim', '=', claim)
        .execute()
    },
    async failed(claim, error, nowIso, giveUpBefore, backoffMs) {
      await db.transaction(async (tx) => {
        await tx
          .updateTable('notification_outbox')
          .set((eb) => ({ state: 'failed', last_error: error, claim: null, claimed_at: null, attempts: eb('attempts', '+', 1) }))
          .where('claim', '=', claim)
          .where('created_at', '<=', giveUpBefore)
          .execute()
        // Rows held together were tried together: they share the next attempt's time.
        const r = await tx.selectFrom('notification_outbox').select((eb) => eb.fn.max('attempts').as('a')).where('claim', '=', claim).executeTakeFirst()
        const attempts = Number(r?.a ?? 0) + 1
        const dueAt = new Date(Date.parse(nowIso) + backoffMs(attempts)).toISOString()
        await tx
          .updateTable('notification_outbox')
          .set((eb) => ({ due_at: dueAt, last_error: error, claim: null, claimed_at: null, attempts: eb('attempts', '+', 1) }))
          .where('claim', '=', claim)
          .execute()
      })
    },
    async recent(userId, limit) {
      let q = k.selectFrom('notification_outbox as o').selectAll('o')
      if (userId !== null) q = q.innerJoin('notification_subscriptions as s', 's.subscription_id', 'o.subscription_id').where('s.user_id', '=', userId)
      const rows = await q.orderBy('o.created_at', 'desc').orderBy('o.alert_id', 'desc').limit(limit).execute()
      return rows.map(toOutbox)
    },
  }
}
