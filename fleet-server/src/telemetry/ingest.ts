// Telemetry intake (issue 16 §4): decode, check the cabinet reports for
// itself, and write the readings that arrive within a short window as one
// batch (one transaction, multi-row inserts). One write at a time, so each
// cabinet's latest row moves in arrival order. Readings arriving while a
// write runs wait for the next; above `maxQueued` the oldest are dropped
// (a reading is superseded by the next one anyway). A window rather than one
// event-loop turn: on SQLite every transaction is an fsync on the one
// connection the sale ingest also commits on, and per-turn batches at 900
// readings/s halved one-sale-per-message ingest beside them (bench/telemetry.ts).
import type { Logger } from 'pino'
import { decodeMessage, TelemetryMsg, type AlertRules } from '../../../shared/src/index.js'
import type { Reading, TelemetryStore } from './store.js'

export interface TelemetryIngest {
  receive(cabinetId: string, payload: Buffer): void
  /** Resolves when what was received so far is written (tests, shutdown). */
  drain(): Promise<void>
  readonly stats: { received: number; written: number; rejected: number; dropped: number }
}

export interface TelemetryIngestDeps {
  readonly store: TelemetryStore
  readonly rules: () => AlertRules
  readonly now: () => Date
  readonly log: Logger
  /** 50,000: a few minutes of a 20,000-cabinet fleet if the database stalls. */
  readonly maxQueued?: number
  /** How long the first reading of a batch waits for others: 250 ms, a few commits a second whatever the rate. */
  readonly windowMs?: number
  /** A batch this large is written at once. */
  readonly maxBatch?: number
}

export function createTelemetryIngest({ store, rules, now, log, maxQueued = 50_000, windowMs = 250, maxBatch = 1_000 }: TelemetryIngestDeps): TelemetryIngest {
  let queue: Reading[] = []
  let writing: Promise<void> | null = null
  let timer: NodeJS.Timeout | null = null
  const stats = { received: 0, written: 0, rejected: 0, dropped: 0 }

  async function writeBatch(): Promise<void> {
    const batch = queue
    queue = []
    if (batch.length === 0) return
    try {
      await store.write(batch, rules())
      stats.written += batch.length
    } catch (err) {
      // Dropped, not retried: the next reading of each cabinet supersedes these.
      log.error({ err, readings: batch.length }, 'telemetry not stored')
    }
  }

  function kick(): void {
    if (timer) clearTimeout(timer)
    timer = null
    writing ??= writeBatch().finally(() => {
      writing = null
      // What arrived during the last write waits its own window.
      if (queue.length > 0) schedule()
    })
  }

  function schedule(): void {
    if (queue.length >= maxBatch) return kick()
    if (timer === null && writing === null) {
      timer = setTimeout(kick, windowMs)
      timer.unref()
    }
  }

  return {
    stats,
    receive(cabinetId, payload) {
      const d = decodeMessage(TelemetryMsg, payload)
      if (!d.ok || d.data.cabinetId !== cabinetId) {
        stats.rejected++
        log.warn({ cabinetId, code: d.ok ? 'CABINET_MISMATCH' : d.code, reason: d.ok ? undefined : d.message.slice(0, 300) }, 'telemetry ignored')
        return
      }
      stats.received++
      queue.push({ msg: d.data, receivedAt: now().toISOString() })
      if (queue.length > maxQueued) {
        const over = queue.length - maxQueued
        queue.splice(0, over)
        stats.dropped += over
      }
      // The readings of this window go together; a write in progress takes them after it.
      schedule()
    },
    async drain() {
      while (writing !== null || queue.length > 0) {
        if (writing === null) kick()
        await writing
      }
      if (timer) clearTimeout(timer)
      timer = null
    },
  }
}
