// Sale ingest with group commit. Batches arriving from the broker are queued;
// one tick (scheduled with setImmediate) takes everything queued, judges each
// batch against the cabinet's chain head — in memory, tentatively, so several
// batches of one cabinet in a tick chain onto each other — and commits all
// accepted batches of all cabinets in ONE database transaction, together with
// what other domains derive from them (tickWriters). Only after that commit
// are the heads advanced and the replies published: an ack always means
// "on disk" (aedes' "store first, then publish"). If the transaction fails,
// nobody is acked and the cabinets resend; nothing is half-applied.
import type { KeyObject } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import {
  encodeMessage,
  GENESIS_HASH,
  shanghaiDate,
  topics,
  type RejectCode,
  type ReplyMsg,
  type Sale,
  type SaleBatchMsg,
  verifyBatch,
} from '../../../shared/src/index.js'
import type { Executor, FleetDb } from '../db/database.js'
import type { TickAggregates } from './aggregate.js'
import { checkBatch } from './chain-check.js'
import { liveBatchSkewMs } from './clock-skew.js'
import { decodeSaleBatch } from './fast-decode.js'
import type { SalesFold } from './fold.js'
import type { SigningKeys } from './signing-keys.js'
import type { BatchFailure, SalesStore, SignatureFlag, TamperFlag, TickResult, TickWrite } from './store.js'
import {
  SKEW_FROM_RECORDED,
  SKEW_FROM_RECORDED_MS,
  SKEW_FUTURE,
  SKEW_FUTURE_MS,
  type BatchWrite,
  type ChainHead,
  type SaleRecord,
} from './types.js'

interface CounterLike {
  inc(value?: number): void
}
export interface IngestMetrics {
  readonly salesIngested: CounterLike
  readonly salesSkewed: CounterLike
  readonly batchesCommitted: CounterLike
  readonly batchesReplayed: CounterLike
  readonly batchesRejected: { inc(labels: { code: string }, value?: number): void }
  readonly ticksFailed: CounterLike
  readonly tickSeconds: { observe(value: number): void }
  /** Batch arrival → commit, server clock. */
  readonly batchWaitSeconds: { observe(value: number): void }
  /** Sale recordedAt (agent's 201) → server commit; compares the two clocks. */
  readonly saleCommitDelaySeconds: { observe(value: number): void }
}

/** Writes derived from a tick's aggregates, in the tick's transaction: they commit or roll back with the sales. */
export type TickWriter = (tx: Executor, agg: TickAggregates) => Promise<void>

export interface SaleIngestOptions {
  readonly db: FleetDb
  readonly store: SalesStore
  /**
   * Run in order after the sales of each tick, inside its transaction
   * (compliance's certified figures, on PostgreSQL: on SQLite the fold runs
   * their counterparts, fold.ts, and the module passes none).
   */
  readonly tickWriters: readonly TickWriter[]
  /** SQLite (required there): what each tick leaves to derive from its sales. */
  readonly fold?: SalesFold
  /** Called once a tick's transaction has committed, with its aggregates (forwarding's debounce trigger). */
  readonly committed: (agg: TickAggregates) => void
  /** Publishes a reply to the cabinet (the fleet sends them at QoS 0: a lost one costs a resend, re-acked as a replay). */
  readonly publish: (topic: string, payload: Buffer) => void
  readonly now: () => Date
  /**
   * The same clock in ms, where it can be read without making a Date (the
   * system clock: Date.now): every batch is stamped on arrival. Default:
   * now().getTime().
   */
  readonly nowMs?: () => number
  readonly log: Logger
  readonly metrics: IngestMetrics
  /** Batches one tick takes at most. */
  readonly maxBatchesPerTick: number
  /** A tick stops taking batches once it holds this many sales (bounds the event-loop pause). */
  readonly maxSalesPerTick: number
  /** Above this many queued payload bytes, submit() holds back `done` (backpressure). */
  readonly maxQueuedBytes: number
  /**
   * Ticks in flight: 2 prepares the next tick while one commits (PostgreSQL,
   * where a commit waits on another process); 1 on SQLite, where the commit
   * holds this thread anyway. Replies still go out in tick order, after commit.
   */
  readonly ticksInFlight?: 1 | 2
  /**
   * How a tick's preparation gives the event loop a turn while the tick
   * before commits (default: setImmediate). Tests step through it.
   */
  readonly yieldTurn?: () => Promise<void>
  /** A live batch's clock reading: server receipt minus device send time, ms (clock-skew.ts). */
  readonly clockSample?: (cabinetId: string, skewMs: number) => void
  /**
   * Issue 16 §2: enrolled cabinets' public keys. A cabinet with one must sign
   * every batch; one without is accepted unsigned unless `requireSigned`.
   */
  readonly keys?: SigningKeys
  /** FLEET_REQUIRE_SIGNED_SALES=on: a cabinet with no registered key is refused too. */
  readonly requireSigned?: boolean
}

