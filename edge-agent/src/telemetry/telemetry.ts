// The cabinet's readings (issue 16 §4): what its controller last reported on
// POST /telemetry (temperature, door, faults), plus what the agent knows of
// itself (disk, outbox, ledger size), published on up/telemetry every
// interval and at once when the door or a fault changes. Held in memory only:
// a reading is not a record, and the next one supersedes it.
import { randomUUID } from 'node:crypto'
import { statfsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { z } from 'zod'
import { AppError, PostTelemetryRequest, type DeviceFault, type TelemetryMsg } from '../../../shared/src/edge.js'
import { zodErrorZh } from '../../../shared/src/text/zod-zh.js'
import { AGENT_VERSION } from '../version.js'

export interface TelemetryDeps {
  readonly cabinetId: string
  readonly dataDir: string
  readonly chilled: boolean
  /** Periodic publish interval; 0 = only on changes and on connect. */
  readonly intervalMs: number
  /** Sends one message (QoS 0); false when not connected. */
  readonly publish: (payload: string) => boolean
  readonly outbox: () => { pending: number; oldestPendingAgeS: number }
  readonly now: () => number
  readonly log: Logger
}

export interface Telemetry {
  /** This process's id, new at every start. */
  readonly agentInstanceId: string
  /** Validates and applies a controller report; publishes at once when the door or a fault changed. Throws AppError VALIDATION_FAILED (400). */
  report(input: unknown): { published: boolean }
  /** The message as it would be sent now. */
  message(): TelemetryMsg
  /** Publishes now (on connect, on change); false when not connected. */
  publishNow(): boolean
  close(): void
}

const faultKey = (f: DeviceFault) => `${f.module}\u0000${f.code}`

export function createTelemetry(deps: TelemetryDeps): Telemetry {
  const agentInstanceId = randomUUID()
  let temperatureC: number | null = null
  let doorOpenSinceMs: number | null = null
  const faults = new Map<string, DeviceFault>()

  function message(): TelemetryMsg {
    const nowMs = deps.now()
    const outbox = deps.outbox()
    return {
      v: 1,
      type: 'telemetry',
      cabinetId: deps.cabinetId,
      sentAt: new Date(nowMs).toISOString(),
      agentInstanceId,
      agentVersion: AGENT_VERSION,
      chilled: deps.chilled,
      temperatureC,
      doorOpen: doorOpenSinceMs !== null,
      doorOpenSince: doorOpenSinceMs === null ? null : new Date(doorOpenSinceMs).toISOString(),
      faults: [...faults.values()],
      diskUsedPct: diskUsedPct(deps.dataDir),
      outboxPending: outbox.pending,
      outboxOldestAgeS: outbox.oldestPendingAgeS,
      ledgerBytes: ledgerBytes(deps.dataDir),
    }
  }

  function publishNow(): boolean {
    try {
      return deps.publish(JSON.stringify(message()))
    } catch (err) {
      deps.log.error({ err }, 'telemetry not published')
      return false
    }
  }

  const timer = deps.intervalMs > 0 ? setInterval(publishNow, deps.intervalMs) : null
  timer?.unref()

  return {
    agentInstanceId,
    message,
    publishNow,
    report(input) {
      const parsed = PostTelemetryRequest.safeParse(input)
      if (!parsed.success) throw new AppError('VALIDATION_FAILED', z.prettifyError(parsed.error), 400, undefined, zodErrorZh(parsed.error))
      const r = parsed.data
      let changed = false
      if (r.temperatureC !== undefined) temperatureC = r.temperatureC
      if (r.doorOpen !== undefined && r.doorOpen !== (doorOpenSinceMs !== null)) {
        doorOpenSinceMs = r.doorOpen ? deps.now() : null
        changed = true
      }
      for (const f of r.faults ?? []) {
        const key = faultKey(f)
        if (f.active && !faults.has(key)) {
          faults.set(key, { module: f.module, code: f.code })
          changed = true
        } else if (!f.active && faults.delete(key)) {
          changed = true
        }
      }
      return { published: changed && publishNow() }
    },
    close() {
      if (timer) clearInterval(timer)
    },
  }
}

/** Used share of the file system holding the ledger, in percent (1 decimal); null when statfs fails. */
function diskUsedPct(dataDir: string): number | null {
  try {
    const s = statfsSync(dataDir)
    if (s.blocks <= 0) return null
    // Used against what a non-root process can use, as df reports it.
    const used = s.blocks - s.bfree
    const total = used + s.bavail
    return total > 0 ? Math.round((used / total) * 1000) / 10 : null
  } catch {
    return null
  }
}

/** The ledger's bytes on disk: the database file and its WAL. */
function ledgerBytes(dataDir: string): number {
  let total = 0
  for (const name of ['ledger.db', 'ledger.db-wal']) {
    try {
      total += statSync(join(dataDir, name)).size
    } catch {
      // A missing WAL is normal after a checkpoint.
    }
  }
  return total
}
