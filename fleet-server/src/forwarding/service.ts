// The forwarding gate (policy 003: data to 社会扶贫网 only for cabinets whose
// certified share meets the threshold). Each pass judges every ended
// cabinet-period (the plan's forwardingPeriod, a month by default):
//   CHAIN_BROKEN     the cabinet's chain is flagged tampered;
//   SALE_ID_REUSED   a sale in the period has an open flag an official must resolve;
//   INCOMPLETE_SYNC  its sync watermark (sync-marks.ts) has not passed the period's end;
//   NOT_COMPLIANT    certified share below the threshold (integer fen, meetsShare);
// otherwise a report batch is queued. Held periods are judged again on every
// pass — after late sales or a catalog change — and queued as soon as they pass.
// A period already queued whose figures have changed since (a back-dated
// revocation, late sales) gets exactly one correction batch per change: the
// revision is bumped in the same transaction that queues it, and the batch key
// is derived from cabinet, period and revision, so a crash and a replayed pass
// cannot queue a second one. Held outcomes are values, never thrown. A pass
// runs a slice of cabinets at a time so it never holds the event loop long.
// A slice reads first (figures, periods, marks, the certified lines of what it
// queues), then writes its periods, batches and moved sync marks in one
// transaction (one commit, each a WAL fsync on SQLite): nothing but the
// periods' current state is read inside it, so it holds SQLite's one
// connection only for the writes.
import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import type {
  FailedBatch,
  ForwardingReply,
  ForwardingRetryReply,
  ForwardingRunReply,
  HeartbeatMsg,
  HeldPeriod,
  HoldReason,
  Plan,
  PlatformBatch,
  PlatformRecord,
  RetryingBatch,
  SentBatch,
} from '../../../shared/src/index.js'
import { periodEnd, periodOf, type CertifiedLine, type ComplianceService, type DayFigures, type Period } from '../compliance/index.js'
import type { TroubledBatch } from '../alerts/forwarding-source.js'
import type { CabinetIdQuery, CabinetOwner } from '../cabinets/forwarding-reads.js'
import type { FleetDb } from '../db/database.js'
import { ALL_CABINETS, rangeOf, type CabinetRange } from '../db/index.js'
import { createWalCheckpointer } from '../db/wal-checkpoint.js'
import { batchNotFailed, batchNotFound } from './errors.js'
import type { Sender } from './sender.js'
import type { CabinetFilter, ForwardingScope, ForwardingStore, NewBatch, OutboxRow, PeriodRow, SentFigures } from './store.js'
import type { SyncMarks } from './sync-marks.js'

export interface ForwardingService {
  /**
   * One evaluation-and-send pass, now. `forced` (a person asked for it): batches
   * waiting out a retry backoff are sent now too, not after up to maxBackoffMs.
   */
  run(opts?: { forced?: boolean }): Promise<ForwardingRunReply>
  /** The queue as the scope sees it (city-wide when empty); `receipts`: with the delivered batches' receipts. */
  status(scope?: ForwardingScope, opts?: { receipts?: boolean }): Promise<ForwardingReply>
  /** Only the counts of status() — reports need no lists, which at 20,000 cabinets cost ~0.1 s each. */
  counts(scope?: ForwardingScope): Promise<{ sent: number; pending: number; held: number; failed: number }>
  /** Pending batches whose last answer was a 3xx or with at least `minAttempts` failed attempts, with their cabinet's owner (the alert's question). */
  troubled(minAttempts: number): Promise<TroubledBatch[]>
  /** A heartbeat (for the watermark and the reported catalog version). */
  heartbeat(cabinetId: string, hb: HeartbeatMsg): void
  /**
   * Sales were committed (cabinet × Shanghai day of sale): judge again soon if
   * they can change a held period — any sale of a cabinet waiting for its sync
   * (INCOMPLETE_SYNC), a late sale dated inside a NOT_COMPLIANT period.
   */
  salesCommitted(days: Iterable<{ readonly cabinetId: string; readonly day: string }>): void
  /** Something the figures depend on changed (catalog): judge again soon. */
  changed(): void
  /** Puts a batch the platform refused back to pending (after a person fixed the cause); recorded. */
  retryFailed(batchKey: string, byUser: string): Promise<ForwardingRetryReply>
  close(): Promise<void>
}