/** A refused signature flags its cabinet at most this often (the alert needs one row, not one per forged batch). */
export const SIGNATURE_FLAG_EVERY_MS = 10 * 60_000

type SignatureRefusal = { readonly code: 'SIGNATURE_MISSING' | 'SIGNATURE_INVALID'; readonly message: string }

/** Why a batch's signature is refused; null when it is good (or none is needed). */
function judgeSignature(key: KeyObject | null, batch: SaleBatchMsg, requireSigned: boolean): SignatureRefusal | null {
  if (key === null) {
    if (!requireSigned) return null
    return batch.sig === undefined
      ? { code: 'SIGNATURE_MISSING', message: 'this server accepts only signed sales and the cabinet has no registered signing key; enroll it' }
      : { code: 'SIGNATURE_INVALID', message: 'the cabinet has no registered signing key to verify the signature with; enroll it' }
  }
  if (batch.sig === undefined) return { code: 'SIGNATURE_MISSING', message: 'the cabinet is enrolled: its batches must carry the signature of its registered key' }
  const hashes = batch.sales.map((x) => x.hash)
  if (!verifyBatch(key, batch.cabinetId, batch.batchId, hashes, batch.sig)) return { code: 'SIGNATURE_INVALID', message: 'the batch signature does not verify with the cabinet’s registered key' }
  return null
}

/**
 * For a batch taken from a queue that must know its fate (a JetStream work
 * queue, issue 14): true once the cabinet has been answered (committed, a
 * replay, or rejected), false when the batch was given up unanswered and should
 * be delivered again (its tick failed, or the ingest was closing). Called once.
 */
export type BatchSettled = (answered: boolean) => void

export interface SaleIngest {
  /** Queues a cabinets/{id}/up/sales payload. `done` is called when more may be sent. */
  submit(cabinetId: string, payload: Buffer, done: () => void, settled?: BatchSettled): void
  /** The committed chain head of a cabinet (seq 0 = nothing committed). */
  head(cabinetId: string): ChainHead
  queuedBatches(): number
  /** Resolves once everything submitted so far has been processed. */
  idle(): Promise<void>
  /** Stops taking batches, processes what is queued, resolves when done. Idempotent. */
  close(): Promise<void>
}

interface Queued {
  readonly cabinetId: string
  readonly payload: Buffer
  readonly receivedAtMs: number
  readonly settled: BatchSettled | undefined
}

/** Every taken batch has exactly one outcome; `settled` is its queue's callback, if any. */
type Outcome = (
  | { readonly kind: 'accept'; readonly cabinetId: string; readonly batchId: string; readonly writeIndex: number; readonly newSales: number }
  | { readonly kind: 'reject'; readonly cabinetId: string; readonly batchId?: string; readonly code: RejectCode; readonly message: string; readonly expectedSeq?: number }
) & { settled?: BatchSettled }

/** `fn` callable once; later calls do nothing. */
function once(fn: BatchSettled): BatchSettled {
  let isCalled = false
  return (answered) => {
    if (isCalled) return
    isCalled = true
    fn(answered)
  }
}

/** A tick decoded and judged, waiting for (or in) its commit. */
interface PreparedTick {
  /** Each cabinet's head after this tick's accepted batches, were they to commit. */
  readonly heads: Map<string, ChainHead>
  /** Cabinets judged against an unsettled earlier tick's head (void if that tick's write does not commit). */
  readonly borrowed: Set<string>
  writes: BatchWrite[]
  /** Per write: arrival time, for the latency histograms. */
  receivedMs: number[]
  outcomes: Outcome[]
  tampered: TamperFlag[]
  signatureFlags: SignatureFlag[]
  /** The settled callbacks of every batch taken (once-wrapped): what a failure gives up. */
  readonly settlers: BatchSettled[]
}

/** Gives up what of `tick` is not yet answered: its queue delivers those batches again. */
function giveUp(settlers: readonly BatchSettled[]): void {
  for (const s of settlers) s(false)
}

