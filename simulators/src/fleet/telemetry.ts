// Telemetry in a simulated fleet (issue 16 §4, §8): which cabinets are
// chilled, their incidents drawn from the seed (a cooling failure that pushes
// the temperature above 8 °C for an hour, a payment or vending fault), the
// readings' cadence under a fleet-wide rate cap, and the verdict's count of
// the alerts the server raised from them.
import type { FaultModule } from '../../../shared/src/index.js'
import { DAY, normal, rng, type Rand } from './model.js'
import type { Http } from './provision.js'

/** Share of cabinets keeping chilled goods (the temperature rule applies to them). */
export const CHILLED_SHARE = 0.4
/** Per cabinet per virtual day: chance that the cooling fails (chilled ones), and that a device fault shows. */
const COOLING_FAILURE_RATE = 0.08
const FAULT_RATE = 0.05
const HOUR = 3_600_000

/**
 * The fleet's real reading rate is capped at what the field sends: 2,700
 * cabinets at one reading a minute, 45 a second. A cabinet therefore reports
 * every virtual minute at most, and less often when the fleet is large or the
 * clock fast: every cabinets / 45 real seconds. At 12 cabinets and a day per
 * 5 s (speed 17,280) that is every 77 virtual minutes; at 2,700 and a day per
 * minute (speed 1,440), once a virtual day.
 */
export const FIELD_READINGS_PER_S = 2_700 / 60

export function readingIntervalMs(cabinets: number, speed: number): number {
  return Math.max(60_000, Math.ceil((cabinets / FIELD_READINGS_PER_S) * 1000 * speed))
}

export interface Incident {
  kind: 'cooling' | 'fault'
  /** Virtual [from, to) UTC ms. */
  from: number
  to: number
  module?: FaultModule
}

export const isChilled = (seed: string, cabinetId: string): boolean => rng(`${seed}|chilled|${cabinetId}`)() < CHILLED_SHARE

/** A cabinet's incidents during trade: cooling failures of an hour (chilled cabinets), faults of 1–3 hours. */
export function incidentsOf(seed: string, cabinetId: string, startMs: number, days: number): Incident[] {
  const r = rng(`${seed}|incidents|${cabinetId}`)
  const chilled = isChilled(seed, cabinetId)
  const out: Incident[] = []
  for (let d = 0; d < days; d++) {
    const cooling = r() < COOLING_FAILURE_RATE
    const fault = r() < FAULT_RATE
    if (cooling && chilled) {
      const from = startMs + (d + r()) * DAY
      out.push({ kind: 'cooling', from, to: from + HOUR })
    }
    if (fault) {
      const from = startMs + (d + r()) * DAY
      out.push({ kind: 'fault', from, to: from + HOUR * (1 + 2 * r()), module: r() < 0.5 ? 'payment' : 'vending' })
    }
  }
  return out
}

/** The sensor's temperature: about 4 °C chilled (above 8 °C while the cooling is down), about 22 °C otherwise. */
export function temperatureC(r: Rand, chilled: boolean, isCoolingDown: boolean): number {
  const t = isCoolingDown ? 9.5 + normal(r) * 0.8 : chilled ? 4 + normal(r) * 0.6 : 22 + normal(r) * 2
  return Math.round(Math.max(-50, Math.min(100, t)) * 10) / 10
}

export interface TelemetryVerdict {
  /** Readings the agents published. */
  readings: number
  /** temperature_high, door_open and device_fault alerts of the fleet's cabinets raised since the run began, and those still open. */
  alertsRaised: number
  alertsOpen: number
  byKind: Record<string, { raised: number; open: number }>
}

const KINDS = ['temperature_high', 'door_open', 'device_fault'] as const

/** Counts the telemetry alerts the server raised for `cabinets` since `sinceMs` (evaluating the rules once first). */
export async function countAlerts(http: Http, cabinets: ReadonlySet<string>, sinceMs: number, readings: number): Promise<TelemetryVerdict> {
  await http.call('POST', '/api/v1/alerts/evaluate')
  const byKind: TelemetryVerdict['byKind'] = {}
  for (const kind of KINDS) {
    const g = await http.call<{ alerts?: Array<{ cabinetId: string | null; raisedAt: string; clearedAt: string | null }> }>('GET', `/api/v1/alerts?state=all&kind=${kind}&limit=1000`)
    const ours = (g.status === 200 ? (g.body.alerts ?? []) : []).filter((a) => a.cabinetId !== null && cabinets.has(a.cabinetId) && Date.parse(a.raisedAt) >= sinceMs)
    byKind[kind] = { raised: ours.length, open: ours.filter((a) => a.clearedAt === null).length }
  }
  const sum = (k: 'raised' | 'open'): number => Object.values(byKind).reduce((n, x) => n + x[k], 0)
  return { readings, alertsRaised: sum('raised'), alertsOpen: sum('open'), byKind }
}
