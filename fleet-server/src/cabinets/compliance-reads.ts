// Named reads of the cabinets table for the compliance domain (issue 13: each
// table has one owner; others read it through the owner's queries). Returned
// as query builders where compliance embeds them in one statement of its own.
import type { CabinetRange } from '../db/index.js'
import type { Executor } from '../db/database.js'

export interface CabinetFilter {
  readonly countyCode?: string
  readonly operator?: string
  readonly cabinetId?: string
}

/** (cabinet_id, county_code) of the cabinets matching `f`, as a subquery. */
export function cabinetsMatching(ex: Executor, f: CabinetFilter) {
  let q = ex.selectFrom('cabinets').select(['cabinet_id', 'county_code'])
  if (f.countyCode !== undefined) q = q.where('county_code', '=', f.countyCode)
  if (f.operator !== undefined) q = q.where('operator', '=', f.operator)
  if (f.cabinetId !== undefined) q = q.where('cabinet_id', '=', f.cabinetId)
  return q
}

/** cabinet id → county code, for the cabinets in `r` (ids after r.after through r.through). */
export async function countiesInRange(ex: Executor, r: CabinetRange): Promise<Map<string, string>> {
  const rows = await ex.selectFrom('cabinets').select(['cabinet_id', 'county_code']).where('cabinet_id', '>', r.after).where('cabinet_id', '<=', r.through).execute()
  return new Map(rows.map((x) => [x.cabinet_id, x.county_code]))
}
