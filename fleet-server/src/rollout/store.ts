// Rollout progress, on either engine: counts by county and status (one GROUP
// BY over the cabinets_by_county_status index) and net stage changes over
// recent days (rollout_day_steps, kept by the cabinets store with every transition).
import type { CabinetStatus } from '../../../shared/src/index.js'
import { TRANSITIONS_CHANNEL } from '../cabinets/store.js'
import type { FleetDb } from '../db/database.js'

export interface ScopeFilter {
  readonly countyCode: string | null
  readonly operator: string | null
}

export interface StatusCount {
  readonly countyCode: string
  readonly status: CabinetStatus
  readonly n: number
}

/** Net change of the cabinets at each stage in a county over the days asked for. */
export interface StepCount {
  readonly countyCode: string
  readonly sitesAssigned: number
  readonly installed: number
  readonly operating: number
}

export interface RolloutStore {
  counts(scope: ScopeFilter): Promise<StatusCount[]>
  /** Net stage changes on Asia/Shanghai days from `sinceDay` (YYYY-MM-DD) on, by county. */
  steps(sinceDay: string, scope: ScopeFilter): Promise<StepCount[]>
  /**
   * Changes whenever a cabinet is created or changes status: every such write
   * records a transition. The newest transition id versions the counts for
   * writes this reader saw commit in order; on PostgreSQL a transaction
   * holding a lower id can commit after a higher one was read, so the notices
   * of committed transitions (any process) count too.
   */
  version(): Promise<string>
  /**
   * Cabinets not installed (planned, site_assigned, retired): a connection
   * of one of these is shown apart from `online` (issue 15). Cached per
   * version(); before the rollout that is most of the fleet, after it few.
   */
  notInstalled(): Promise<ReadonlySet<string>>
  /** County and operator of a cabinet (never change after creation), cached. */
  ownerOf(cabinetId: string): Promise<Owner | null>
  /** Owners of many cabinets, cached alike; unknown ids are left out. */
  owners(cabinetIds: readonly string[]): Promise<Map<string, Owner>>
  /**
   * How many of `cabinetIds` (distinct: the online ones) each county has
   * within `scope`; unknown ids are left out. One pass over the owner cache.
   */
  countByCounty(cabinetIds: Iterable<string>, scope: ScopeFilter): Promise<Map<string, number>>
}

export interface Owner {
  readonly countyCode: string
  readonly operator: string | null
}

/** Statuses whose connections are not counted as online (issue 15: online counts installed-or-later cabinets). */
const NOT_INSTALLED: CabinetStatus[] = ['planned', 'site_assigned', 'retired']

/** Ids per IN (…) list: far under both engines' parameter limits. */
const OWNER_CHUNK = 1000

