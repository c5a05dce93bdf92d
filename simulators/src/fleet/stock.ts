// Stock in a simulated fleet (issue 16 §3, §8): each cabinet's planogram drawn
// from the seed (a slot per SKU the model sells), the restocking operator's
// delays, and the verdict: after the drain, the stock the server shows for each
// cabinet is the stock its agent's ledger holds.
import type { PlanogramSlot } from '../../../shared/src/index.js'
import { rng, SIM_CATALOG, type Rand } from './model.js'
import { pool, type Http } from './provision.js'

/** The slot a SKU sits in on every simulated cabinet (the controller knows it, so sales name it). */
export const SLOT_OF_SKU: ReadonlyMap<string, string> = new Map(SIM_CATALOG.map((c, i) => [c.sku, `S${String(i + 1).padStart(2, '0')}`]))

/**
 * The cabinet's planogram: every catalog SKU in its slot, capacity 4–12 units
 * (small shelves, so popular goods run low within a virtual day or two), par
 * the capacity or one or two below it.
 */
export function planogramOf(seed: string, cabinetId: string): PlanogramSlot[] {
  const r = rng(`${seed}|planogram|${cabinetId}`)
  return SIM_CATALOG.map((c) => {
    const capacity = 4 + Math.floor(r() * 9)
    return { slot: SLOT_OF_SKU.get(c.sku)!, sku: c.sku, capacity, par: capacity - Math.floor(r() * 3) }
  })
}

/** Low as the server's stock_low alert counts it: qty at most 20% of par (0 included). */
export const isLow = (s: { qty: number; par: number }): boolean => s.par > 0 && s.qty * 5 <= s.par

/** Share of restocks done by staff at the cabinet (its local API); the rest go through the operator's dashboard. */
export const LOCAL_RESTOCK_SHARE = 0.5

/** How long after a slot runs low the operator restocks: 1–30 virtual hours, log-uniform (a van round may be next day). */
export function restockDelayMs(r: Rand): number {
  return Math.exp(Math.log(3_600_000) + r() * (Math.log(30 * 3_600_000) - Math.log(3_600_000)))
}

export interface AgentStock {
  cabinetId: string
  rev: number
  slots: Array<{ slot: string; sku: string; capacity: number; par: number; qty: number; oversold: number }>
}

export interface StockVerdict {
  cabinets: number
  /** Restocks after a slot ran low (not the fill at installation), by the cabinet's staff or the operator's dashboard. */
  restocks: number
  restocksLocal: number
  restocksRemote: number
  /** Slots that reached 0 during trade. */
  stockOuts: number
  /** Cabinets whose server stock differs from their ledger's. */
  mismatches: number
  problems: Array<{ cabinetId: string; problem: string }>
}

const slotKey = (s: AgentStock['slots'][number]): string => `${s.slot}|${s.sku}|${s.capacity}|${s.par}|${s.qty}|${s.oversold}`

/**
 * Compares each cabinet's stock on the server with its agent's. A report may
 * still be on its way (the agent sends at most one per 2 s): each cabinet is
 * read again until the server holds the agent's rev, for at most `timeoutMs`.
 */
export async function judgeStock(http: Http, agents: readonly AgentStock[], timeoutMs: number): Promise<Pick<StockVerdict, 'cabinets' | 'mismatches' | 'problems'>> {
  const problems: StockVerdict['problems'] = []
  const deadline = Date.now() + timeoutMs
  const results = await pool(agents, 8, async (a) => {
    for (;;) {
      const g = await http.call<{ rev?: number | null; slots?: AgentStock['slots'] }>('GET', `/api/v1/cabinets/${a.cabinetId}/stock`)
      const isCurrent = g.status === 200 && g.body.rev === a.rev
      if (isCurrent || Date.now() >= deadline) {
        if (g.status !== 200) return `GET stock: HTTP ${g.status}`
        if (!isCurrent) return `server rev ${String(g.body.rev)}, ledger rev ${a.rev}`
        const server = (g.body.slots ?? []).map(slotKey).sort()
        const ledger = a.slots.map(slotKey).sort()
        const differ = ledger.filter((k) => !server.includes(k)).concat(server.filter((k) => !ledger.includes(k)))
        return differ.length === 0 ? null : `slots differ (slot|sku|capacity|par|qty|oversold): ${differ.slice(0, 6).join(', ')}`
      }
      await new Promise((r) => setTimeout(r, 250))
    }
  })
  results.forEach((p, i) => {
    if (p !== null && problems.length < 20) problems.push({ cabinetId: agents[i]!.cabinetId, problem: p })
  })
  return { cabinets: agents.length, mismatches: results.filter((p) => p !== null).length, problems }
}
