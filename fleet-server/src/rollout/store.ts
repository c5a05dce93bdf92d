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
  /** County and operator of a cabinet (never change after creation), cached. */
  ownerOf(cabinetId: string): Promise<Owner | null>
  /** Owners of many cabinets, cached alike; unknown ids are left out. */
  owners(cabinetIds: readonly string[]): Promise<Map<string, Owner>>
  /**
   * How many of `cabinetIds` (distinct: the online ones) each county has
   * within `scope`, and how many of those are cabinets not installed
   * (planned, site_assigned, retired: shown apart, issue 15) as of `version`
   * (this store's {@link RolloutStore.version}, read by the caller) or later.
   * Unknown ids are left out. One lookup per id in the owner cache.
   */
  countOnline(cabinetIds: Iterable<string>, scope: ScopeFilter, version: string): Promise<OnlineCounts>
}

export interface OnlineCounts {
  /** By county code: every connected cabinet (../shared/CONTRACT.md's `online`). */
  readonly online: Map<string, number>
  /** By county code: the connected cabinets not installed, a part of `online`. */
  readonly notInstalled: Map<string, number>
}

export interface Owner {
  readonly countyCode: string
  readonly operator: string | null
}

/** Statuses whose connections are counted apart (issue 15: rollout progress counts installed-or-later cabinets). */
const NOT_INSTALLED: CabinetStatus[] = ['planned', 'site_assigned', 'retired']
const IS_NOT_INSTALLED = new Set<string>(NOT_INSTALLED)

export interface RolloutStoreOptions {
  /**
   * SQLite: the most transitions read to bring the not-installed set up to
   * date before it is loaded whole instead (after a large import, say).
   */
  readonly apartSteps?: number
}

/** Ids per IN (…) list: far under both engines' parameter limits. */
const OWNER_CHUNK = 1000

export function createRolloutStore(db: FleetDb, { apartSteps = 4096 }: RolloutStoreOptions = {}): RolloutStore {
  const k = db.kysely
  // Owners interned: a city has a few dozen (county, operator) pairs. A
  // cabinet maps to its pair's index times two, plus one while it is not
  // installed, so counting the online cabinets (both figures) is one lookup
  // and one increment each, the scope checked once per pair.
  const groups: Owner[] = []
  const groupIndex = new Map<string, number>()
  const slotOfCabinet = new Map<string, number>()
  // The cabinets not installed, as of apartVersion; null until first asked.
  let apart: Set<string> | null = null
  let apartVersion = ''
  // SQLite: the newest transition applied to `apart`.
  let apartAfter = 0
  const remember = (cabinetId: string, countyCode: string, operator: string | null): Owner => {
    const key = `${countyCode}\u0000${operator ?? ''}\u0000${operator === null ? 0 : 1}`
    let g = groupIndex.get(key)
    if (g === undefined) {
      g = groups.push({ countyCode, operator }) - 1
      groupIndex.set(key, g)
    }
    slotOfCabinet.set(cabinetId, g * 2 + (apart?.has(cabinetId) ? 1 : 0))
    return groups[g]!
  }
  const cached = (cabinetId: string): Owner | undefined => {
    const slot = slotOfCabinet.get(cabinetId)
    return slot === undefined ? undefined : groups[slot >> 1]
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

  const markApart = (cabinetId: string, isApart: boolean) => {
    if (isApart) apart!.add(cabinetId)
    else apart!.delete(cabinetId)
    const slot = slotOfCabinet.get(cabinetId)
    if (slot !== undefined) slotOfCabinet.set(cabinetId, (slot & ~1) | (isApart ? 1 : 0))
  }

  // One refresh at a time: two interleaved could apply an older step after a
  // newer one (it would be put right on the next version, but a request
  // between would count the cabinet on the wrong side).
  let refreshing: Promise<void> | null = null
  /** Brings `apart` (and the slots' bit) up to `v` or later. */
  async function refreshApart(v: string): Promise<void> {
    // A failed refresh fails its own caller; the next one tries again.
    while (refreshing) await refreshing.catch(() => undefined)
    if (apart !== null && apartVersion === v) return
    refreshing = loadApart(v).finally(() => (refreshing = null))
    return refreshing
  }

  async function loadApart(v: string): Promise<void> {
    // SQLite: one writer, so transitions commit in id order and the ones after
    // the newest applied are exactly what changed since: a status change costs
    // its own row, not a reload of every cabinet not installed (10,000 ids
    // took ~8 ms). On PostgreSQL a transaction holding a lower id can commit
    // after a higher one was read: the set is loaded whole on every change.
    if (apart !== null && db.dialect === 'sqlite') {
      const rows = await k
        .selectFrom('cabinet_transitions')
        .select(['transition_id', 'cabinet_id', 'to_status'])
        .where('transition_id', '>', apartAfter)
        .orderBy('transition_id')
        .limit(apartSteps)
        .execute()
      if (rows.length < apartSteps) {
        for (const r of rows) markApart(r.cabinet_id, IS_NOT_INSTALLED.has(r.to_status))
        if (rows.length > 0) apartAfter = Number(rows.at(-1)!.transition_id)
        apartVersion = v
        return
      }
    }
    // The newest transition is read before the rows: one committed in between
    // is in the rows and applied again later, to the same end.
    const after = Number((await k.executeQuery(newestTransition)).rows[0]?.v ?? 0)
    const rows = await k.selectFrom('cabinets').select('cabinet_id').where('status', 'in', NOT_INSTALLED).execute()
    const fresh = new Set(rows.map((r) => r.cabinet_id))
    apart = fresh
    for (const [id, slot] of slotOfCabinet) {
      const bit = fresh.has(id) ? 1 : 0
      if ((slot & 1) !== bit) slotOfCabinet.set(id, (slot & ~1) | bit)
    }
    apartAfter = after
    apartVersion = v
  }

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
    async ownerOf(cabinetId) {
      const o = cached(cabinetId)
      if (o) return o
      const r = await k.selectFrom('cabinets').select(['county_code', 'operator']).where('cabinet_id', '=', cabinetId).executeTakeFirst()
      return r ? remember(cabinetId, r.county_code, r.operator) : null
    },
    owners,
    async countOnline(cabinetIds, scope, v) {
      await refreshApart(v)
      // Counted straight from the cache: no list of ids or map of owners per
      // call (19,000 online cabinets made that most of a progress request).
      const tally = new Array<number>(groups.length * 2).fill(0)
      let missing: string[] | null = null
      for (const id of cabinetIds) {
        const slot = slotOfCabinet.get(id)
        if (slot === undefined) (missing ??= []).push(id)
        else tally[slot]!++
      }
      if (missing) {
        await owners(missing)
        for (const id of missing) {
          const slot = slotOfCabinet.get(id)
          if (slot !== undefined) tally[slot] = (tally[slot] ?? 0) + 1
        }
      }
      const online = new Map<string, number>()
      const notInstalled = new Map<string, number>()
      for (let g = 0; g < groups.length; g++) {
        const installed = tally[2 * g] ?? 0
        const apartN = tally[2 * g + 1] ?? 0
        if (installed + apartN === 0) continue
        const o = groups[g]!
        if ((scope.countyCode && o.countyCode !== scope.countyCode) || (scope.operator && o.operator !== scope.operator)) continue
        online.set(o.countyCode, (online.get(o.countyCode) ?? 0) + installed + apartN)
        if (apartN > 0) notInstalled.set(o.countyCode, (notInstalled.get(o.countyCode) ?? 0) + apartN)
      }
      return { online, notInstalled }
    },
  }
}
