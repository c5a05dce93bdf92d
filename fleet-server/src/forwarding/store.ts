// SQL for forwarding: sync watermarks, the judged cabinet-periods and the
// durable outbox of platform batches. A period's new state and the batch it
// queues are written in one transaction, so a crash never leaves one without
// the other; idempotency keys are primary keys, so a replayed pass cannot
// queue a batch twice.
import type { HoldReason } from '../../../shared/src/index.js'
import type { CabinetRange, Db } from '../db/index.js'

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

export interface SyncMark {
  readonly cabinetId: string
  readonly syncedThrough: string
  readonly source: string
}

export interface ChainInfo {
  readonly cabinetId: string
  readonly lastSeq: number
  readonly chainStatus: 'ok' | 'tampered'
  /** recordedAt and server receipt time of the last committed sale. */
  readonly headRecordedAt: string | null
  readonly headReceivedAt: string | null
}

/** What a caller may see: nothing set = city-wide. */
export interface ForwardingScope {
  readonly countyCode?: string
  readonly operator?: string
}

export type ForwardingStore = ReturnType<typeof createSqliteForwardingStore>

interface DbPeriod {
  cabinet_id: string
  period_id: string
  period_kind: string
  day_from: string
  day_to: string
  state: PeriodRow['state']
  reason: HoldReason | null
  reason_detail: string | null
  revision: number
  batch_key: string | null
  sent_figures: string | null
}

const toPeriod = (r: DbPeriod): PeriodRow => ({
  cabinetId: r.cabinet_id,
  periodId: r.period_id,
  periodKind: r.period_kind,
  from: r.day_from,
  to: r.day_to,
  state: r.state,
  reason: r.reason,
  reasonDetail: r.reason_detail === null ? null : (JSON.parse(r.reason_detail) as Record<string, unknown>),
  revision: r.revision,
  batchKey: r.batch_key,
  sentFigures: r.sent_figures === null ? null : (JSON.parse(r.sent_figures) as SentFigures),
})

/** A reply lists this many retrying batches at most: in a platform outage every batch retries. */
export const RETRYING_LISTED = 200

const outboxCols = `batch_key AS batchKey, kind, cabinet_id AS cabinetId, period_id AS periodId, revision, body, state, attempts,
  last_status AS lastStatus, last_error AS lastError`

