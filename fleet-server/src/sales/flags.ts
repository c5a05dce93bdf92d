// Sale flags (issue 12): sales stored but needing an official's judgement
// before their cabinet-periods are forwarded. Ingest writes them (store.ts,
// in the tick's transaction); this module lists them within the caller's
// scope, records who resolved one and how, and tells forwarding which
// cabinet-days are held meanwhile.
import type { Logger } from 'pino'
import {
  AppError,
  type ListSaleFlagsQuery,
  type ResolveSaleFlagBody,
  type SaleFlagList,
  type SaleFlagResolution,
  type SaleFlagView,
} from '../../../shared/src/index.js'
import { cabinetScope, canSeeCabinet, outOfScope, type Principal } from '../access/index.js'
import type { CabinetRange, Db } from '../db/index.js'

/** An open flag as forwarding sees it: the Shanghai days whose periods it holds. */
export interface SaleFlagHold {
  readonly flagId: number
  readonly seq: number
  readonly earlierSeq: number
  readonly days: readonly string[]
}

export interface OpenSaleFlag extends SaleFlagView {
  readonly operator: string | null
}

export interface SaleFlagStore {
  list(f: { countyCode: string | null; operator: string | null; cabinetId: string | null; state: ListSaleFlagsQuery['state']; limit: number }): { flags: OpenSaleFlag[]; total: number }
  get(flagId: number): OpenSaleFlag | null
  /** False when the flag was resolved meanwhile. */
  resolve(flagId: number, resolution: SaleFlagResolution, note: string, by: string, at: string): boolean
  /** Open flags of the cabinets in the range, by cabinet. */
  holds(range: CabinetRange): Map<string, SaleFlagHold[]>
  /** Open flags of one county's cabinets (alerts). */
  open(countyCode: string): OpenSaleFlag[]
}

interface DbFlag {
  flag_id: number
  kind: 'SALE_ID_REUSED'
  cabinet_id: string
  county_code: string
  operator: string | null
  seq: number
  sale_id: string
  earlier_seq: number
  sold_on: string
  earlier_sold_on: string
  flagged_at: string
  resolution: SaleFlagResolution | null
  note: string | null
  resolved_by: string | null
  resolved_at: string | null
}

const toFlag = (r: DbFlag): OpenSaleFlag => ({
  flagId: r.flag_id,
  kind: r.kind,
  cabinetId: r.cabinet_id,
  countyCode: r.county_code,
  operator: r.operator,
  seq: r.seq,
  saleId: r.sale_id,
  earlierSeq: r.earlier_seq,
  soldOn: r.sold_on,
  earlierSoldOn: r.earlier_sold_on,
  flaggedAt: r.flagged_at,
  resolution: r.resolution,
  note: r.note,
  resolvedBy: r.resolved_by,
  resolvedAt: r.resolved_at,
})

const SELECT = `SELECT f.*, c.county_code, c.operator FROM sale_flags f JOIN cabinets c ON c.cabinet_id = f.cabinet_id`
const FILTER = `(@countyCode IS NULL OR c.county_code = @countyCode) AND (@operator IS NULL OR c.operator = @operator)
  AND (@cabinetId IS NULL OR f.cabinet_id = @cabinetId)
  AND (@state = 'all' OR (@state = 'open' AND f.resolved_at IS NULL) OR (@state = 'resolved' AND f.resolved_at IS NOT NULL))`