/**
 * The certified figures forwarding needs (the compliance store's). Sync or
 * async: every call is awaited, so either shape of the compliance store fits.
 */
export interface ForwardingFigures {
  days(range: CabinetRange): readonly DayFigures[] | Promise<readonly DayFigures[]>
  months(range: CabinetRange): readonly DayFigures[] | Promise<readonly DayFigures[]>
  /** The certified lines of each cabinet-period asked (all of `range`'s cabinets), in that order: one read for a slice's reports. */
  certifiedLinesIn(range: CabinetRange, periods: ReadonlyArray<{ readonly cabinetId: string; readonly from: string; readonly to: string }>): CertifiedLine[][] | Promise<CertifiedLine[][]>
}

/** What forwarding reads of the cabinets table (cabinets/forwarding-reads.ts). */
export interface ForwardingCabinets {
  /** Every cabinet id, in binary order. */
  ids(): Promise<string[]>
  /** The ids a county or operator sees, as a subquery. */
  inScope(scope: ForwardingScope): CabinetIdQuery
  owners(ids: readonly string[]): Promise<ReadonlyMap<string, CabinetOwner>>
}

type SaleFlagHolds = ReadonlyMap<string, ReadonlyArray<{ readonly flagId: number; readonly seq: number; readonly earlierSeq: number; readonly days: readonly string[] }>>

export interface ForwardingServiceDeps {
  readonly db: FleetDb
  readonly store: ForwardingStore
  readonly cabinets: ForwardingCabinets
  readonly figures: ForwardingFigures
  /** The verdict rule and threshold (pure, from the plan). */
  readonly compliance: Pick<ComplianceService, 'judge' | 'threshold'>
  readonly marks: SyncMarks
  readonly sender: Sender
  readonly plan: () => Plan
  readonly now: () => Date
  readonly log: Logger
  readonly platformConfigured: boolean
  /** Scheduled passes, ms; 0 = none (tests). */
  readonly intervalMs: number
  /** Delay before a pass triggered by late sales or a catalog change, ms; 0 = no such passes. */
  readonly debounceMs: number
  readonly onCatalogVersion?: (cabinetId: string, version: number | null) => void
  /** Runs first in every pass (the catalog's daily refresh: certificates start and expire by date). */
  readonly beforePass?: () => void
  /** Cabinets per slice of a pass, fixed (tests); unset = sized to SLICE_BUDGET_MS. */
  readonly sliceCabinets?: number
  /** Open sale flags of a slice's cabinets (sales/flags.ts): periods holding one of their days wait for an official. */
  readonly saleFlagHolds?: (range: CabinetRange) => SaleFlagHolds | Promise<SaleFlagHolds>
  /**
   * Replicas on one database (issue 13): scheduled and triggered passes, and
   * the sends they start, run only in the process holding the forwarding
   * lock (db/leader.ts); the others store the heartbeat proofs they hold on
   * the same schedule, so the leader's pass sees every cabinet's sync mark.
   * A pass asked for through the API runs wherever it is asked (the batch
   * claims keep its sends single). Absent: this process always leads.
   */
  readonly leader?: { isLeader(): boolean; onChange(fn: (leading: boolean) => void): () => void }
}

/**
 * Replicas on one database (issue 13): a process that does not lead asks the
 * leader for a pass on this channel (a catalog or flag change made through
 * it, or a late sale it committed into a held period), and the leader tells
 * the others on HOLDS_CHANNEL that a pass changed which periods are held, so
 * they judge late sales against the same holds. Payloads are empty.
 */
