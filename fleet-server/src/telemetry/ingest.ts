// Telemetry intake (issue 16 §4): decode, check the cabinet reports for
// itself, and write the readings that arrive in one event-loop turn as one
// batch (one transaction, multi-row inserts). One write at a time, so each
// cabinet's latest row moves in arrival order. Readings arriving while a
// write runs wait for the next; above `maxQueued` the oldest are dropped
// (a reading is superseded by the next one anyway).
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
}

export function createTelemetryIngest({ store, rules, now, log, maxQueued = 50_000 }: TelemetryIngestDeps): TelemetryIngest {
  let queue: Reading[] = []
  let writing: Promise<void> | null = null
  let scheduled = false
  const stats = { received: 0, written: 0, rejected: 0, dropped: 0 }

  async function writeAll(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue
      queue = []
      try {
        await store.write(batch, rules())
        stats.written += batch.length
      } catch (err) {
        // Dropped, not retried: the next reading of each cabinet supersedes these.
        log.error({ err, readings: batch.length }, 'telemetry not stored')
      }
    }
  }

  function kick(): void {
    scheduled = false
    writing ??= writeAll().finally(() => (writing = null))
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
      // The readings of this turn go together; a write in progress takes them after it.
      if (!scheduled && writing === null) {
        scheduled = true
        setImmediate(kick)
      }
    },
    async drain() {
      while (scheduled || writing !== null || queue.length > 0) {
        if (scheduled || (writing === null && queue.length > 0)) kick()
        await writing
      }
    },
  }
}
