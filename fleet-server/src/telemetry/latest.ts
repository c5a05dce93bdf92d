// A cabinet's "latest" telemetry row (issue 16 §4), computed at write time
// from the previous one: what the alert rules read, so any replica's leader
// evaluates them from the database alone. Times are the server's clock
// (received), so a cabinet with a wrong clock cannot shorten a rule's wait;
// the door's opening time is the agent's, carried over as a duration.
import type { AlertRules, DeviceFault, TelemetryMsg } from '../../../shared/src/index.js'

export interface ActiveFault extends DeviceFault {
  /** When the server first saw it active. */
  readonly since: string
}

export interface LatestTelemetry {
  readonly cabinetId: string
  readonly receivedAt: string
  readonly sentAt: string
  readonly agentInstanceId: string
  readonly agentVersion: string
  readonly chilled: boolean
  readonly temperatureC: number | null
  /** First reading of the current run above the limit (chilled cabinets only); null otherwise. */
  readonly tempAboveSince: string | null
  readonly doorOpen: boolean
  readonly doorOpenSince: string | null
  readonly faults: readonly ActiveFault[]
  readonly diskUsedPct: number | null
  readonly outboxPending: number
  readonly outboxOldestAgeS: number
  readonly ledgerBytes: number
  /** Agent instance id → when it last reported, for ids seen within two rule windows. */
  readonly agentsSeen: Readonly<Record<string, string>>
}

const iso = (ms: number) => new Date(ms).toISOString()

export function nextLatest(prev: LatestTelemetry | null, msg: TelemetryMsg, receivedAt: string, rules: AlertRules): LatestTelemetry {
  const receivedMs = Date.parse(receivedAt)
  const isAbove = msg.chilled && msg.temperatureC !== null && msg.temperatureC > rules.temperatureHighC
  let doorOpenSince: string | null = null
  if (msg.doorOpen) {
    // Open for as long as the agent says, measured on the server's clock.
    const openForMs = msg.doorOpenSince === null ? 0 : Math.max(0, Date.parse(msg.sentAt) - Date.parse(msg.doorOpenSince))
    const reported = iso(receivedMs - openForMs)
    doorOpenSince = prev?.doorOpen && prev.doorOpenSince !== null && prev.doorOpenSince < reported ? prev.doorOpenSince : reported
  }
  const faults = msg.faults.map((f): ActiveFault => ({
    module: f.module,
    code: f.code,
    since: prev?.faults.find((p) => p.module === f.module && p.code === f.code)?.since ?? receivedAt,
  }))
  // Old ids are dropped once twice the window has passed: the row stays small.
  const keepAfter = iso(receivedMs - 2 * rules.twoAgentsWindowMinutes * 60_000)
  const agentsSeen: Record<string, string> = {}
  for (const [id, at] of Object.entries(prev?.agentsSeen ?? {})) if (at >= keepAfter) agentsSeen[id] = at
  agentsSeen[msg.agentInstanceId] = receivedAt
  return {
    cabinetId: msg.cabinetId,
    receivedAt,
    sentAt: msg.sentAt,
    agentInstanceId: msg.agentInstanceId,
    agentVersion: msg.agentVersion,
    chilled: msg.chilled,
    temperatureC: msg.temperatureC,
    tempAboveSince: isAbove ? (prev?.tempAboveSince ?? receivedAt) : null,
    doorOpen: msg.doorOpen,
    doorOpenSince,
    faults,
    diskUsedPct: msg.diskUsedPct,
    outboxPending: msg.outboxPending,
    outboxOldestAgeS: msg.outboxOldestAgeS,
    ledgerBytes: msg.ledgerBytes,
    agentsSeen,
  }
}

/** Agent instance ids that reported within `windowMs` before `now`. */
export function agentsWithin(latest: LatestTelemetry, now: Date, windowMs: number): string[] {
  const after = iso(now.getTime() - windowMs)
  return Object.entries(latest.agentsSeen)
    .filter(([, at]) => at >= after)
    .map(([id]) => id)
}
