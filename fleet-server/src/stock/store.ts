// Planograms and reported stock on either database (issue 16 §3). A report
// replaces the cabinet's slots only when its rev is not older than the stored
// one: the conditional upsert on cabinet_stock_reports decides, inside the
// transaction that rewrites the slots, so two replicas taking two reports of
// one cabinet at once cannot leave the older one in place.
import type { PlanogramSlot, StockMsg } from '../../../shared/src/index.js'
import type { CabinetScope } from '../access/index.js'
import { sql } from 'kysely'
import type { FleetDb } from '../db/database.js'

export interface StockTarget {
  readonly cabinetId: string
  readonly countyCode: string
  readonly operator: string | null
  readonly siteName: string | null
  readonly status: string
}

export interface StoredPlanogram {
  readonly slots: PlanogramSlot[]
  readonly commandId: string
  readonly setBy: string
  readonly setAt: string
}

export interface StockRow {
  readonly cabinetId: string
  readonly countyCode: string
  readonly operator: string | null
  readonly siteName: string | null
  readonly slot: string
  readonly sku: string
  readonly productName: string | null
  readonly capacity: number
  readonly par: number
  readonly qty: number
  readonly oversold: number
  readonly reportedAt: string | null
}

export interface StockStore {
  target(cabinetId: string): Promise<StockTarget | null>
  putPlanogram(cabinetId: string, p: StoredPlanogram): Promise<void>
  planogram(cabinetId: string): Promise<StoredPlanogram | null>
  /** Stores the report unless the stored rev is newer; false when ignored (older rev) or the cabinet is unknown. */
  putReport(msg: StockMsg, reportedAt: string): Promise<boolean>
  report(cabinetId: string): Promise<{ rev: number; reportedAt: string } | null>
  /** Slots of cabinets in the scope (not retired), with product names; `belowPar` keeps qty < par only. */
  slots(filter: CabinetScope & { cabinetId?: string; belowPar?: boolean }): Promise<StockRow[]>
}

export function createStockStore(db: FleetDb): StockStore {
  const k = db.kysely
  return {
    async target(cabinetId) {
      const r = await k.selectFrom('cabinets').select(['cabinet_id', 'county_code', 'operator', 'site_name', 'status']).where('cabinet_id', '=', cabinetId).executeTakeFirst()
      return r ? { cabinetId: r.cabinet_id, countyCode: r.county_code, operator: r.operator, siteName: r.site_name, status: r.status } : null
    },
    async putPlanogram(cabinetId, p) {
      const row = { cabinet_id: cabinetId, slots: JSON.stringify(p.slots), command_id: p.commandId, set_by: p.setBy, set_at: p.setAt }
      await k
        .insertInto('cabinet_planograms')
        .values(row)
        .onConflict((oc) => oc.column('cabinet_id').doUpdateSet({ slots: row.slots, command_id: row.command_id, set_by: row.set_by, set_at: row.set_at }))
        .execute()
    },
    async planogram(cabinetId) {
      const r = await k.selectFrom('cabinet_planograms').selectAll().where('cabinet_id', '=', cabinetId).executeTakeFirst()
      return r ? { slots: JSON.parse(r.slots) as PlanogramSlot[], commandId: r.command_id, setBy: r.set_by, setAt: r.set_at } : null
    },
    async putReport(msg, reportedAt) {
      const known = await k.selectFrom('cabinets').select('cabinet_id').where('cabinet_id', '=', msg.cabinetId).executeTakeFirst()
      if (!known) return false
      // Every agent reports its stock on connecting: after an outage, thousands
      // in a few seconds. Each was a commit (an fsync) of its own that ran the
      // sales fold first, a fold per report instead of one a second, and a
      // backlog drain took a quarter to a half longer (issue 13). These tables
      // are none of the fold's; the reports of one event-loop turn commit together.
      return db.transaction(async (tx) => {
        const r = await tx
          .insertInto('cabinet_stock_reports')
          .values({ cabinet_id: msg.cabinetId, rev: msg.rev, sent_at: msg.sentAt, reported_at: reportedAt })
          .onConflict((oc) =>
            oc.column('cabinet_id').doUpdateSet({ rev: msg.rev, sent_at: msg.sentAt, reported_at: reportedAt }).where('cabinet_stock_reports.rev', '<=', msg.rev),
          )
          .executeTakeFirst()
        if (Number(r.numInsertedOrUpdatedRows ?? 0) === 0) return false
        await tx.deleteFrom('cabinet_stock').where('cabinet_id', '=', msg.cabinetId).execute()
        if (msg.slots.length > 0) {
          await tx
            .insertInto('cabinet_stock')
            .values(msg.slots.map((s) => ({ cabinet_id: msg.cabinetId, slot: s.slot, sku: s.sku, capacity: s.capacity, par: s.par, qty: s.qty, oversold: s.oversold })))
            .execute()
        }
        return true
      }, { group: true, deferDerived: true })
    },
    async report(cabinetId) {
      const r = await k.selectFrom('cabinet_stock_reports').select(['rev', 'reported_at']).where('cabinet_id', '=', cabinetId).executeTakeFirst()
      return r ? { rev: Number(r.rev), reportedAt: r.reported_at } : null
    },
    async slots(filter) {
      let q = k
        .selectFrom('cabinet_stock as s')
        .innerJoin('cabinets as c', 'c.cabinet_id', 's.cabinet_id')
        .leftJoin('products as p', 'p.sku', 's.sku')
        .leftJoin('cabinet_stock_reports as r', 'r.cabinet_id', 's.cabinet_id')
        .select(['s.cabinet_id', 'c.county_code', 'c.operator', 'c.site_name', 's.slot', 's.sku', 'p.name', 's.capacity', 's.par', 's.qty', 's.oversold', 'r.reported_at'])
        .where('c.status', '!=', 'retired')
      if (filter.countyCode !== undefined) q = q.where('c.county_code', '=', filter.countyCode)
      if (filter.operator !== undefined) q = q.where('c.operator', '=', filter.operator)
      if (filter.cabinetId !== undefined) q = q.where('s.cabinet_id', '=', filter.cabinetId)
      if (filter.belowPar) q = q.whereRef('s.qty', '<', 's.par')
      const rows = await q.orderBy('c.county_code').orderBy(sql`coalesce(c.site_name, '')`).orderBy('s.cabinet_id').orderBy('s.slot').execute()
      return rows.map((r) => ({
        cabinetId: r.cabinet_id,
        countyCode: r.county_code,
        operator: r.operator,
        siteName: r.site_name,
        slot: r.slot,
        sku: r.sku,
        productName: r.name,
        capacity: Number(r.capacity),
        par: Number(r.par),
        qty: Number(r.qty),
        oversold: Number(r.oversold),
        reportedAt: r.reported_at,
      }))
    },
  }
}
