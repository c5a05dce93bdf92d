// SQL for forwarding, one implementation for SQLite and PostgreSQL (issue 13):
// sync watermarks, the judged cabinet-periods and the durable outbox of
// platform batches. Writes that must commit together take the caller's
// transaction (`ex`): a period's new state and the batch it queues, a failed
// batch and its period, a requeue and its record. Idempotency keys are primary
// keys, so a replayed pass cannot queue a batch twice. This store reads only
// its own tables; a scope arrives as the cabinets domain's id subquery.
import { sql } from 'kysely'
import type { HoldReason } from '../../../shared/src/index.js'
import type { CabinetIdQuery } from '../cabinets/forwarding-reads.js'
import type { Executor, FleetDb } from '../db/database.js'
import type { CabinetRange } from '../db/index.js'
import type { ForwardingPeriodsTable } from '../db/schema.js'

export type { ChainInfo } from '../sales/forwarding-reads.js'

export interface SentFigures {
  readonly salesCount: number
  readonly amountFen: number
  readonly certifiedFen: number
}

export interface PeriodRow {
  readonly cabinetId: string
  readonly periodId: string
  readonly periodKind: string
  readonly from: string
  readonly to: string
  readonly state: 'held' | 'queued' | 'failed'
  readonly reason: HoldReason | null
  readonly reasonDetail: Record<string, unknown> | null
  readonly revision: number
  readonly batchKey: string | null
  readonly sentFigures: SentFigures | null
}

export interface OutboxRow {
  readonly batchKey: string
  readonly kind: 'report' | 'correction'
  readonly cabinetId: string
  readonly periodId: string
  readonly revision: number
  readonly body: string
  readonly state: 'pending' | 'delivered' | 'failed'
  readonly attempts: number
  readonly lastStatus: number | null
  readonly lastError: string | null
}

/** A delivered batch: the receipt's status and time, and how many records it carried. */
export interface DeliveredRow {
  readonly batchKey: string
  readonly kind: 'report' | 'correction'
  readonly cabinetId: string
  readonly periodId: string
  readonly lastStatus: number | null
  readonly attempts: number
  readonly deliveredAt: string
  readonly records: number
}

export interface SyncMark {
  readonly cabinetId: string
  readonly syncedThrough: string
  readonly source: string
}

/** What a caller may see: nothing set = city-wide. */
export interface ForwardingScope {
  readonly countyCode?: string
  readonly operator?: string
}

/** The cabinets a query is limited to (a subquery of ids); undefined = every cabinet. */
export type CabinetFilter = CabinetIdQuery | undefined

export type NewBatch = Pick<OutboxRow, 'batchKey' | 'kind' | 'cabinetId' | 'periodId' | 'revision' | 'body'>