/** toISOString() of a millisecond, remembering the last one: a tick's batches mostly arrived in the same few ms. */
let lastIsoMs = NaN
let lastIso = ''
function isoAt(ms: number): string {
  if (ms !== lastIsoMs) {
    lastIso = new Date(ms).toISOString()
    lastIsoMs = ms
  }
  return lastIso
}

/** Reply topics kept (one per cabinet): above any fleet's size; past it the cache starts over. */
const MAX_REPLY_TOPICS = 100_000

/** While a tick commits, the next one's preparation yields the event loop every this many sales. */
const YIELD_EVERY_SALES = 200

const EMPTY_HEAD: ChainHead = Object.freeze({ seq: 0, hash: GENESIS_HASH })

/** Hash of `seq` of a cabinet if one of these writes holds it. */
function hashIn(writes: readonly BatchWrite[], cabinetId: string, seq: number): string | null {
  for (let i = writes.length - 1; i >= 0; i--) {
    const w = writes[i]!
    if (w.cabinetId !== cabinetId) continue
    const first = w.sales[0]!.seq
    if (seq >= first && seq < first + w.sales.length) return w.sales[seq - first]!.hash
  }
  return null
}

/**
 * Takes out of a tick everything of the cabinets whose writes in the tick
 * before it did not commit: it was judged against heads that are not the
 * database's. Their cabinets get no reply and resend; they are judged afresh.
 */
function dropJudgedOnUncommitted(tick: PreparedTick, uncommitted: ReadonlySet<string>): void {
  const cabinets = new Set([...tick.borrowed].filter((c) => uncommitted.has(c)))
  if (cabinets.size === 0) return
  const keep: number[] = [] // old write index → new, -1 when dropped
  const writes: BatchWrite[] = []
  const receivedMs: number[] = []
  tick.writes.forEach((w, i) => {
    if (cabinets.has(w.cabinetId)) {
      keep.push(-1)
      return
    }
    keep.push(writes.length)
    writes.push(w)
    receivedMs.push(tick.receivedMs[i]!)
  })
  tick.writes = writes
  tick.receivedMs = receivedMs
  for (const o of tick.outcomes) if (cabinets.has(o.cabinetId)) o.settled?.(false)
  tick.outcomes = tick.outcomes
    .filter((o) => !cabinets.has(o.cabinetId))
    .map((o) => (o.kind === 'accept' && o.writeIndex >= 0 ? { ...o, writeIndex: keep[o.writeIndex]! } : o))
  tick.tampered = tick.tampered.filter((t) => !cabinets.has(t.cabinetId))
  tick.signatureFlags = tick.signatureFlags.filter((t) => !cabinets.has(t.cabinetId))
  for (const c of cabinets) tick.heads.delete(c)
}

