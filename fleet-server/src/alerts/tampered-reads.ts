// The cabinets of one county whose chain ingest flagged tampered (cabinet_sales.chain_status), for the ledger_tampered alert.
import type { FleetDb } from '../db/database.js'
import type { TamperedCabinet } from './telemetry-sources.js'

export async function tamperedCabinets(db: FleetDb, countyCode: string): Promise<TamperedCabinet[]> {
  const rows = await db.kysely
    .selectFrom('cabinet_sales as s')
    .innerJoin('cabinets as c', 'c.cabinet_id', 's.cabinet_id')
    .select(['s.cabinet_id', 'c.county_code', 'c.operator', 's.tampered_at', 's.tampered_count'])
    .where('s.chain_status', '=', 'tampered')
    .where('c.county_code', '=', countyCode)
    .execute()
  return rows.map((r) => ({ cabinetId: r.cabinet_id, countyCode: r.county_code, operator: r.operator, tamperedAt: r.tampered_at, tamperedCount: Number(r.tampered_count) }))
}
