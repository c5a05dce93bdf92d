// Named reads of the cabinets table for the certification domain (issue 13:
// each table has one owner; others read it through the owner's queries).
import type { Executor } from '../db/database.js'

/** Every cabinet not retired, by id: the ones a new catalog is published to. */
export async function liveCabinetIds(ex: Executor): Promise<string[]> {
  const rows = await ex.selectFrom('cabinets').select('cabinet_id').where('status', '!=', 'retired').orderBy('cabinet_id').execute()
  return rows.map((r) => r.cabinet_id)
}

/** Whether the cabinet exists and is not retired. */
export async function isLiveCabinet(ex: Executor, cabinetId: string): Promise<boolean> {
  const r = await ex.selectFrom('cabinets').select('status').where('cabinet_id', '=', cabinetId).executeTakeFirst()
  return r !== undefined && r.status !== 'retired'
}