/** A status reply with receipts lists this many delivered batches at most (the newest): a city sends ~2,700 a month. */
export const SENT_LISTED = 200

export const PASS_CHANNEL = 'forwarding-pass'
export const HOLDS_CHANNEL = 'forwarding-holds'

/** Event-loop time one slice of a pass aims at, ms; slices are resized after each one. */
const SLICE_BUDGET_MS = 10
const INITIAL_SLICE = 20
const MIN_SLICE = 10
const MAX_SLICE = 5000
/**
 * A slice is at most this many times the one before: a cheap slice (cabinets
 * with nothing to judge) must not size the next one for a thousand cabinets
 * that each queue a report.
 */
const MAX_SLICE_GROWTH = 2

/** How long POST /forwarding/run waits for the sends it started, ms. */
export const RUN_WAIT_MS = 10_000

interface Acc {
  cabinetId: string
  countyCode: string
  period: Period
  salesCount: number
  amountFen: number
  certifiedFen: number
}

interface HeldRange {
  readonly cabinetId: string
  readonly reason: HoldReason | null
  readonly from: string
  readonly to: string
}
interface Holds {
  /** Held for INCOMPLETE_SYNC: any committed sale may move the watermark past the period's end. */
  isSyncWait: boolean
  /** NOT_COMPLIANT periods: only a late sale dated inside one changes its figures. */
  readonly ranges: Array<{ readonly from: string; readonly to: string }>
}

/**
 * Which held periods sales can release. A pass judges every cabinet-period of
 * the city (~40 ms of CPU per thousand cabinets per month of history), so it
 * must not run each time a held cabinet sells today's goods: with hundreds of
 * NOT_COMPLIANT cabinets that was a pass every debounce interval, forever.
 * CHAIN_BROKEN never clears by sales.
 */
function indexHolds(rows: Iterable<HeldRange>, m = new Map<string, Holds>()): Map<string, Holds> {
  for (const r of rows) {
    if (r.reason !== 'INCOMPLETE_SYNC' && r.reason !== 'NOT_COMPLIANT') continue
    let h = m.get(r.cabinetId)
    if (!h) {
      h = { isSyncWait: false, ranges: [] }
      m.set(r.cabinetId, h)
    }
    if (r.reason === 'INCOMPLETE_SYNC') h.isSyncWait = true
    else h.ranges.push({ from: r.from, to: r.to })
  }
  return m
}

/** A period's new state (and the batch it queues), with the row it was judged from. */
interface PeriodWrite {
  readonly key: string
  readonly read: PeriodRow | undefined
  readonly batch: NewBatch | null
  readonly save: PeriodRow
}

/** A batch whose body is written once its slice's certified lines are read. */
type DraftBatch = { -readonly [K in keyof NewBatch]: NewBatch[K] }

const key = (cabinetId: string, periodId: string) => `${cabinetId}\u0000${periodId}`
const sameFigures = (a: SentFigures | null, b: SentFigures) =>
  a !== null && a.salesCount === b.salesCount && a.amountFen === b.amountFen && a.certifiedFen === b.certifiedFen