export interface ForwardingStore {
  syncMarks(range: CabinetRange): Promise<Map<string, SyncMark>>
  /** Stores cabinets' watermarks (each cabinet at most once), a few statements in all; never moves a stored one back (ISO UTC strings compare as times). */
  saveSyncMarks(ex: Executor, ms: readonly SyncMark[], at: string): Promise<void>
  /** The judged periods of the cabinets in `range`, keyed by cabinet and period id. */
  periods(range: CabinetRange): Promise<Map<string, PeriodRow>>
  /** periods() inside a transaction, the rows locked until it ends (PostgreSQL; SQLite's transaction holds the one connection). */
  periodsForUpdate(tx: Executor, range: CabinetRange): Promise<Map<string, PeriodRow>>
  savePeriod(ex: Executor, p: PeriodRow, updatedAt: string): Promise<void>
  /** savePeriod for many periods (each at most once), a few statements in all. */
  savePeriods(ex: Executor, ps: readonly PeriodRow[], updatedAt: string): Promise<void>
  /** False when a batch with that key (or that cabinet, period and revision) is already queued. */
  enqueue(ex: Executor, b: NewBatch, createdAt: string): Promise<boolean>
  /** enqueue for many batches, a few statements in all; resolves to the number queued. */
  enqueueAll(ex: Executor, bs: readonly NewBatch[], createdAt: string): Promise<number>
  /** Every pending batch, oldest first. */
  pendingBatches(): Promise<OutboxRow[]>
  /**
   * Keys of the pending batches, oldest first: what the sender reads on every
   * pump (after each answer). Bodies are read one batch at a time when sent:
   * reading every pending body per pump made a long queue quadratic (2,363
   * batches at ~14 ms a read held the event loop for 33 s of a backlog drain).
   */
  pendingKeys(): Promise<string[]>
  outbox(batchKey: string): Promise<OutboxRow | null>
  markDelivered(ex: Executor, batchKey: string, status: number, at: string): Promise<void>
  /** The platform refused `b`: failed, and a report's period with it. */
  markFailed(ex: Executor, b: OutboxRow, status: number, message: string, at: string): Promise<void>
  markRetry(ex: Executor, batchKey: string, status: number | null, message: string): Promise<void>
  /**
   * A person asks to send a failed batch again: back to pending (a report's
   * period back to queued), with who, when and the refusal it overrides
   * recorded in forwarding_retries. False when it was no longer failed.
   */
  requeueFailed(ex: Executor, b: OutboxRow, byUser: string, at: string): Promise<boolean>
  /** Batches per `kind:state`. */
  counts(only?: CabinetFilter): Promise<Map<string, number>>
  failedBatches(only?: CabinetFilter): Promise<OutboxRow[]>
  /** Delivered batches, newest first, at most `limit` (the receipts a person looks at). */
  delivered(only: CabinetFilter, limit: number): Promise<DeliveredRow[]>
  /** Pending batches with failed attempts, oldest first (at most RETRYING_LISTED). */
  retrying(only?: CabinetFilter): Promise<OutboxRow[]>
  /** Pending batches whose last answer was a 3xx or that failed at least `minAttempts` times in a row, oldest first. */
  troubled(minAttempts: number): Promise<OutboxRow[]>
  held(only?: CabinetFilter): Promise<PeriodRow[]>
  heldCount(only?: CabinetFilter): Promise<number>
}

type DbPeriod = Omit<ForwardingPeriodsTable, 'revision'> & { revision: number }

const toPeriod = (r: DbPeriod): PeriodRow => ({
  cabinetId: r.cabinet_id,
  periodId: r.period_id,
  periodKind: r.period_kind,
  from: r.day_from,
  to: r.day_to,
  state: r.state as PeriodRow['state'],
  reason: r.reason as HoldReason | null,
  reasonDetail: r.reason_detail === null ? null : (JSON.parse(r.reason_detail) as Record<string, unknown>),
  revision: r.revision,
  batchKey: r.batch_key,
  sentFigures: r.sent_figures === null ? null : (JSON.parse(r.sent_figures) as SentFigures),
})

/** Rows per multi-row insert: 12 bound values a period row, far below SQLite's 32,766 and PostgreSQL's 65,535. */
const ROWS_PER_STATEMENT = 500

/** A reply lists this many retrying batches at most: in a platform outage every batch retries. */
export const RETRYING_LISTED = 200

const outboxCols = [
  'batch_key as batchKey',
  'kind',
  'cabinet_id as cabinetId',
  'period_id as periodId',
  'revision',
  'body',
  'state',
  'attempts',
  'last_status as lastStatus',
  'last_error as lastError',
] as const