export async function createSaleIngest(opts: SaleIngestOptions): Promise<SaleIngest> {
  const { store, log, metrics } = opts
  const nowMs = opts.nowMs ?? (() => opts.now().getTime())
  // Each cabinet's replies topic, made once: a string made per reply is hashed
  // again by every map the reply passes (the broker's topic memo, the
  // client's subscriptions). Bounded by the fleet's cabinets; cleared past that.
  const replyTopics = new Map<string, string>()
  const repliesTopic = (cabinetId: string): string => {
    let t = replyTopics.get(cabinetId)
    if (t === undefined) {
      if (replyTopics.size >= MAX_REPLY_TOPICS) replyTopics.clear()
      t = topics.replies(cabinetId)
      replyTopics.set(cabinetId, t)
    }
    return t
  }
  if (opts.db.dialect === 'sqlite' && !opts.fold) throw new Error('ingest on SQLite needs the sales fold')
  // Committed heads: advanced only after a tick's transaction commits.
  const committed = await store.loadChainHeads()
  log.info({ cabinets: committed.size }, 'sale chain heads loaded')

  // A FIFO of queued batches (array + head index: shift() would be O(n)).
  let queue: (Queued | undefined)[] = []
  let queueHead = 0
  let queuedBytes = 0
  const held: Array<() => void> = []
  let scheduled = false
  // A tick is being prepared (decoded and judged, nothing written yet).
  let preparing = false
  // Prepared ticks not yet committed and answered, oldest first; each commits after the one before.
  const unsettled: PreparedTick[] = []
  let settling: Promise<void> = Promise.resolve()
  // Cabinets whose writes in the last settled tick did not commit: what the next tick judged against them is void.
  let uncommittedCabinets = new Set<string>()
  const ticksInFlight = opts.ticksInFlight ?? (opts.db.dialect === 'postgres' ? 2 : 1)
  const yieldTurn = opts.yieldTurn ?? (() => new Promise<void>((resolve) => setImmediate(resolve)))
  let closed = false
  let idleWaiters: Array<() => void> = []
  let closing: Promise<void> | null = null

  const pending = (): number => queue.length - queueHead

  function take(): Queued {
    const item = queue[queueHead]!
    queue[queueHead++] = undefined
    if (queueHead > 1024 && queueHead * 2 > queue.length) {
      queue = queue.slice(queueHead)
      queueHead = 0
    }
    queuedBytes -= item.payload.length
    return item
  }

  function schedule(): void {
    if (scheduled || preparing || pending() === 0 || unsettled.length >= ticksInFlight) return
    scheduled = true
    setImmediate(runTick)
  }

  function releaseHeld(): void {
    while (held.length > 0 && (queuedBytes <= opts.maxQueuedBytes || closed)) held.shift()!()
  }

  /**
   * One tick from queue to replies: prepare (decode, judge against the heads
   * of everything accepted so far, committed or not), then — in tick order, on
   * the `settling` chain — commit and finish (advance heads, reply). With two
   * ticks in flight the next tick is prepared while this one commits.
   */
  async function runTick(): Promise<void> {
    scheduled = false
    if (pending() === 0) return wakeIfIdle()
    preparing = true
    const started = performance.now()
    let tick: PreparedTick | null = null
    const settlers: BatchSettled[] = []
    try {
      tick = await prepare(settlers)
    } catch (err) {
      // Nothing of it was written or answered: the cabinets resend.
      giveUp(settlers)
      metrics.ticksFailed.inc()
      log.error({ err }, 'ingest tick failed; its batches were not acknowledged and will be resent')
    } finally {
      preparing = false
    }
    if (tick) {
      const t = tick
      unsettled.push(t)
      settling = settling.then(() => settle(t, started))
    }
    releaseHeld()
    schedule()
    wakeIfIdle()
  }

  function busy(): boolean {
    return pending() > 0 || preparing || scheduled || unsettled.length > 0
  }

  function wakeIfIdle(): void {
    if (busy()) return
    const waiters = idleWaiters
    idleWaiters = []
    for (const w of waiters) w()
  }

  /** Commits a prepared tick (after every earlier one has settled) and finishes it. Never throws. */
  async function settle(tick: PreparedTick, started: number): Promise<void> {
    try {
      // Judgements made against heads of the tick before this one that did not commit are void.
      dropJudgedOnUncommitted(tick, uncommittedCabinets)
      uncommittedCabinets = new Set()
      let result: TickResult | null = null
      try {
        result = tick.writes.length > 0 || tick.tampered.length > 0 || tick.signatureFlags.length > 0
          ? await commit({ batches: tick.writes, tampered: tick.tampered, signatureFlags: tick.signatureFlags })
          : null
      } catch (err) {
        giveUp(tick.settlers)
        metrics.ticksFailed.inc()
        log.error({ err }, 'ingest tick failed; its batches were not acknowledged and will be resent')
        for (const w of tick.writes) uncommittedCabinets.add(w.cabinetId)
        return
      }
      await finish(tick, result)
    } catch (err) {
      // finish() runs after the commit: the sales are on disk, unanswered ones are resent and replayed.
      giveUp(tick.settlers)
      log.error({ err }, 'finishing an ingest tick failed')
      for (const w of tick.writes) uncommittedCabinets.add(w.cabinetId)
    } finally {
      unsettled.shift()
      metrics.tickSeconds.observe((performance.now() - started) / 1000)
      releaseHeld()
      schedule()
      wakeIfIdle()
    }
  }

  /** The tick's one transaction: the sales, then what other domains derive from them; then the after-commit hook. */
  async function commit(write: TickWrite): Promise<TickResult> {
    // The fold is not run ahead of our own ticks (that would be one fold per tick).
    const result = await opts.db.transaction(async (tx) => {
      const r = await store.commitTick(tx, write)
      for (const w of opts.tickWriters) await w(tx, r.aggregates)
      return r
    }, { deferDerived: true })
    // Before any reply: an acked sale is one the fold knows of (or reads back).
    if (result.deferred) opts.fold!.committed(result.deferred.rows, result.deferred.batches)

    try {
      opts.committed(result.aggregates)
    } catch (err) {
      // The sales are on disk: the tick must still advance its heads and ack them.
      log.error({ err }, 'after-commit hook of an ingest tick failed')
    }
    return result
  }

  /** The head a cabinet's next batch is judged against: this tick's, then the newest unsettled tick's, then committed. */
  function headOf(tick: PreparedTick, cabinetId: string): { head: ChainHead; isCommitted: boolean } {
    const own = tick.heads.get(cabinetId)
    if (own) return { head: own, isCommitted: false }
    for (let i = unsettled.length - 1; i >= 0; i--) {
      const h = unsettled[i]!.heads.get(cabinetId)
      if (h) {
        tick.borrowed.add(cabinetId)
        return { head: h, isCommitted: false }
      }
    }
    return { head: committed.get(cabinetId) ?? EMPTY_HEAD, isCommitted: true }
  }

  /** Decodes and judges queued batches; writes nothing. */
  async function prepare(settlers: BatchSettled[]): Promise<PreparedTick> {
    const tickMs = nowMs()
    const tick: PreparedTick = { heads: new Map(), borrowed: new Set(), writes: [], receivedMs: [], outcomes: [], tampered: [], signatureFlags: [], settlers }
    const { writes, tampered } = tick
    // Each taken batch's outcome, carrying its settled callback when it has one.
    let settled: BatchSettled | undefined
    const outcomes = {
      push(o: Outcome): void {
        if (settled) o.settled = settled
        tick.outcomes.push(o)
      },
    }
    let sales = 0
    let taken = 0

    // A replay of a seq accepted earlier in this tick or an unsettled one is
    // answered from their writes; anything older from the store.
    const hashAt = (cabinetId: string) => async (seq: number): Promise<string | null> =>
      hashIn(tick.writes, cabinetId, seq) ?? unsettledHash(cabinetId, seq) ?? store.saleHash(cabinetId, seq)

    let yieldAt = YIELD_EVERY_SALES
    while (pending() > 0 && taken < opts.maxBatchesPerTick && sales < opts.maxSalesPerTick) {
      if (sales >= yieldAt && unsettled.length > 0) {
        // The tick before is committing: let its round trips to the database
        // be answered between our chunks rather than after all of them.
        yieldAt = sales + YIELD_EVERY_SALES
        await yieldTurn()
        // It settled meanwhile, so the database is idle: this tick commits now
        // with what it holds, and what is still queued goes to the next one,
        // prepared while this one commits. (Taking on until the queue ran dry
        // left PostgreSQL idle for a whole large tick's preparation.)
        if (unsettled.length === 0) break
      }
      const item = take()
      taken++
      settled = item.settled && once(item.settled)
      if (settled) settlers.push(settled)
      const { cabinetId } = item
      const decoded = decodeSaleBatch(item.payload)
      if (!decoded.ok) {
        outcomes.push({ kind: 'reject', cabinetId, code: decoded.code, message: decoded.message, ...(decoded.batchId && { batchId: decoded.batchId }) })
        continue
      }
      const batch = decoded.data
      if (batch.cabinetId !== cabinetId) {
        outcomes.push({
          kind: 'reject',
          cabinetId,
          batchId: batch.batchId,
          code: 'CABINET_MISMATCH',
          message: `batch names cabinet ${batch.cabinetId} but was published on ${topics.sales(cabinetId)}`,
        })
        continue
      }
      // Issue 16 §2: before the chain is judged, so nothing of a forged batch is stored.
      let key: KeyObject | null = null
      if (opts.keys) {
        const k = opts.keys.get(cabinetId)
        key = k instanceof Promise ? await k : k
      }
      if (key !== null || opts.requireSigned) {
        let refusal = judgeSignature(key, batch, opts.requireSigned === true)
        if (refusal && opts.keys) {
          // The key may have changed a moment ago on another server (re-enrollment): read it once more.
          const fresh = await opts.keys.refresh(cabinetId, tickMs)
          if (fresh && fresh.key !== key) {
            key = fresh.key
            refusal = key !== null || opts.requireSigned ? judgeSignature(key, batch, opts.requireSigned === true) : null
          }
        }
        if (refusal) {
          log.warn({ cabinetId, batchId: batch.batchId, code: refusal.code, enrolled: key !== null }, 'sale batch refused for its signature; nothing of it stored')
          if (key !== null) flagSignature(tick, cabinetId, refusal.code, tickMs)
          outcomes.push({ kind: 'reject', cabinetId, batchId: batch.batchId, code: refusal.code, message: refusal.message })
          continue
        }
      }
      sales += batch.sales.length
      const { head, isCommitted } = headOf(tick, cabinetId)
      // Synchronous unless the batch replays an older seq: no await per batch.
      const checked = checkBatch(cabinetId, batch.sales, head, hashAt(cabinetId))
      let verdict = checked instanceof Promise ? await checked : checked
      if (!verdict.ok && verdict.code === 'SALE_SEQ_GAP' && isCommitted) {
        // Another server on the same database may have committed this
        // cabinet's sales while it was connected there (issue 13): the head
        // held here is then behind. Judge a gap again against the stored head.
        const stored = await store.chainHead(cabinetId)
        if (stored && stored.seq > head.seq) {
          committed.set(cabinetId, stored)
          verdict = await checkBatch(cabinetId, batch.sales, stored, hashAt(cabinetId))
        }
      }
      if (!verdict.ok) {
        if (verdict.code === 'SALE_TAMPERED') tampered.push({ cabinetId, at: new Date(tickMs).toISOString() })
        outcomes.push({ kind: 'reject', cabinetId, batchId: batch.batchId, code: verdict.code, message: verdict.message, ...(verdict.expectedSeq !== undefined && { expectedSeq: verdict.expectedSeq }) })
        continue
      }
      let writeIndex = -1
      if (verdict.newSales.length > 0) {
        const records = verdict.newSales.map((s) => toRecord(s, tickMs))
        if (opts.clockSample) {
          const skewMs = liveBatchSkewMs(batch.batchId, records.at(-1)!.recordedAtMs, item.receivedAtMs)
          if (skewMs !== null) opts.clockSample(cabinetId, skewMs)
        }
        writeIndex = writes.length
        // Kept with the sales for the auditor: the whole batch as signed (its first sales may be replays).
        const signature = batch.sig !== undefined && key !== null ? { batchId: batch.batchId, firstSeq: batch.sales[0]!.seq, lastSeq: batch.sales.at(-1)!.seq, sig: batch.sig } : null
        const receivedAt = isoAt(item.receivedAtMs)
        writes.push(signature ? { cabinetId, receivedAt, sales: records, signature } : { cabinetId, receivedAt, sales: records })
        tick.receivedMs.push(item.receivedAtMs)
        tick.heads.set(cabinetId, verdict.head)
      }
      outcomes.push({ kind: 'accept', cabinetId, batchId: batch.batchId, writeIndex, newSales: verdict.newSales.length })
    }
    return tick
  }

  // Per cabinet: when its signature flag was last put in a tick, and the refusals since.
  const signatureFlagged = new Map<string, { atMs: number; since: number }>()
  function flagSignature(tick: PreparedTick, cabinetId: string, code: SignatureFlag['code'], nowMs: number): void {
    const last = signatureFlagged.get(cabinetId)
    if (last && nowMs - last.atMs < SIGNATURE_FLAG_EVERY_MS) {
      last.since++
      return
    }
    tick.signatureFlags.push({ cabinetId, code, at: new Date(nowMs).toISOString(), count: (last?.since ?? 0) + 1 })
    signatureFlagged.set(cabinetId, { atMs: nowMs, since: 0 })
  }

  function unsettledHash(cabinetId: string, seq: number): string | null {
    for (let i = unsettled.length - 1; i >= 0; i--) {
      const h = hashIn(unsettled[i]!.writes, cabinetId, seq)
      if (h !== null) return h
    }
    return null
  }

  /** After commit: advance the heads of what was stored, then reply in arrival order. */
  async function finish(tick: PreparedTick, result: TickResult | null): Promise<void> {
    const { writes, outcomes } = tick
    const failed: ReadonlyMap<number, BatchFailure> = result?.failed ?? new Map()
    for (const r of result?.reused ?? []) {
      log.warn({ cabinetId: r.cabinetId, seq: r.seq, saleId: r.saleId, earlierSeq: r.earlierSeq }, 'sale reuses an earlier sale id; stored and flagged')
    }

    const committedMs = nowMs()
    const failedCabinets = new Set<string>()
    for (let i = 0; i < writes.length; i++) {
      const w = writes[i]!
      if (failed.has(i)) {
        failedCabinets.add(w.cabinetId)
        continue
      }
      if (failedCabinets.has(w.cabinetId)) continue
      const last = w.sales.at(-1)!
      committed.set(w.cabinetId, { seq: last.seq, hash: last.hash })
      metrics.batchWaitSeconds.observe(Math.max(0, committedMs - tick.receivedMs[i]!) / 1000)
      for (const s of w.sales) metrics.saleCommitDelaySeconds.observe(Math.max(0, committedMs - s.recordedAtMs) / 1000)
    }
    // A tick prepared meanwhile judged these cabinets against heads that did not commit.
    for (const c of failedCabinets) uncommittedCabinets.add(c)
    for (const [i, reason] of failed) {
      if (reason !== 'conflict') continue
      // The store had this seq already: our in-memory head was stale. Reload it.
      const cabinetId = writes[i]!.cabinetId
      const h = await store.chainHead(cabinetId)
      if (h) committed.set(cabinetId, h)
      log.error({ cabinetId }, 'sale chain head was stale; reloaded from the database')
    }

    // Replies, in arrival order. Outcomes of a cabinet after one of its batches
    // failed in the store were judged against a head that never committed: no
    // reply, the cabinet resends and is judged afresh.
    const silenced = new Set<string>()
    const isDebug = log.isLevelEnabled('debug')
    // Counters move once per tick: prom-client's inc() costs about as much per call as a reply.
    let salesCommitted = 0
    let skewed = 0
    let batchesCommitted = 0
    let batchesReplayed = 0
    for (const o of outcomes) {
      if (silenced.has(o.cabinetId)) {
        o.settled?.(false)
        continue
      }
      if (o.kind === 'reject') {
        reject(o.cabinetId, o.code, o.message, o.batchId, o.expectedSeq)
        o.settled?.(true)
        continue
      }
      const failure = o.writeIndex >= 0 ? failed.get(o.writeIndex) : undefined
      if (failure !== undefined || (o.writeIndex < 0 && failedCabinets.has(o.cabinetId))) {
        silenced.add(o.cabinetId)
        // An unknown cabinet's batch is dropped for good: delivered again it would only fail again.
        o.settled?.(failure === 'unknown_cabinet')
        if (failure === 'unknown_cabinet') {
          log.warn({ cabinetId: o.cabinetId, batchId: o.batchId }, 'sales from an unknown cabinet dropped')
        }
        continue
      }
      const head = committed.get(o.cabinetId) ?? EMPTY_HEAD
      if (o.newSales > 0) {
        const w = writes[o.writeIndex]!
        salesCommitted += w.sales.length
        for (const s of w.sales) if (s.skewFlag !== 0) skewed++
        batchesCommitted++
      } else {
        batchesReplayed++
      }
      opts.publish(repliesTopic(o.cabinetId), committedReply(o.batchId, head.seq, head.hash))
      o.settled?.(true)
      // Checked first: the fields object would be made per reply even when debug is off.
      if (isDebug) log.debug({ cabinetId: o.cabinetId, batchId: o.batchId, newSales: o.newSales, ackedSeq: head.seq }, 'sale batch committed')
    }
    if (salesCommitted > 0) metrics.salesIngested.inc(salesCommitted)
    if (batchesCommitted > 0) metrics.batchesCommitted.inc(batchesCommitted)
    if (batchesReplayed > 0) metrics.batchesReplayed.inc(batchesReplayed)
    if (skewed > 0) metrics.salesSkewed.inc(skewed)
  }
  function reject(cabinetId: string, code: RejectCode, message: string, batchId?: string, expectedSeq?: number): void {
    const committedSeq = committed.get(cabinetId)?.seq ?? 0
    metrics.batchesRejected.inc({ code })
    log.warn({ cabinetId, code, batchId, expectedSeq, committedSeq }, 'sale batch rejected')
    reply(cabinetId, {
      v: 1,
      type: 'reply',
      status: 'rejected',
      code,
      message,
      committedSeq,
      ...(batchId !== undefined && { batchId }),
      ...(expectedSeq !== undefined && { expectedSeq }),
    })
  }

  function reply(cabinetId: string, msg: ReplyMsg): void {
    opts.publish(topics.replies(cabinetId), encodeMessage(msg))
  }

  return {
    submit(cabinetId, payload, done, settled) {
      if (closed) {
        // Shutting down: not taken, not acked; the cabinet resends after restart.
        settled?.(false)
        done()
        return
      }
      queue.push({ cabinetId, payload, receivedAtMs: nowMs(), settled })
      queuedBytes += payload.length
      if (queuedBytes > opts.maxQueuedBytes) held.push(done)
      else done()
      schedule()
    },
    head(cabinetId) {
      return committed.get(cabinetId) ?? EMPTY_HEAD
    },
    queuedBatches: pending,
    idle() {
      if (!busy()) return Promise.resolve()
      return new Promise<void>((resolve) => idleWaiters.push(resolve))
    },
    close() {
      closing ??= (async () => {
        closed = true
        schedule()
        while (busy()) {
          await new Promise<void>((resolve) => idleWaiters.push(resolve))
        }
        releaseHeld()
      })()
      return closing
    },
  }
}

