// Fleet data for the benches that measure queries rather than provisioning.
import type { Db } from '../fleet-server/src/db/index.js'
import { BUNDLED_PLANS } from '../shared/src/index.js'

/**
 * `count` operating cabinets straight into the table, spread over Chuzhou's
 * counties in turn (provisioning is not what these benches measure); their ids in order.
 */
export function insertOperatingCabinets(db: Db, count: number, at: Date): string[] {
  const counties = BUNDLED_PLANS['chuzhou-2020']!.counties
  const ids: string[] = []
  db.transaction(() => {
    const cab = db.prepare(
      `INSERT INTO cabinets (cabinet_id, county_code, status, secret_hash, credentials_issued_at, created_at, updated_at)
       VALUES (?, ?, 'operating', 'x', ?, ?, ?)`,
    )
    const iso = at.toISOString()
    for (let c = 0; c < count; c++) {
      const county = counties[c % counties.length]!.code
      const id = `${county}-${String(c).padStart(5, '0')}`
      cab.run(id, county, iso, iso, iso)
      ids.push(id)
    }
  })()
  return ids
}