export function createForwardingStore(db: FleetDb): ForwardingStore {
  const k = db.kysely
  const outbox = (ex: Executor = k) => ex.selectFrom('forwarding_outbox').select(outboxCols).$narrowType<Pick<OutboxRow, 'kind' | 'state'>>()
  const periodsIn = (only: CabinetFilter) => {
    const q = k.selectFrom('forwarding_periods').where('state', '=', 'held')
    return only ? q.where('cabinet_id', 'in', only) : q
  }
  async function savePeriods(ex: Executor, ps: readonly PeriodRow[], updatedAt: string): Promise<void> {
    for (let i = 0; i < ps.length; i += ROWS_PER_STATEMENT) {
      await ex
        .insertInto('forwarding_periods')
        .values(
          ps.slice(i, i + ROWS_PER_STATEMENT).map((p) => ({
            cabinet_id: p.cabinetId,
            period_id: p.periodId,
            period_kind: p.periodKind,
            day_from: p.from,
            day_to: p.to,
            state: p.state,
            reason: p.reason,
            reason_detail: p.reasonDetail === null ? null : JSON.stringify(p.reasonDetail),
            revision: p.revision,
            batch_key: p.batchKey,
            sent_figures: p.sentFigures === null ? null : JSON.stringify(p.sentFigures),
            updated_at: updatedAt,
          })),
        )
        .onConflict((oc) =>
          oc.columns(['cabinet_id', 'period_id']).doUpdateSet((eb) => ({
            state: eb.ref('excluded.state'),
            reason: eb.ref('excluded.reason'),
            reason_detail: eb.ref('excluded.reason_detail'),
            revision: eb.ref('excluded.revision'),
            batch_key: eb.ref('excluded.batch_key'),
            sent_figures: eb.ref('excluded.sent_figures'),
            updated_at: eb.ref('excluded.updated_at'),
          })),
        )
        .execute()
    }
  }
  async function enqueueAll(ex: Executor, bs: readonly NewBatch[], createdAt: string): Promise<number> {
    let n = 0
    for (let i = 0; i < bs.length; i += ROWS_PER_STATEMENT) {
      const r = await ex
        .insertInto('forwarding_outbox')
        .values(
          bs.slice(i, i + ROWS_PER_STATEMENT).map((b) => ({
            batch_key: b.batchKey, kind: b.kind, cabinet_id: b.cabinetId, period_id: b.periodId, revision: b.revision, body: b.body, state: 'pending', created_at: createdAt,
          })),
        )
        // Either unique key (batch_key; cabinet, period, revision) already there: already queued.
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst()
      n += Number(r.numInsertedOrUpdatedRows ?? 0)
    }
    return n
  }
  async function saveSyncMarks(ex: Executor, ms: readonly SyncMark[], at: string): Promise<void> {
    for (let i = 0; i < ms.length; i += ROWS_PER_STATEMENT) {
      await ex
        .insertInto('forwarding_sync_marks')
        .values(ms.slice(i, i + ROWS_PER_STATEMENT).map((m) => ({ cabinet_id: m.cabinetId, synced_through: m.syncedThrough, source: m.source, updated_at: at })))
        // Only forward: a server that read an older mark (another replica moved it meanwhile) cannot move it back.
        .onConflict((oc) =>
          oc
            .column('cabinet_id')
            .doUpdateSet((eb) => ({
              synced_through: eb.ref('excluded.synced_through'),
              source: eb.ref('excluded.source'),
              updated_at: eb.ref('excluded.updated_at'),
            }))
            .whereRef('forwarding_sync_marks.synced_through', '<', 'excluded.synced_through'),
        )
        .execute()
    }
  }
  async function periodsOf(ex: Executor, range: CabinetRange, lock: boolean): Promise<Map<string, PeriodRow>> {
    const q = ex.selectFrom('forwarding_periods').selectAll().where('cabinet_id', '>', range.after).where('cabinet_id', '<=', range.through)
    // Locked in key order: two passes locking one range cannot deadlock.
    const rows = await (lock ? q.orderBy('cabinet_id').orderBy('period_id').forUpdate() : q).execute()
    return new Map(rows.map((r) => [`${r.cabinet_id}\u0000${r.period_id}`, toPeriod(r)]))
  }
  return {
    async syncMarks(range) {
      const rows = await k
        .selectFrom('forwarding_sync_marks')
        .select(['cabinet_id', 'synced_through', 'source'])
        .where('cabinet_id', '>', range.after)
        .where('cabinet_id', '<=', range.through)
        .execute()
      return new Map(rows.map((r) => [r.cabinet_id, { cabinetId: r.cabinet_id, syncedThrough: r.synced_through, source: r.source }]))
    },
    saveSyncMarks,
    periods: (range) => periodsOf(k, range, false),
    periodsForUpdate: (tx, range) => periodsOf(tx, range, db.dialect === 'postgres'),
    savePeriod: (ex, p, updatedAt) => savePeriods(ex, [p], updatedAt),
    savePeriods,
    enqueue: async (ex, b, createdAt) => (await enqueueAll(ex, [b], createdAt)) === 1,
    enqueueAll,
    pendingBatches: () => outbox().where('state', '=', 'pending').orderBy('created_at').orderBy('batch_key').execute(),
    async pendingKeys() {
      const rows = await k.selectFrom('forwarding_outbox').select('batch_key').where('state', '=', 'pending').orderBy('created_at').orderBy('batch_key').execute()
      return rows.map((r) => r.batch_key)
    },
    outbox: async (batchKey) => (await outbox().where('batch_key', '=', batchKey).executeTakeFirst()) ?? null,
    async markDelivered(ex, batchKey, status, at) {
      await ex
        .updateTable('forwarding_outbox')
        .set((eb) => ({ state: 'delivered', last_status: status, last_error: null, attempts: eb('attempts', '+', 1), delivered_at: at }))
        .where('batch_key', '=', batchKey)
        .where('state', '=', 'pending')
        .execute()
    },
    async markFailed(ex, b, status, message, at) {
      await ex
        .updateTable('forwarding_outbox')
        .set((eb) => ({ state: 'failed', last_status: status, last_error: message, attempts: eb('attempts', '+', 1) }))
        .where('batch_key', '=', b.batchKey)
        .where('state', '=', 'pending')
        .execute()
      if (b.kind === 'report') {
        await ex.updateTable('forwarding_periods').set({ state: 'failed', updated_at: at }).where('cabinet_id', '=', b.cabinetId).where('period_id', '=', b.periodId).execute()
      }
    },
    async markRetry(ex, batchKey, status, message) {
      await ex
        .updateTable('forwarding_outbox')
        .set((eb) => ({ last_status: status, last_error: message, attempts: eb('attempts', '+', 1) }))
        .where('batch_key', '=', batchKey)
        .execute()
    },
    async requeueFailed(ex, b, byUser, at) {
      const r = await ex.updateTable('forwarding_outbox').set({ state: 'pending' }).where('batch_key', '=', b.batchKey).where('state', '=', 'failed').executeTakeFirst()
      if (Number(r.numUpdatedRows) !== 1) return false
      if (b.kind === 'report') {
        await ex
          .updateTable('forwarding_periods')
          .set({ state: 'queued', updated_at: at })
          .where('cabinet_id', '=', b.cabinetId)
          .where('period_id', '=', b.periodId)
          .where('state', '=', 'failed')
          .execute()
      }
      await ex.insertInto('forwarding_retries').values({ batch_key: b.batchKey, at, by_user: byUser, previous_status: b.lastStatus, previous_error: b.lastError }).execute()
      return true
    },
    async counts(only) {
      let q = k.selectFrom('forwarding_outbox').select(['kind', 'state', (eb) => eb.fn.countAll<number>().as('n')]).groupBy(['kind', 'state'])
      if (only) q = q.where('cabinet_id', 'in', only)
      const m = new Map<string, number>()
      for (const r of await q.execute()) m.set(`${r.kind}:${r.state}`, Number(r.n))
      return m
    },
    async failedBatches(only) {
      let q = outbox().where('state', '=', 'failed')
      if (only) q = q.where('cabinet_id', 'in', only)
      return q.orderBy('created_at').orderBy('batch_key').execute()
    },
    async delivered(only, limit) {
      let q = k
        .selectFrom('forwarding_outbox')
        .select(['batch_key as batchKey', 'kind', 'cabinet_id as cabinetId', 'period_id as periodId', 'last_status as lastStatus', 'attempts', 'delivered_at as deliveredAt', 'body'])
        .where('state', '=', 'delivered')
      if (only) q = q.where('cabinet_id', 'in', only)
      const rows = await q.orderBy('delivered_at', 'desc').orderBy('batch_key').limit(limit).execute()
      // The body is the exact batch sent; its record count is what the receipt acknowledged.
      return rows.map(({ body, ...r }) => ({ ...r, kind: r.kind as DeliveredRow['kind'], deliveredAt: r.deliveredAt ?? '', records: (JSON.parse(body) as { records: unknown[] }).records.length }))
    },
    async retrying(only) {
      let q = outbox().where('state', '=', 'pending').where('attempts', '>', 0)
      if (only) q = q.where('cabinet_id', 'in', only)
      return q.orderBy('created_at').orderBy('batch_key').limit(RETRYING_LISTED).execute()
    },
    troubled: (minAttempts) =>
      outbox()
        .where('state', '=', 'pending')
        .where((eb) => eb.or([eb('attempts', '>=', minAttempts), eb.between('last_status', 300, 399)]))
        .orderBy('created_at')
        .orderBy('batch_key')
        .execute(),
    async held(only) {
      const rows = await periodsIn(only).selectAll().orderBy('cabinet_id').orderBy('period_id').execute()
      return rows.map(toPeriod)
    },
    async heldCount(only) {
      const r = await periodsIn(only).select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow()
      return Number(r.n)
    },
  }
}
