// Planogram and stock (issue 16 §3): the operator sets a cabinet's planogram
// (sent as a `planogram` command), the cabinet reports its stock by slot, a
// restock recorded on the dashboard goes to the cabinet as a `restock`
// command, and the restock (pick) list tells the van what to load. Scope as
// for commands: admin, the cabinet's county, its operator; auditors read.
import type { Logger } from 'pino'
import {
  decodeMessage, quoteZh, StockMsg, uuidv7,
  type CabinetStockReply, type PlanogramSlot, type PostRestockBody, type PostRestockReply, type PutPlanogramReply, type RestockList, type RestockListQuery,
} from '../../../shared/src/index.js'
import { cabinetScope, canSeeCabinet, isCityWide, notFound, outOfScope, type Principal } from '../access/index.js'
import type { CommandService } from '../commands/index.js'
import { cabinetNotFound } from './errors.js'
import type { StockRow, StockStore } from './store.js'

/** A slot is low at or below 20% of its par (标准库存): one day's sales of a typical slot. */
export const STOCK_LOW_SHARE_BP = 2_000

/** out: empty although it should hold something; low: at or below the low level; else ok. */
export function stockLevel(qty: number, par: number): 'ok' | 'low' | 'out' {
  if (par === 0) return 'ok' // nothing is meant to be there
  if (qty === 0) return 'out'
  return qty * 10_000 <= par * STOCK_LOW_SHARE_BP ? 'low' : 'ok'
}

export interface StockService {
  /** A cabinet's up/stock message (raw); older revs and another cabinet's reports are ignored. */
  report(cabinetId: string, payload: Buffer): Promise<void>
  putPlanogram(by: Principal, cabinetId: string, slots: PlanogramSlot[]): Promise<PutPlanogramReply>
  stock(by: Principal, cabinetId: string): Promise<CabinetStockReply>
  restock(by: Principal, cabinetId: string, body: PostRestockBody): Promise<PostRestockReply>
  restockList(by: Principal, query: Omit<RestockListQuery, 'format'>): Promise<RestockList>
  /** Slots of every cabinet of one county (alerts). */
  countySlots(countyCode: string): Promise<StockRow[]>
}

export interface StockServiceDeps {
  readonly store: StockStore
  readonly commands: () => CommandService
  readonly countyName: (code: string) => string
  readonly now: () => Date
  readonly log: Logger
}

export function createStockService({ store, commands, countyName, now, log }: StockServiceDeps): StockService {
  const visible = async (by: Principal, cabinetId: string) => {
    const t = await store.target(cabinetId)
    if (t && canSeeCabinet(by, t)) return t
    throw isCityWide(by) ? cabinetNotFound(cabinetId) : notFound(`cabinet ${cabinetId}`, `专柜 ${quoteZh(cabinetId)}`)
  }

  return {
    async report(cabinetId, payload) {
      const d = decodeMessage(StockMsg, payload)
      if (!d.ok || d.data.cabinetId !== cabinetId) {
        log.warn({ cabinetId, code: d.ok ? 'CABINET_MISMATCH' : d.code }, 'stock report ignored')
        return
      }
      const stored = await store.putReport(d.data, now().toISOString())
      log.debug({ cabinetId, rev: d.data.rev, stored }, stored ? 'stock report stored' : 'stock report older than the stored one; ignored')
    },

    async putPlanogram(by, cabinetId, slots) {
      // The command service checks scope, role and a retired cabinet.
      const sent = await commands().send(by, cabinetId, { kind: 'planogram', params: { slots } })
      await store.putPlanogram(cabinetId, { slots, commandId: sent.commandId, setBy: by.username, setAt: now().toISOString() })
      log.info({ cabinetId, slots: slots.length, commandId: sent.commandId, by: by.username }, 'planogram set')
      return { commandId: sent.commandId, state: sent.state }
    },

    async stock(by, cabinetId) {
      await visible(by, cabinetId)
      const [rows, report, planogram] = await Promise.all([store.slots({ cabinetId }), store.report(cabinetId), store.planogram(cabinetId)])
      const command = planogram ? await commands().get(by, planogram.commandId) : null
      return {
        cabinetId,
        reportedAt: report?.reportedAt ?? null,
        rev: report?.rev ?? null,
        slots: rows.map((r) => ({ slot: r.slot, sku: r.sku, productName: r.productName, capacity: r.capacity, par: r.par, qty: r.qty, oversold: r.oversold, level: stockLevel(r.qty, r.par) })),
        planogram: planogram && command ? { ...planogram, state: command.state } : null,
      }
    },

    async restock(by, cabinetId, body) {
      const restockId = body.restockId ?? uuidv7(now().getTime())
      const params = 'fill' in body ? { restockId, fill: true as const } : { restockId, slots: body.slots }
      const sent = await commands().send(by, cabinetId, { kind: 'restock', params })
      log.info({ cabinetId, restockId, commandId: sent.commandId, by: by.username }, 'restock sent')
      return { commandId: sent.commandId, restockId, state: sent.state }
    },

    async restockList(by, query) {
      const scope = cabinetScope(by)
      if (query.county !== undefined && scope.countyCode !== undefined && query.county !== scope.countyCode) {
        throw outOfScope(`a county user of ${scope.countyCode} may not list county ${query.county}`, `县区用户只能查看本县区的补货单，不能查看 “${query.county}”`)
      }
      const rows = await store.slots({ ...scope, ...(query.county !== undefined && { countyCode: query.county }), belowPar: true })
      return pickList(rows, countyName, now())
    },

    countySlots: (countyCode) => store.slots({ countyCode }),
  }
}

/** Groups slots below par by county, then site, then cabinet, with sku totals per county and overall. */
export function pickList(rows: readonly StockRow[], countyName: (code: string) => string, at: Date): RestockList {
  const counties: RestockList['counties'] = []
  const all = new Map<string, { productName: string | null; need: number }>()
  const add = (m: Map<string, { productName: string | null; need: number }>, r: StockRow, need: number) => {
    const t = m.get(r.sku) ?? { productName: r.productName, need: 0 }
    t.need += need
    m.set(r.sku, t)
  }
  const toTotals = (m: Map<string, { productName: string | null; need: number }>) =>
    [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([sku, t]) => ({ sku, productName: t.productName, need: t.need }))
  let countyTotals = new Map<string, { productName: string | null; need: number }>()
  // Rows come ordered by county, site, cabinet, slot (store.slots).
  for (const r of rows) {
    const need = r.par - r.qty
    if (need <= 0) continue
    let county = counties.at(-1)
    if (county?.countyCode !== r.countyCode) {
      if (county) county.totals = toTotals(countyTotals)
      countyTotals = new Map()
      county = { countyCode: r.countyCode, countyName: countyName(r.countyCode), sites: [], totals: [] }
      counties.push(county)
    }
    let site = county.sites.at(-1)
    if (!site || site.siteName !== r.siteName) {
      site = { siteName: r.siteName, cabinets: [] }
      county.sites.push(site)
    }
    let cabinet = site.cabinets.at(-1)
    if (cabinet?.cabinetId !== r.cabinetId) {
      cabinet = { cabinetId: r.cabinetId, siteName: r.siteName, reportedAt: r.reportedAt, lines: [] }
      site.cabinets.push(cabinet)
    }
    cabinet.lines.push({ slot: r.slot, sku: r.sku, productName: r.productName, par: r.par, qty: r.qty, need })
    add(countyTotals, r, need)
    add(all, r, need)
  }
  const last = counties.at(-1)
  if (last) last.totals = toTotals(countyTotals)
  return { generatedAt: at.toISOString(), counties, totals: toTotals(all) }
}