/**
 * encodeMessage() of a committed reply, from a template: the bytes
 * JSON.stringify gives for { v, type, status, batchId, ackedSeq, ackedHash }
 * in that order. Nothing needs escaping: batchId passed the UUID check,
 * the hash is hex, the seq an integer. One per committed batch, so it is on
 * the per-message path.
 */
export function committedReply(batchId: string, ackedSeq: number, ackedHash: string): Buffer {
  return Buffer.from(`{"v":1,"type":"reply","status":"committed","batchId":"${batchId}","ackedSeq":${ackedSeq},"ackedHash":"${ackedHash}"}`)
}

/**
 * JSON.stringify(lines) with the keys in schema order, from a template (~90 ns
 * against ~450 for two lines). Nothing needs escaping: a decoded SKU matches
 * /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/ and the numbers are safe integers (-0 prints 0 either way).
 */
function linesJson(lines: Sale['lines']): string {
  let json = '['
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!
    json += `${i === 0 ? '' : ','}{"sku":"${l.sku}","qty":${l.qty},"unitPriceFen":${l.unitPriceFen}}`
  }
  return `${json}]`
}

/**
 * Date.parse() of a decoded sale time, read by char code in the form agents
 * send (YYYY-MM-DDTHH:MM:SS.sssZ or without the fraction): ~25 ns against
 * ~215, once or twice per sale. The decoder has already held the string to
 * the schema's ISO pattern (valid calendar dates, 00-23 hours). Any other
 * form — another fraction length, or a year below 100, which Date.UTC would
 * read as 19xx — goes to Date.parse.
 */
