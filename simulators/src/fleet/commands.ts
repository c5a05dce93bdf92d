// Remote commands during a simulated run (issue 16 §5, §8): a plan drawn from
// the seed (price changes on SKUs the cabinets sell, sync, catalog refresh;
// some sent while the cabinet's uplink is down, a few of those with an expiry
// shorter than the rest of the outage), sent over the fleet server's API at
// their instants, and the offline windows that justify an expiry.
import type { SimCabinet } from './ipc.js'
import { outagesOf, rng, SIM_CATALOG } from './model.js'
import type { Http } from './provision.js'

export type SimCommandBody =
  | { kind: 'price'; params: { sku: string; priceFen: number }; expiresInS?: number }
  | { kind: 'sync' | 'catalog-refresh'; expiresInS?: number }

export interface PlannedCommand {
  /** When to send it: real ms after the start of trade. */
  atWallMs: number
  cabinetId: string
  body: SimCommandBody
  /** Planned to arrive while the cabinet's uplink is down. */
  isIntoOutage: boolean
}

export interface SentCommand extends PlannedCommand {
  /** Null when the server refused it (status says how). */
  commandId: string | null
  status: number
}

export interface CommandPlanOptions {
  seed: string
  cabinets: readonly SimCabinet[]
  startMs: number
  days: number
  /** Virtual ms per real ms. */
  speed: number
  outageRate: number
  /** City-wide outages, virtual [from, to) UTC ms. */
  cityOutages: ReadonlyArray<readonly [number, number]>
  /** Steady mode: commands spread over this many real seconds, no outages. */
  steadySeconds: number | null
}

/** Every third command goes to a cabinet in an outage; every other one of those expires before the outage ends. */
const INTO_OUTAGE_EVERY = 3
/** A short expiry needs this much outage left after sending (real ms): it is set to half of what is left. */
const SHORT_EXPIRY_MIN_LEFT_MS = 3_000
/** Sent this long (real ms) after an outage began: a busy worker's gate cuts the uplink a little late. */
const AFTER_CUT_MS = 600
/** Into an outage, the operator waits (at most this long, real ms) until the server shows the cabinet offline. */
const OFFLINE_WAIT_MS = 1_500

/** A cabinet's uplink-down windows, virtual [from, to) UTC ms, within trade (its own outages and the city's). */
export function outageWindows(o: CommandPlanOptions, cabinetId: string): Array<[number, number]> {
  if (o.steadySeconds !== null) return []
  const endMs = o.startMs + o.days * 86_400_000
  return [...outagesOf(o.seed, cabinetId, o.startMs, o.days, o.outageRate), ...o.cityOutages.map(([a, b]) => [a, b] as [number, number])]
    .filter(([a, b]) => a < endMs && b > o.startMs)
}

/** `n` commands, the same for the same seed and fleet, in sending order. */
export function planCommands(o: CommandPlanOptions, n: number): PlannedCommand[] {
  if (n <= 0 || o.cabinets.length === 0) return []
  const r = rng(`${o.seed}|commands`)
  const endMs = o.startMs + o.days * 86_400_000
  const wallOf = (v: number): number => (v - o.startMs) / o.speed
  const windows = o.cabinets.flatMap((c) => outageWindows(o, c.cabinetId).map(([a, b]) => ({ cabinetId: c.cabinetId, a: Math.max(a, o.startMs), b: Math.min(b, endMs) })))
  // An outage still on at the end of trade lasts until the fleet-wide release: at least to the end.
  const sendable = windows.filter((w) => wallOf(w.b) - wallOf(w.a) > 2 * AFTER_CUT_MS)
  const long = sendable.filter((w) => wallOf(w.b) - wallOf(w.a) >= AFTER_CUT_MS + SHORT_EXPIRY_MIN_LEFT_MS)
  const out: PlannedCommand[] = []
  let intoOutage = 0
  for (let i = 0; i < n; i++) {
    const body = drawBody(r)
    const wantsOutage = i % INTO_OUTAGE_EVERY === INTO_OUTAGE_EVERY - 1
    const wantsShort = wantsOutage && intoOutage % 2 === 0
    const pool = wantsShort && long.length > 0 ? long : sendable
    if (wantsOutage && pool.length > 0) {
      intoOutage++
      const w = pool[Math.floor(r() * pool.length)]!
      const from = wallOf(w.a) + AFTER_CUT_MS
      // A short expiry is sent early enough to leave the outage room to outlast it.
      const to = pool === long ? wallOf(w.b) - SHORT_EXPIRY_MIN_LEFT_MS : wallOf(w.b) - AFTER_CUT_MS
      const at = from + r() * Math.max(0, to - from)
      if (pool === long) body.expiresInS = Math.max(1, Math.floor((wallOf(w.b) - at) / 2 / 1000))
      out.push({ atWallMs: at, cabinetId: w.cabinetId, body, isIntoOutage: true })
      continue
    }
    const cabinetId = o.cabinets[Math.floor(r() * o.cabinets.length)]!.cabinetId
    const at = o.steadySeconds !== null ? r() * o.steadySeconds * 1000 : wallOf(o.startMs + r() * (endMs - o.startMs))
    const v = o.startMs + at * o.speed
    const isIntoOutage = windows.some((w) => w.cabinetId === cabinetId && v >= w.a && v < w.b)
    out.push({ atWallMs: at, cabinetId, body, isIntoOutage })
  }
  return out.sort((a, b) => a.atWallMs - b.atWallMs)
}

function drawBody(r: () => number): SimCommandBody {
  const x = r()
  if (x < 0.5) {
    // A price change on a SKU every simulated cabinet sells: 80–120% of the catalog's, in whole jiao.
    const item = SIM_CATALOG[Math.floor(r() * SIM_CATALOG.length)]!
    let priceFen = Math.max(10, Math.round((item.priceFen * (0.8 + 0.4 * r())) / 10) * 10)
    if (priceFen === item.priceFen) priceFen += 10
    return { kind: 'price', params: { sku: item.sku, priceFen } }
  }
  return { kind: x < 0.75 ? 'sync' : 'catalog-refresh' }
}

/**
 * Sends each planned command at its instant after `startWallMs`; resolves
 * once all are sent. One planned into an outage goes once the server shows
 * the cabinet offline (as an operator sees it), so a worker running behind
 * its virtual clock does not turn it into one sent to a cabinet still online.
 */
export function sendCommands(http: Http, plan: readonly PlannedCommand[], startWallMs: number): Promise<SentCommand[]> {
  const untilOffline = async (cabinetId: string): Promise<void> => {
    for (const until = Date.now() + OFFLINE_WAIT_MS; Date.now() < until;) {
      const g = await http.call<{ online?: boolean }>('GET', `/api/v1/cabinets/${cabinetId}`)
      if (g.status !== 200 || g.body.online === false) return
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  return Promise.all(plan.map((p) => new Promise<SentCommand>((resolve) => {
    setTimeout(() => {
      (p.isIntoOutage ? untilOffline(p.cabinetId) : Promise.resolve())
        .then(() => http.call<{ commandId?: string }>('POST', `/api/v1/cabinets/${p.cabinetId}/commands`, p.body)).then(
        (res) => resolve({ ...p, commandId: res.status === 201 && typeof res.body.commandId === 'string' ? res.body.commandId : null, status: res.status }),
        () => resolve({ ...p, commandId: null, status: 0 }),
      )
    }, Math.max(0, startWallMs + p.atWallMs - Date.now()))
  })))
}