export function createRolloutStore(db: FleetDb): RolloutStore {
  const k = db.kysely
  // Owners interned: a city has a few dozen (county, operator) pairs, and a
  // cabinet maps to its pair's index, so counting the online cabinets is one
  // lookup and one increment each, the scope checked once per pair.
  const groups: Owner[] = []
  const groupIndex = new Map<string, number>()
  const groupOfCabinet = new Map<string, number>()
  const remember = (cabinetId: string, countyCode: string, operator: string | null): Owner => {
    const key = `${countyCode}\u0000${operator ?? ''}\u0000${operator === null ? 0 : 1}`
    let g = groupIndex.get(key)
    if (g === undefined) {
      g = groups.push({ countyCode, operator }) - 1
      groupIndex.set(key, g)
    }
    groupOfCabinet.set(cabinetId, g)
    return groups[g]!
  }
  const cached = (cabinetId: string): Owner | undefined => {
    const g = groupOfCabinet.get(cabinetId)
    return g === undefined ? undefined : groups[g]
  }
  let notices = 0
  db.listen(TRANSITIONS_CHANNEL, () => void notices++)
  // Built and compiled once: asked on every progress request.
  const newestTransition = k.selectFrom('cabinet_transitions').select((eb) => eb.fn.max('transition_id').as('v')).compile()

  async function owners(cabinetIds: readonly string[]): Promise<Map<string, Owner>> {
    const out = new Map<string, Owner>()
    const missing: string[] = []
    for (const id of cabinetIds) {
      const o = cached(id)
      if (o) out.set(id, o)
      else missing.push(id)
    }
    for (let i = 0; i < missing.length; i += OWNER_CHUNK) {
      const rows = await k
        .selectFrom('cabinets')
        .select(['cabinet_id', 'county_code', 'operator'])
        .where('cabinet_id', 'in', missing.slice(i, i + OWNER_CHUNK))
        .execute()
      for (const r of rows) out.set(r.cabinet_id, remember(r.cabinet_id, r.county_code, r.operator))
    }
    return out
  }

  async function version(): Promise<string> {
    const r = (await k.executeQuery(newestTransition)).rows[0]
    return `${notices}:${Number(r?.v ?? 0)}`
  }
  let apart: { version: string; ids: ReadonlySet<string> } | null = null

  return {
    async counts(scope) {
      let q = k.selectFrom('cabinets').select((eb) => ['county_code', 'status', eb.fn.countAll<number>().as('n')])
      if (scope.countyCode !== null) q = q.where('county_code', '=', scope.countyCode)
      if (scope.operator !== null) q = q.where('operator', '=', scope.operator)
      const rows = await q.groupBy(['county_code', 'status']).execute()
      return rows.map((r) => ({ countyCode: r.county_code, status: r.status as CabinetStatus, n: Number(r.n) }))
    },
    async steps(sinceDay, scope) {
      let q = k
        .selectFrom('rollout_day_steps')
        .select((eb) => ['county_code', eb.fn.sum<number>('sites').as('sites'), eb.fn.sum<number>('installed').as('installed'), eb.fn.sum<number>('operating').as('operating')])
        .where('day', '>=', sinceDay)
      if (scope.countyCode !== null) q = q.where('county_code', '=', scope.countyCode)
      if (scope.operator !== null) q = q.where('operator', '=', scope.operator)
      const rows = await q.groupBy('county_code').execute()
      // SUM of bigint is numeric on PostgreSQL (a string through pg): Number() on both.
      return rows.map((r) => ({ countyCode: r.county_code, sitesAssigned: Number(r.sites), installed: Number(r.installed), operating: Number(r.operating) }))
    },
    version,
    async notInstalled() {
      // The version is read before the rows: a change in between leaves a
      // newer set under an older version, refreshed on the next call.
      const v = await version()
      if (apart?.version === v) return apart.ids
      const rows = await k.selectFrom('cabinets').select('cabinet_id').where('status', 'in', NOT_INSTALLED).execute()
      apart = { version: v, ids: new Set(rows.map((r) => r.cabinet_id)) }
      return apart.ids
    },
    async ownerOf(cabinetId) {
      const o = cached(cabinetId)
      if (o) return o
      const r = await k.selectFrom('cabinets').select(['county_code', 'operator']).where('cabinet_id', '=', cabinetId).executeTakeFirst()
      return r ? remember(cabinetId, r.county_code, r.operator) : null
    },
    owners,
    async countByCounty(cabinetIds, scope) {
      // Counted straight from the cache: no list of ids or map of owners per
      // call (19,000 online cabinets made that most of a progress request).
      const tally = new Array<number>(groups.length).fill(0)
      let missing: string[] | null = null
      for (const id of cabinetIds) {
        const g = groupOfCabinet.get(id)
        if (g === undefined) (missing ??= []).push(id)
        else tally[g]!++
      }
      const out = new Map<string, number>()
      const add = (o: Owner, n: number) => {
        if ((scope.countyCode && o.countyCode !== scope.countyCode) || (scope.operator && o.operator !== scope.operator)) return
        out.set(o.countyCode, (out.get(o.countyCode) ?? 0) + n)
      }
      for (let g = 0; g < tally.length; g++) if (tally[g]! > 0) add(groups[g]!, tally[g]!)
      if (missing) for (const o of (await owners(missing)).values()) add(o, 1)
      return out
    },
  }
}