export function isoUtcMs(iso: string): number {
  const n = iso.length
  if (n !== 24 && n !== 20) return Date.parse(iso)
  const year = digit(iso, 0) * 1000 + digit(iso, 1) * 100 + digit(iso, 2) * 10 + digit(iso, 3)
  if (year < 100) return Date.parse(iso)
  const ms = n === 24 ? digit(iso, 20) * 100 + digit(iso, 21) * 10 + digit(iso, 22) : 0
  return Date.UTC(year, two(iso, 5) - 1, two(iso, 8), two(iso, 11), two(iso, 14), two(iso, 17), ms)
}

// Module functions, not a closure per call: tsx (esbuild keepNames) wraps
// every named closure in __name(), a defineProperty each time it is made.
const digit = (s: string, i: number): number => s.charCodeAt(i) - 0x30
const two = (s: string, i: number): number => digit(s, i) * 10 + digit(s, i + 1)

export function toRecord(s: Sale, nowMs: number): SaleRecord {
  const soldAtMs = isoUtcMs(s.soldAt)
  // An agent whose controller gives no sale time sends its ledger time as both (edge-agent ledger.ts).
  const recordedAtMs = s.recordedAt === s.soldAt ? soldAtMs : isoUtcMs(s.recordedAt)
  // Implausible controller clocks are flagged, never dropped: the money changed hands.
  let skewFlag = 0
  if (Math.abs(soldAtMs - recordedAtMs) > SKEW_FROM_RECORDED_MS) skewFlag |= SKEW_FROM_RECORDED
  if (soldAtMs > nowMs + SKEW_FUTURE_MS) skewFlag |= SKEW_FUTURE
  return {
    saleId: s.saleId,
    seq: s.seq,
    soldAt: s.soldAt,
    soldAtMs,
    soldOn: shanghaiDate(soldAtMs),
    recordedAt: s.recordedAt,
    recordedAtMs,
    payment: s.payment,
    totalFen: s.totalFen,
    lines: s.lines,
    linesJson: linesJson(s.lines),
    prevHash: s.prevHash,
    hash: s.hash,
    skewFlag,
  }
}
