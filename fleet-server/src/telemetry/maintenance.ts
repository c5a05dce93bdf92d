// The telemetry leader job (issue 16 §4): raw readings of the hours since the
// last run become hourly rows, and raw readings past FLEET_TELEMETRY_RAW_DAYS
// and hourly rows past FLEET_TELEMETRY_HOURLY_DAYS are deleted. Hours are
// recomputed whole, so running it twice, or late, writes the same rows.
import type { TelemetryStore } from './store.js'

export interface Retention {
  readonly rawDays: number
  readonly hourlyDays: number
}

const DAY_MS = 86_400_000
const HOUR_MS = 3_600_000
/** The job runs hourly; two hours back covers a run that was skipped or late. */
export const DOWNSAMPLE_LOOKBACK_HOURS = 2

const hourStart = (ms: number) => new Date(Math.floor(ms / HOUR_MS) * HOUR_MS).toISOString()

export async function telemetryMaintenance(store: TelemetryStore, now: Date, retention: Retention, lookbackHours = DOWNSAMPLE_LOOKBACK_HOURS): Promise<{ hourly: number; prunedRaw: number; prunedHourly: number }> {
  const nowMs = now.getTime()
  // Up to now: the current hour's row so far, completed by the next run.
  const hourly = await store.downsample(hourStart(nowMs - lookbackHours * HOUR_MS), new Date(nowMs + 1).toISOString())
  const pruned = await store.prune(new Date(nowMs - retention.rawDays * DAY_MS).toISOString(), hourStart(nowMs - retention.hourlyDays * DAY_MS).slice(0, 13))
  return { hourly, prunedRaw: pruned.raw, prunedHourly: pruned.hourly }
}
