// What forwarding reads of the cabinets table (issue 13: each table has one
// owning domain; forwarding reads cabinets only through these named queries,
// wired into its service in app.ts). Ids come back in binary order on both
// engines (COLLATE "C" on PostgreSQL), the order CabinetRange slices them in.
import { sql, type SelectQueryBuilder } from 'kysely'
import type { Executor } from '../db/database.js'
import type { Schema } from '../db/schema.js'

/** Who may see a cabinet's forwarding: a county, an operator, or both unset (city-wide). */
export interface CabinetOwnerScope {
  readonly countyCode?: string
  readonly operator?: string
}

export interface CabinetOwner {
  readonly countyCode: string
  readonly operator: string | null
}

/** A subquery of cabinet ids, for `cabinet_id IN (…)` in another domain's query. */
export type CabinetIdQuery = SelectQueryBuilder<Schema, 'cabinets', { cabinet_id: string }>

/** Every cabinet id, in binary order. */
export async function cabinetIds(ex: Executor): Promise<string[]> {
  const rows = await ex.selectFrom('cabinets').select('cabinet_id').orderBy('cabinet_id').execute()
  return rows.map((r) => r.cabinet_id)
}

/**
 * The ids of the cabinets a scope sees, as a subquery: a county's list can
 * be thousands of ids, more than a statement may bind as parameters.
 */
export function cabinetsInScope(ex: Executor, scope: CabinetOwnerScope): CabinetIdQuery {
  let q = ex.selectFrom('cabinets').select('cabinet_id')
  // Text with NUL cannot be bound on PostgreSQL (the query would fail); no stored code holds one,
  // so such a scope matches nothing. (access/policy.ts scopes a user without one to '\u0001none'.)
  if (`${scope.countyCode ?? ''}${scope.operator ?? ''}`.includes('\u0000')) return q.where(sql<boolean>`1 = 0`)
  if (scope.countyCode !== undefined) q = q.where('county_code', '=', scope.countyCode)
  if (scope.operator !== undefined) q = q.where('operator', '=', scope.operator)
  return q
}

/** Bound parameters per statement: far below SQLite's 32,766 and PostgreSQL's 65,535. */
const CHUNK = 500

/** County and operator of each of `ids` that exists. */
export async function cabinetOwners(ex: Executor, ids: readonly string[]): Promise<Map<string, CabinetOwner>> {
  const out = new Map<string, CabinetOwner>()
  const unique = [...new Set(ids)]
  for (let i = 0; i < unique.length; i += CHUNK) {
    const rows = await ex
      .selectFrom('cabinets')
      .select(['cabinet_id', 'county_code', 'operator'])
      .where('cabinet_id', 'in', unique.slice(i, i + CHUNK))
      .execute()
    for (const r of rows) out.set(r.cabinet_id, { countyCode: r.county_code, operator: r.operator })
  }
  return out
}