export async function createForwardingService(deps: ForwardingServiceDeps): Promise<ForwardingService> {
  const { db, store, figures, compliance, marks, sender, log } = deps
  let lastRunAt: string | null = null
  let running: Promise<ForwardingRunReply> | null = null
  let debounce: NodeJS.Timeout | null = null
  let closed = false
  const holds = indexHolds(await store.held())
  const walCheckpointer = db.sqlite ? createWalCheckpointer(db.sqlite.name, log) : null
  /** Nothing set = city-wide: no filter at all. */
  const filterOf = (s: ForwardingScope = {}): CabinetFilter =>
    s.countyCode === undefined && s.operator === undefined ? undefined : deps.cabinets.inScope(s)

  const batchKey = (cabinetId: string, periodId: string, revision: number) => `${deps.plan().region.code}-${cabinetId}-${periodId}-r${revision}`

  function record(a: Acc, lines: CertifiedLine[], revision: number, corrects: string | null): PlatformRecord {
    const v = compliance.judge(a.certifiedFen, a.amountFen)
    return {
      cabinetId: a.cabinetId,
      countyCode: a.countyCode,
      period: { kind: a.period.kind, id: a.period.id, from: a.period.from, to: a.period.to },
      salesCount: a.salesCount,
      amountFen: a.amountFen,
      certifiedAmountFen: a.certifiedFen,
      shareBp: v.shareBp,
      lines,
      ...(corrects !== null && { corrects }),
      revision,
      compliant: v.compliant,
      minShareBp: compliance.threshold().bp,
    }
  }

  function body(kind: PlatformBatch['kind'], key: string, rec: PlatformRecord, createdAt: string): string {
    const p = deps.plan()
    const batch: PlatformBatch = {
      v: 1,
      idempotencyKey: key,
      kind,
      createdAt,
      source: { system: 'fupin-fleet', regionCode: p.region.code, regionName: p.region.name },
      records: [rec],
    }
    return JSON.stringify(batch)
  }

  interface PassState {
    readonly now: Date
    readonly at: string
    readonly kind: Plan['policy']['forwardingPeriod']
    readonly threshold: ReturnType<ComplianceService['threshold']>
    judged: number
    queued: number
    corrections: number
    held: number
    /** The current slice's held periods. */
    readonly sliceHeld: HeldRange[]
  }

  /**
   * Judges every ended cabinet-period and queues what passes. The fleet is
   * judged slice by slice (a slice of cabinets in one transaction), yielding
   * to the event loop in between: at 20,000 cabinets one transaction held the
   * loop for seconds at month end — every sale ack, API call and broker packet
   * waited behind it. Each cabinet's verdict depends only on its own rows, all
   * read in its slice's transaction, so slicing changes no verdict; a pass cut
   * short (crash) leaves whole slices done and the next pass does the rest.
   */
  async function evaluate(): Promise<Omit<ForwardingRunReply, 'delivered'>> {
    deps.beforePass?.()
    const now = deps.now()
    const st: PassState = {
      now,
      at: now.toISOString(),
      kind: deps.plan().policy.forwardingPeriod,
      threshold: compliance.threshold(),
      judged: 0,
      queued: 0,
      corrections: 0,
      held: 0,
      sliceHeld: [],
    }
    const ids = await deps.cabinets.ids()
    let size = deps.sliceCabinets ?? INITIAL_SLICE
    for (let from = 0; ; ) {
      const to = Math.min(ids.length, from + size)
      // A month end writes thousands of WAL frames: checkpoint them in a worker, not inside a slice's commit.
      await walCheckpointer?.checkpointIfLarge()
      const t0 = performance.now()
      const commitMs = await evaluateSlice(rangeOf(ids, from, to), st)
      // The slice's holds replace its cabinets' old ones now, not at the end
      // of the pass: a sale arriving meanwhile is matched against them.
      for (let i = from; i < to; i++) holds.delete(ids[i]!)
      indexHolds(st.sliceHeld, holds)
      st.sliceHeld.length = 0
      if (to >= ids.length || closed) break // closing: whole slices are done; the next start's pass does the rest
      from = to
      // Aim each slice at SLICE_BUDGET_MS of the loop: the cost per cabinet
      // grows with its history (one more period a month) and with month ends.
      // The commit is left out: its WAL fsync costs the same for any slice
      // (and stalls now and then on a busy disk), so counting it only made
      // slices smaller, and more of them, each with a commit of its own.
      if (deps.sliceCabinets === undefined) {
        const ms = performance.now() - t0 - commitMs
        const next = ms > 0 ? (size * SLICE_BUDGET_MS) / ms : MAX_SLICE
        size = Math.max(MIN_SLICE, Math.min(MAX_SLICE, size * MAX_SLICE_GROWTH, Math.round(next)))
      }
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
    lastRunAt = st.at
    const { at, judged, queued, corrections, held } = st
    if (queued + corrections > 0 || held > 0) log.info({ judged, queued, corrections, held }, 'forwarding pass')
    return { ranAt: at, judged, queued, corrections, held }
  }

  /**
   * One slice of a pass: its cabinets' periods judged, then written and
   * queued in one transaction. Resolves to how long the commit took, ms.
   */
  async function evaluateSlice(range: CabinetRange, st: PassState): Promise<number> {
    const { now, at, kind, threshold, sliceHeld } = st
    // Moved marks are stored with the slice's periods: one commit per slice (each a WAL fsync).
    const { sync, moved } = await marks.advance(range)
    const saleFlags = await deps.saleFlagHolds?.(range)
    // Monthly periods come straight from the month roll-up; days and weeks fold the day rows.
    const rows = await (kind === 'month' ? figures.months(range) : figures.days(range))
    const accs = new Map<string, Acc>()
    for (const d of rows) {
      const period = periodOf(kind, kind === 'month' ? `${d.day}-01` : d.day)
      const k = key(d.cabinetId, period.id)
      let a = accs.get(k)
      if (!a) {
        a = { cabinetId: d.cabinetId, countyCode: d.countyCode, period, salesCount: 0, amountFen: 0, certifiedFen: 0 }
        accs.set(k, a)
      }
      a.salesCount += d.salesCount
      a.amountFen += d.amountFen
      a.certifiedFen += d.certifiedFen
    }
    const existing = await store.periods(range)

    // The slice's writes, computed first and committed together below.
    const writes: PeriodWrite[] = []
    // Batches whose bodies wait for the slice's certified lines, read once below.
    const reports: Array<{ a: Acc; batch: DraftBatch; corrects: string | null }> = []
    for (const [k, a] of accs) {
      const end = periodEnd(a.period)
      if (end.getTime() > now.getTime()) continue // the period has not ended
      st.judged++
      const ex = existing.get(k)
      const fig: SentFigures = { salesCount: a.salesCount, amountFen: a.amountFen, certifiedFen: a.certifiedFen }
      if (ex?.state === 'failed') continue
      const flags = saleFlags?.get(a.cabinetId)?.filter((f) => f.days.some((d) => d >= a.period.from && d <= a.period.to))
      if (flags?.length && ex?.state === 'queued') continue // a correction waits for the official too
      if (ex?.state === 'queued') {
        if (sameFigures(ex.sentFigures, fig)) continue
        // Figures changed after the report was queued: correct openly, once per change.
        const revision = ex.revision + 1
        const bk = batchKey(a.cabinetId, a.period.id, revision)
        const batch: DraftBatch = { batchKey: bk, kind: 'correction', cabinetId: a.cabinetId, periodId: a.period.id, revision, body: '' }
        writes.push({ key: k, read: ex, batch, save: { ...ex, revision, sentFigures: fig } })
        reports.push({ a, batch, corrects: ex.batchKey })
        st.corrections++
        log.warn({ cabinetId: a.cabinetId, period: a.period.id, revision, was: ex.sentFigures, now: fig }, 'forwarded figures changed; correction queued')
        continue
      }
      const s = sync.get(a.cabinetId)
      let reason: HoldReason | null = null
      let detail: Record<string, unknown> = {}
      const v = compliance.judge(a.certifiedFen, a.amountFen)
      if (s?.chain?.chainStatus === 'tampered') {
        reason = 'CHAIN_BROKEN'
        detail = { chainStatus: 'tampered' }
      } else if (flags?.length) {
        reason = 'SALE_ID_REUSED'
        detail = { flags: flags.map(({ flagId, seq, earlierSeq }) => ({ flagId, seq, earlierSeq })) }
      } else if (!s?.mark || Date.parse(s.mark.syncedThrough) < end.getTime()) {
        reason = 'INCOMPLETE_SYNC'
        detail = { periodEnd: end.toISOString(), syncedThrough: s?.mark?.syncedThrough ?? null, pending: s?.pending ?? null }
      } else if (!v.compliant) {
        reason = 'NOT_COMPLIANT'
        detail = { shareBp: v.shareBp, ratio: v.ratio, thresholdBp: threshold.bp, amountFen: a.amountFen, certifiedAmountFen: a.certifiedFen }
      }
      const base = { cabinetId: a.cabinetId, periodId: a.period.id, periodKind: a.period.kind, from: a.period.from, to: a.period.to }
      if (reason !== null) {
        st.held++
        sliceHeld.push({ cabinetId: a.cabinetId, reason, from: a.period.from, to: a.period.to })
        if (ex?.reason !== reason || JSON.stringify(ex.reasonDetail) !== JSON.stringify(detail)) {
          if (ex?.reason !== reason) log.warn({ cabinetId: a.cabinetId, period: a.period.id, reason, ...detail }, 'forwarding held')
          writes.push({ key: k, read: ex, batch: null, save: { ...base, state: 'held', reason, reasonDetail: detail, revision: 0, batchKey: null, sentFigures: null } })
        }
        continue
      }
      const bk = batchKey(a.cabinetId, a.period.id, 0)
      const batch: DraftBatch = { batchKey: bk, kind: 'report', cabinetId: a.cabinetId, periodId: a.period.id, revision: 0, body: '' }
      reports.push({ a, batch, corrects: null })
      writes.push({ key: k, read: ex, batch, save: { ...base, state: 'queued', reason: null, reasonDetail: null, revision: 0, batchKey: bk, sentFigures: fig } })
      st.queued++
    }
    if (writes.length === 0 && moved.length === 0) return 0
    if (reports.length > 0) {
      const lines = await figures.certifiedLinesIn(range, reports.map(({ a }) => ({ cabinetId: a.cabinetId, from: a.period.from, to: a.period.to })))
      for (const [i, { a, batch, corrects }] of reports.entries()) batch.body = body(batch.kind, batch.batchKey, record(a, lines[i]!, batch.revision, corrects), at)
    }
    // A period's new state and the batch it queues commit together, or neither does.
    let written = 0
    const skipped = await db.transaction(async (tx) => {
      const lost: PeriodWrite[] = []
      if (writes.length > 0) {
        // Judged from reads taken before this transaction: a period changed since
        // (the sender failed its report meanwhile, another server's pass) is left
        // as it is now, for the next pass to judge.
        const current = await store.periodsForUpdate(tx, range)
        const kept: PeriodWrite[] = []
        for (const w of writes) (JSON.stringify(current.get(w.key)) === JSON.stringify(w.read) ? kept : lost).push(w)
        // Multi-row statements: a month end queues a batch for every cabinet at once.
        await store.enqueueAll(tx, kept.flatMap((w) => (w.batch ? [w.batch] : [])), at)
        await store.savePeriods(tx, kept.map((w) => w.save), at)
      }
      await marks.save(tx, moved)
      written = performance.now()
      return lost
    })
    const commitMs = performance.now() - written
    for (const w of skipped) {
      if (w.batch?.kind === 'report') st.queued--
      if (w.batch?.kind === 'correction') st.corrections--
      log.info({ cabinetId: w.save.cabinetId, period: w.save.periodId }, 'forwarding period changed while judged; left for the next pass')
    }
    return commitMs
  }

  async function run(forced: boolean): Promise<ForwardingRunReply> {
    const delivered0 = sender.delivered()
    const r = await evaluate()
    if (deps.leader) void db.notify(HOLDS_CHANNEL, '').catch((err: unknown) => log.warn({ err }, 'telling the other servers about held periods failed'))
    // Scheduled and debounced passes keep the backoff: during an outage they must not hammer the platform.
    if (forced) sender.retryWaitingNow()
    else sender.kick()
    // Answer once every due batch has had its attempt — or after RUN_WAIT_MS
    // with a long queue; delivery goes on in the background either way.
    let timer: NodeJS.Timeout | undefined
    await Promise.race([sender.settled(), new Promise<void>((resolve) => (timer = setTimeout(resolve, RUN_WAIT_MS)))])
    clearTimeout(timer)
    return { ...r, delivered: sender.delivered() - delivered0 }
  }

  /** Passes never overlap; a request during one runs once more after it. */
  function runSerial(forced = false): Promise<ForwardingRunReply> {
    if (running) return running.then(() => runSerial(forced), () => runSerial(forced))
    running = run(forced).finally(() => {
      running = null
    })
    return running
  }

  const leads = (): boolean => deps.leader?.isLeader() ?? true

  function soon(): void {
    if (closed || deps.debounceMs <= 0 || debounce) return
    if (!leads()) return askLeader()
    debounce = setTimeout(() => {
      debounce = null
      void runSerial().catch((err: unknown) => log.error({ err }, 'forwarding pass failed'))
    }, deps.debounceMs)
    debounce.unref()
  }

  const scheduled = (): void => {
    if (leads()) void runSerial().catch((err: unknown) => log.error({ err }, 'forwarding pass failed'))
    else void marks.compute(ALL_CABINETS).catch((err: unknown) => log.error({ err }, 'storing sync marks failed'))
  }
  const interval = deps.intervalMs > 0 ? setInterval(scheduled, deps.intervalMs) : null
  interval?.unref()
  // Batches left pending by the last run (crash, shutdown, or a leader that
  // died) go out as soon as this process leads: now, with one process.
  const unfollow = deps.leader?.onChange((leading) => {
    if (!leading || closed) return
    log.info('forwarding: this process leads the scheduled passes')
    // What was held may have changed under the leader before: read it afresh.
    void refreshHolds()
    sender.kick()
  })

  let asked: NodeJS.Timeout | null = null
  /** A follower's pass request: at most one notice per debounce interval. */
  function askLeader(): void {
    if (closed || asked || !deps.leader) return
    asked = setTimeout(() => {
      asked = null
      if (!closed) void db.notify(PASS_CHANNEL, '').catch((err: unknown) => log.warn({ err }, 'asking the leading server for a forwarding pass failed'))
    }, deps.debounceMs)
    asked.unref()
  }
  async function refreshHolds(): Promise<void> {
    try {
      const rows = await store.held()
      holds.clear()
      indexHolds(rows, holds)
    } catch (err) {
      log.warn({ err }, 'reading held periods failed')
    }
  }
  // Only the leader answers a pass request and only followers take held periods
  // from a notice: a process also hears its own notices.
  const unlisten = deps.leader
    ? [
        db.listen(PASS_CHANNEL, () => {
          if (leads()) soon()
        }),
        db.listen(HOLDS_CHANNEL, () => {
          if (!leads()) void refreshHolds()
        }),
      ]
    : []
  if (!deps.leader) sender.kick()

  return {
    run: (opts) => runSerial(opts?.forced ?? false),
    async status(scope, opts) {
      const only = filterOf(scope)
      const [c, failedRows, heldRows, retryingRows, deliveredRows] = await Promise.all([
        store.counts(only),
        store.failedBatches(only),
        store.held(only),
        store.retrying(only),
        opts?.receipts ? store.delivered(only, SENT_LISTED) : null,
      ])
      const n = (k: string) => c.get(k) ?? 0
      const toFailed = (b: OutboxRow): FailedBatch => ({ cabinetId: b.cabinetId, period: b.periodId, batchKey: b.batchKey, kind: b.kind, status: b.lastStatus, message: b.lastError ?? '' })
      const held: HeldPeriod[] = heldRows.map((p: PeriodRow) => ({
        cabinetId: p.cabinetId,
        period: p.periodId,
        reason: p.reason!,
        from: p.from,
        to: p.to,
        details: p.reasonDetail ?? {},
      }))
      const failed = failedRows.filter((b) => b.kind === 'report').map(toFailed)
      const retrying = retryingRows.map((b): RetryingBatch => ({
        cabinetId: b.cabinetId, period: b.periodId, batchKey: b.batchKey, kind: b.kind, attempts: b.attempts, status: b.lastStatus, message: b.lastError ?? '',
      }))
      const sent = n('report:delivered')
      const pending = n('report:pending')
      return {
        sent,
        pending,
        held,
        failed,
        retrying,
        corrections: { sent: n('correction:delivered'), pending: n('correction:pending'), failed: failedRows.filter((b) => b.kind === 'correction').map(toFailed) },
        periods: sent + pending + held.length + failed.length,
        platformConfigured: deps.platformConfigured,
        lastRunAt,
        ...(deliveredRows && {
          sentBatches: deliveredRows.map((b): SentBatch => ({
            cabinetId: b.cabinetId, period: b.periodId, batchKey: b.batchKey, kind: b.kind, deliveredAt: b.deliveredAt, status: b.lastStatus, records: b.records, attempts: b.attempts,
          })),
        }),
      }
    },
    async counts(scope) {
      const only = filterOf(scope)
      const [c, held] = await Promise.all([store.counts(only), store.heldCount(only)])
      return { sent: c.get('report:delivered') ?? 0, pending: c.get('report:pending') ?? 0, held, failed: c.get('report:failed') ?? 0 }
    },
    async troubled(minAttempts) {
      const rows = await store.troubled(minAttempts)
      const owners = rows.length === 0 ? new Map<string, CabinetOwner>() : await deps.cabinets.owners(rows.map((b) => b.cabinetId))
      return rows.map((b) => ({ ...b, countyCode: owners.get(b.cabinetId)?.countyCode ?? null, operator: owners.get(b.cabinetId)?.operator ?? null }))
    },
    heartbeat(cabinetId, hb) {
      marks.heartbeat(cabinetId, hb)
      deps.onCatalogVersion?.(cabinetId, hb.catalogVersion)
    },
    salesCommitted(days) {
      if (holds.size === 0) return
      for (const { cabinetId, day } of days) {
        const h = holds.get(cabinetId)
        if (h && (h.isSyncWait || h.ranges.some((r) => day >= r.from && day <= r.to))) return soon()
      }
    },
    changed: soon,
    async retryFailed(batchKey, byUser) {
      const b = await store.outbox(batchKey)
      if (!b) throw batchNotFound(batchKey)
      const at = deps.now().toISOString()
      // Back to pending and the retry's record commit together.
      if (b.state !== 'failed' || !(await db.transaction((tx) => store.requeueFailed(tx, b, byUser, at)))) throw batchNotFailed(batchKey, b.state === 'failed' ? 'pending' : b.state)
      log.info({ batchKey, kind: b.kind, cabinetId: b.cabinetId, period: b.periodId, previousStatus: b.lastStatus, by: byUser }, 'failed batch put back to pending')
      sender.retry(batchKey)
      return {
        batchKey,
        kind: b.kind,
        cabinetId: b.cabinetId,
        period: b.periodId,
        state: 'pending',
        retriedAt: at,
        retriedBy: byUser,
        previousStatus: b.lastStatus,
        previousMessage: b.lastError ?? '',
      }
    },
    async close() {
      closed = true
      unfollow?.()
      for (const u of unlisten) u()
      if (interval) clearInterval(interval)
      if (debounce) clearTimeout(debounce)
      if (asked) clearTimeout(asked)
      // The sender first: it aborts what is in flight (left pending, resent
      // after restart) and releases a pass waiting for its sends, which would
      // otherwise hold shutdown for RUN_WAIT_MS against a platform that hangs.
      await sender.close()
      await running?.catch(() => undefined)
    },
  }
}
