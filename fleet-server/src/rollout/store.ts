// SQL for rollout progress: counts by county and status (one GROUP BY over the
// cabinets_by_county_status index) and net stage changes over recent days
// (rollout_day_steps, kept by the cabinets store with every transition).
import type { CabinetStatus } from '../../../shared/src/index.js'
import type { Db } from '../db/index.js'

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
  counts(scope: ScopeFilter): StatusCount[]
  /** Net stage changes on Asia/Shanghai days from `sinceDay` (YYYY-MM-DD) on, by county. */
  steps(sinceDay: string, scope: ScopeFilter): StepCount[]
  /**
   * Changes whenever a cabinet is created or changes status: every such write
   * records a transition, so the newest transition id versions the counts.
   */
  version(): number
  /** County and operator of a cabinet (never change after creation), cached. */
  ownerOf(cabinetId: string): { countyCode: string; operator: string | null } | null
}

export function createSqliteRolloutStore(db: Db): RolloutStore {
  const counts = db.prepare<[ScopeFilter], { county_code: string; status: CabinetStatus; n: number }>(
    `SELECT county_code, status, count(*) AS n FROM cabinets
     WHERE (@countyCode IS NULL OR county_code = @countyCode) AND (@operator IS NULL OR operator = @operator)
     GROUP BY county_code, status`,
  )
  const steps = db.prepare<[ScopeFilter & { sinceDay: string }], { county_code: string; sites: number; installed: number; operating: number }>(
    `SELECT county_code, sum(sites) AS sites, sum(installed) AS installed, sum(operating) AS operating FROM rollout_day_steps
     WHERE day >= @sinceDay AND (@countyCode IS NULL OR county_code = @countyCode) AND (@operator IS NULL OR operator = @operator)
     GROUP BY county_code`,
  )
  const version = db.prepare<[], { v: number | null }>('SELECT max(transition_id) AS v FROM cabinet_transitions')
  const owner = db.prepare<[string], { county_code: string; operator: string | null }>('SELECT county_code, operator FROM cabinets WHERE cabinet_id = ?')
  const owners = new Map<string, { countyCode: string; operator: string | null }>()
  return {
    counts: (scope) => counts.all(scope).map((r) => ({ countyCode: r.county_code, status: r.status, n: r.n })),
    steps: (sinceDay, scope) =>
      steps.all({ ...scope, sinceDay }).map((r) => ({ countyCode: r.county_code, sitesAssigned: r.sites, installed: r.installed, operating: r.operating })),
    version: () => version.get()!.v ?? 0,
    ownerOf(cabinetId) {
      let o = owners.get(cabinetId)
      if (!o) {
        const r = owner.get(cabinetId)
        if (!r) return null
        o = { countyCode: r.county_code, operator: r.operator }
        owners.set(cabinetId, o)
      }
      return o
    },
  }
}