export function createSqliteSaleFlagStore(db: Db): SaleFlagStore {
  const list = db.prepare<[Record<string, unknown>], DbFlag>(`${SELECT} WHERE ${FILTER} ORDER BY f.flag_id DESC LIMIT @limit`)
  const count = db.prepare<[Record<string, unknown>], { n: number }>(`SELECT count(*) AS n FROM sale_flags f JOIN cabinets c ON c.cabinet_id = f.cabinet_id WHERE ${FILTER}`)
  const get = db.prepare<[number], DbFlag>(`${SELECT} WHERE f.flag_id = ?`)
  const resolve = db.prepare<[string, string, string, string, number]>(
    'UPDATE sale_flags SET resolution = ?, note = ?, resolved_by = ?, resolved_at = ? WHERE flag_id = ? AND resolved_at IS NULL',
  )
  const holds = db.prepare<[string, string], { flag_id: number; cabinet_id: string; seq: number; earlier_seq: number; sold_on: string; earlier_sold_on: string }>(
    `SELECT flag_id, cabinet_id, seq, earlier_seq, sold_on, earlier_sold_on FROM sale_flags
     WHERE resolved_at IS NULL AND cabinet_id > ? AND cabinet_id <= ? ORDER BY cabinet_id, flag_id`,
  )
  const open = db.prepare<[string], DbFlag>(`${SELECT} WHERE f.resolved_at IS NULL AND c.county_code = ? ORDER BY f.flag_id`)
  return {
    list(f) {
      const p = { countyCode: f.countyCode, operator: f.operator, cabinetId: f.cabinetId, state: f.state, limit: f.limit }
      return { flags: list.all(p).map(toFlag), total: count.get(p)!.n }
    },
    get(flagId) {
      const r = get.get(flagId)
      return r ? toFlag(r) : null
    },
    resolve: (flagId, resolution, note, by, at) => resolve.run(resolution, note, by, at, flagId).changes === 1,
    holds(range) {
      const m = new Map<string, SaleFlagHold[]>()
      for (const r of holds.iterate(range.after, range.through)) {
        let l = m.get(r.cabinet_id)
        if (!l) m.set(r.cabinet_id, (l = []))
        l.push({ flagId: r.flag_id, seq: r.seq, earlierSeq: r.earlier_seq, days: r.sold_on === r.earlier_sold_on ? [r.sold_on] : [r.sold_on, r.earlier_sold_on] })
      }
      return m
    },
    open: (countyCode) => open.all(countyCode).map(toFlag),
  }
}

export interface SaleFlagService {
  list(by: Principal, q: ListSaleFlagsQuery): SaleFlagList
  resolve(by: Principal, flagId: number, body: ResolveSaleFlagBody): SaleFlagView
  /** Open flags of the cabinets in the range (forwarding holds their periods). */
  holds(range: CabinetRange): Map<string, SaleFlagHold[]>
}

export interface SaleFlagServiceDeps {
  readonly store: SaleFlagStore
  readonly now: () => Date
  readonly log: Logger
  /** A flag was resolved: its periods may be forwarded now (forwarding judges again). */
  readonly resolved?: (flag: SaleFlagView) => void
}

const flagNotFound = (flagId: number) => new AppError('SALE_FLAG_NOT_FOUND', `sale flag ${flagId} not found`, 404, { flagId })

const view = ({ operator: _operator, ...f }: OpenSaleFlag): SaleFlagView => f

export function createSaleFlagService({ store, now, log, resolved }: SaleFlagServiceDeps): SaleFlagService {
  return {
    list(by, q) {
      const scope = cabinetScope(by)
      // A county official asking about another county learns nothing.
      if (scope.countyCode && q.county && q.county !== scope.countyCode) return { flags: [], total: 0 }
      const { flags, total } = store.list({
        countyCode: scope.countyCode ?? q.county ?? null,
        operator: scope.operator ?? null,
        cabinetId: q.cabinetId ?? null,
        state: q.state,
        limit: q.limit,
      })
      return { flags: flags.map(view), total }
    },
    resolve(by, flagId, body) {
      const f = store.get(flagId)
      if (!f || !canSeeCabinet(by, f)) throw flagNotFound(flagId)
      // 扶贫部门 judge sales: the city administrator or the cabinet's county.
      if (by.role !== 'admin' && by.role !== 'county') throw outOfScope(`only an admin or the cabinet's county may resolve a sale flag; you are ${by.role}`)
      const at = now().toISOString()
      if (!store.resolve(flagId, body.resolution, body.note, by.username, at)) {
        throw new AppError('SALE_FLAG_RESOLVED', `sale flag ${flagId} was already resolved`, 409, { flagId })
      }
      const done = view(store.get(flagId)!)
      log.info({ flagId, kind: f.kind, cabinetId: f.cabinetId, seq: f.seq, resolution: body.resolution, by: by.username }, 'sale flag resolved')
      resolved?.(done)
      return done
    },
    holds: (range) => store.holds(range),
  }
}