export function createSqliteForwardingStore(db: Db) {
  const cabinetIds = db.prepare<[], string>('SELECT cabinet_id FROM cabinets ORDER BY cabinet_id').pluck()
  const marks = db.prepare<[string, string], { cabinet_id: string; synced_through: string; source: string }>(
    'SELECT cabinet_id, synced_through, source FROM forwarding_sync_marks WHERE cabinet_id > ? AND cabinet_id <= ?',
  )
  const upsertMark = db.prepare<[string, string, string, string]>(
    `INSERT INTO forwarding_sync_marks (cabinet_id, synced_through, source, updated_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (cabinet_id) DO UPDATE SET synced_through = excluded.synced_through, source = excluded.source, updated_at = excluded.updated_at`,
  )
  const chains = db.prepare<[string, string], { cabinet_id: string; last_seq: number; chain_status: 'ok' | 'tampered'; recorded_at: string | null; received_at: string | null }>(
    `SELECT cs.cabinet_id, cs.last_seq, cs.chain_status, s.recorded_at, s.received_at
     FROM cabinet_sales cs LEFT JOIN sales s ON s.cabinet_id = cs.cabinet_id AND s.seq = cs.last_seq
     WHERE cs.cabinet_id > ? AND cs.cabinet_id <= ?`,
  )
  const periods = db.prepare<[string, string], DbPeriod>('SELECT * FROM forwarding_periods WHERE cabinet_id > ? AND cabinet_id <= ?')
  const upsertPeriod = db.prepare(
    `INSERT INTO forwarding_periods (cabinet_id, period_id, period_kind, day_from, day_to, state, reason, reason_detail, revision, batch_key, sent_figures, updated_at)
     VALUES (@cabinetId, @periodId, @periodKind, @from, @to, @state, @reason, @reasonDetail, @revision, @batchKey, @sentFigures, @updatedAt)
     ON CONFLICT (cabinet_id, period_id) DO UPDATE SET state = excluded.state, reason = excluded.reason, reason_detail = excluded.reason_detail,
       revision = excluded.revision, batch_key = excluded.batch_key, sent_figures = excluded.sent_figures, updated_at = excluded.updated_at`,
  )
  const setPeriodState = db.prepare<[string, string, string, string]>('UPDATE forwarding_periods SET state = ?, updated_at = ? WHERE cabinet_id = ? AND period_id = ?')
  const insertOutbox = db.prepare(
    `INSERT INTO forwarding_outbox (batch_key, kind, cabinet_id, period_id, revision, body, state, created_at)
     VALUES (@batchKey, @kind, @cabinetId, @periodId, @revision, @body, 'pending', @createdAt) ON CONFLICT DO NOTHING`,
  )
  const pendingBatches = db.prepare<[], OutboxRow>(`SELECT ${outboxCols} FROM forwarding_outbox WHERE state = 'pending' ORDER BY created_at, batch_key`)
  const delivered = db.prepare<[number, string, string]>(
    `UPDATE forwarding_outbox SET state = 'delivered', last_status = ?, last_error = NULL, attempts = attempts + 1, delivered_at = ? WHERE batch_key = ? AND state = 'pending'`,
  )
  const failed = db.prepare<[number, string, string]>(
    `UPDATE forwarding_outbox SET state = 'failed', last_status = ?, last_error = ?, attempts = attempts + 1 WHERE batch_key = ? AND state = 'pending'`,
  )
  const retry = db.prepare<[number | null, string, string]>(
    `UPDATE forwarding_outbox SET last_status = ?, last_error = ?, attempts = attempts + 1 WHERE batch_key = ?`,
  )
  // NULL scope parameters mean "no filter": city-wide callers.
  const inScope = `cabinet_id IN (SELECT cabinet_id FROM cabinets WHERE (@countyCode IS NULL OR county_code = @countyCode)
    AND (@operator IS NULL OR operator = @operator))`
  type Scope = { countyCode: string | null; operator: string | null }
  const counts = db.prepare<[Scope], { kind: string; state: string; n: number }>(
    `SELECT kind, state, count(*) AS n FROM forwarding_outbox WHERE (@countyCode IS NULL AND @operator IS NULL) OR ${inScope} GROUP BY kind, state`,
  )
  const failedBatches = db.prepare<[Scope], OutboxRow>(
    `SELECT ${outboxCols} FROM forwarding_outbox WHERE state = 'failed' AND ((@countyCode IS NULL AND @operator IS NULL) OR ${inScope}) ORDER BY created_at, batch_key`,
  )
  const retrying = db.prepare<[Scope], OutboxRow>(
    `SELECT ${outboxCols} FROM forwarding_outbox WHERE state = 'pending' AND attempts > 0 AND ((@countyCode IS NULL AND @operator IS NULL) OR ${inScope})
     ORDER BY created_at, batch_key LIMIT ${RETRYING_LISTED}`,
  )
  // The alert's question: batches whose last answer was a redirect, or that failed often in a row.
  const troubled = db.prepare<[number], OutboxRow & { countyCode: string | null; operator: string | null }>(
    `SELECT o.batch_key AS batchKey, o.kind, o.cabinet_id AS cabinetId, o.period_id AS periodId, o.revision, o.body, o.state, o.attempts,
       o.last_status AS lastStatus, o.last_error AS lastError,
       c.county_code AS countyCode, c.operator AS operator
     FROM forwarding_outbox o LEFT JOIN cabinets c ON c.cabinet_id = o.cabinet_id
     WHERE o.state = 'pending' AND (o.attempts >= ? OR (o.last_status BETWEEN 300 AND 399)) ORDER BY o.created_at, o.batch_key`,
  )
  const held = db.prepare<[Scope], DbPeriod>(
    `SELECT * FROM forwarding_periods WHERE state = 'held' AND ((@countyCode IS NULL AND @operator IS NULL) OR ${inScope}) ORDER BY cabinet_id, period_id`,
  )
  const heldCount = db.prepare<[Scope], { n: number }>(
    `SELECT count(*) AS n FROM forwarding_periods WHERE state = 'held' AND ((@countyCode IS NULL AND @operator IS NULL) OR ${inScope})`,
  )
  const scope = (s: ForwardingScope = {}): Scope => ({ countyCode: s.countyCode ?? null, operator: s.operator ?? null })
  const outboxOf = db.prepare<[string], OutboxRow>(`SELECT ${outboxCols} FROM forwarding_outbox WHERE batch_key = ?`)
  const unfail = db.prepare<[string]>(`UPDATE forwarding_outbox SET state = 'pending' WHERE batch_key = ? AND state = 'failed'`)
  const unfailPeriod = db.prepare<[string, string, string]>(
    `UPDATE forwarding_periods SET state = 'queued', updated_at = ? WHERE cabinet_id = ? AND period_id = ? AND state = 'failed'`,
  )
  const insertRetry = db.prepare<[string, string, string, number | null, string | null]>(
    'INSERT INTO forwarding_retries (batch_key, at, by_user, previous_status, previous_error) VALUES (?, ?, ?, ?, ?)',
  )

  return {
    transaction: <T>(fn: () => T): T => db.transaction(fn)(),
    /** Every cabinet id, in the order CabinetRange slices them. */
    cabinetIds: (): string[] => cabinetIds.all(),
    syncMarks(range: CabinetRange): Map<string, SyncMark> {
      const m = new Map<string, SyncMark>()
      for (const r of marks.iterate(range.after, range.through)) m.set(r.cabinet_id, { cabinetId: r.cabinet_id, syncedThrough: r.synced_through, source: r.source })
      return m
    },
    saveSyncMark: (m: SyncMark, at: string): void => void upsertMark.run(m.cabinetId, m.syncedThrough, m.source, at),
    chains(range: CabinetRange): ChainInfo[] {
      return chains.all(range.after, range.through).map((r) => ({ cabinetId: r.cabinet_id, lastSeq: r.last_seq, chainStatus: r.chain_status, headRecordedAt: r.recorded_at, headReceivedAt: r.received_at }))
    },
    periods(range: CabinetRange): Map<string, PeriodRow> {
      const m = new Map<string, PeriodRow>()
      for (const r of periods.iterate(range.after, range.through)) m.set(`${r.cabinet_id}\u0000${r.period_id}`, toPeriod(r))
      return m
    },
    savePeriod(p: PeriodRow, updatedAt: string): void {
      upsertPeriod.run({
        ...p,
        reasonDetail: p.reasonDetail === null ? null : JSON.stringify(p.reasonDetail),
        sentFigures: p.sentFigures === null ? null : JSON.stringify(p.sentFigures),
        updatedAt,
      })
    },
    /** False when a batch with that key (or that cabinet, period and revision) is already queued. */
    enqueue: (b: Pick<OutboxRow, 'batchKey' | 'kind' | 'cabinetId' | 'periodId' | 'revision' | 'body'>, createdAt: string): boolean =>
      insertOutbox.run({ ...b, createdAt }).changes === 1,
    pendingBatches: (): OutboxRow[] => pendingBatches.all(),
    outbox: (batchKey: string): OutboxRow | null => outboxOf.get(batchKey) ?? null,
    markDelivered: (batchKey: string, status: number, at: string): void => void delivered.run(status, at, batchKey),
    markFailed(b: OutboxRow, status: number, message: string, at: string): void {
      db.transaction(() => {
        failed.run(status, message, b.batchKey)
        if (b.kind === 'report') setPeriodState.run('failed', at, b.cabinetId, b.periodId)
      })()
    },
    markRetry: (batchKey: string, status: number | null, message: string): void => void retry.run(status, message, batchKey),
    /**
     * A person asks to send a failed batch again: back to pending (a report's
     * period back to queued), with who, when and the refusal it overrides
     * recorded in forwarding_retries. False when it was no longer failed.
     */
    requeueFailed(b: OutboxRow, byUser: string, at: string): boolean {
      return db.transaction(() => {
        if (unfail.run(b.batchKey).changes !== 1) return false
        if (b.kind === 'report') unfailPeriod.run(at, b.cabinetId, b.periodId)
        insertRetry.run(b.batchKey, at, byUser, b.lastStatus, b.lastError)
        return true
      })()
    },
    counts(s?: ForwardingScope): Map<string, number> {
      const m = new Map<string, number>()
      for (const r of counts.all(scope(s))) m.set(`${r.kind}:${r.state}`, r.n)
      return m
    },
    failedBatches: (s?: ForwardingScope): OutboxRow[] => failedBatches.all(scope(s)),
    /** Pending batches with failed attempts, oldest first (at most RETRYING_LISTED). */
    retrying: (s?: ForwardingScope): OutboxRow[] => retrying.all(scope(s)),
    /** Pending batches whose last answer was a 3xx or that failed at least `minAttempts` times in a row. */
    troubled: (minAttempts: number) => troubled.all(minAttempts),
    held: (s?: ForwardingScope): PeriodRow[] => held.all(scope(s)).map(toPeriod),
    heldCount: (s?: ForwardingScope): number => heldCount.get(scope(s))!.n,
  }
}
