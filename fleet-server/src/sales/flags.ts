// Sale flags (issue 12): sales stored but needing an official's judgement
// before their cabinet-periods are forwarded. Ingest writes them (store.ts,
// in the tick's transaction); this module lists them within the caller's
// scope, records who resolved one and how, and tells forwarding which
// cabinet-days are held meanwhile.
import type { Logger } from 'pino'
import {
  AppError,
  labelZh,
  type ListSaleFlagsQuery,
  type ResolveSaleFlagBody,
  type SaleFlagList,
  type SaleFlagResolution,
  type SaleFlagView,
} from '../../../shared/src/index.js'
import { cabinetScope, canSeeCabinet, outOfScope, type Principal } from '../access/index.js'
import type { Selectable } from 'kysely'
import type { FleetDb } from '../db/database.js'
import type { SaleFlagsTable } from '../db/schema.js'
import type { CabinetRange } from '../db/index.js'

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
  list(f: { countyCode: string | null; operator: string | null; cabinetId: string | null; state: ListSaleFlagsQuery['state']; limit: number }): Promise<{ flags: OpenSaleFlag[]; total: number }>
  get(flagId: number): Promise<OpenSaleFlag | null>
  /** False when the flag was resolved meanwhile. */
  resolve(flagId: number, resolution: SaleFlagResolution, note: string, by: string, at: string): Promise<boolean>
  /** Open flags of the cabinets in the range, by cabinet. */
  holds(range: CabinetRange): Promise<Map<string, SaleFlagHold[]>>
  /** Open flags of one county's cabinets (alerts). */
  open(countyCode: string): Promise<OpenSaleFlag[]>
}

/** A sale_flags row with its cabinet's county and operator. */
type DbFlag = Selectable<SaleFlagsTable> & { county_code: string; operator: string | null }

const toFlag = (r: DbFlag): OpenSaleFlag => ({
  flagId: r.flag_id,
  kind: r.kind as OpenSaleFlag['kind'],
  cabinetId: r.cabinet_id,
  countyCode: r.county_code,
  operator: r.operator,
  seq: r.seq,
  saleId: r.sale_id,
  earlierSeq: r.earlier_seq,
  soldOn: r.sold_on,
  earlierSoldOn: r.earlier_sold_on,
  flaggedAt: r.flagged_at,
  resolution: r.resolution as SaleFlagResolution | null,
  note: r.note,
  resolvedBy: r.resolved_by,
  resolvedAt: r.resolved_at,
})

const holdDays = (r: { sold_on: string; earlier_sold_on: string }): string[] => (r.sold_on === r.earlier_sold_on ? [r.sold_on] : [r.sold_on, r.earlier_sold_on])

export function createSaleFlagStore(db: FleetDb): SaleFlagStore {
  const k = db.kysely
  const joined = () => k.selectFrom('sale_flags as f').innerJoin('cabinets as c', 'c.cabinet_id', 'f.cabinet_id')
  const flags = () => joined().selectAll('f').select(['c.county_code', 'c.operator'])
  type Filter = Parameters<SaleFlagStore['list']>[0]
  const filtered = (f: Filter) => {
    let q = joined()
    if (f.countyCode !== null) q = q.where('c.county_code', '=', f.countyCode)
    if (f.operator !== null) q = q.where('c.operator', '=', f.operator)
    if (f.cabinetId !== null) q = q.where('f.cabinet_id', '=', f.cabinetId)
    if (f.state === 'open') q = q.where('f.resolved_at', 'is', null)
    else if (f.state === 'resolved') q = q.where('f.resolved_at', 'is not', null)
    return q
  }
  return {
    async list(f) {
      const rows = await filtered(f).selectAll('f').select(['c.county_code', 'c.operator']).orderBy('f.flag_id', 'desc').limit(f.limit).execute()
      const count = await filtered(f).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
      return { flags: rows.map(toFlag), total: Number(count.n) }
    },
    async get(flagId) {
      const r = await flags().where('f.flag_id', '=', flagId).executeTakeFirst()
      return r ? toFlag(r) : null
    },
    async resolve(flagId, resolution, note, by, at) {
      const r = await k
        .updateTable('sale_flags')
        .set({ resolution, note, resolved_by: by, resolved_at: at })
        .where('flag_id', '=', flagId)
        .where('resolved_at', 'is', null)
        .executeTakeFirst()
      return Number(r.numUpdatedRows) === 1
    },
    async holds(range) {
      const rows = await k
        .selectFrom('sale_flags')
        .select(['flag_id', 'cabinet_id', 'seq', 'earlier_seq', 'sold_on', 'earlier_sold_on'])
        .where('resolved_at', 'is', null)
        .where('cabinet_id', '>', range.after)
        .where('cabinet_id', '<=', range.through)
        .orderBy('cabinet_id')
        .orderBy('flag_id')
        .execute()
      const m = new Map<string, SaleFlagHold[]>()
      for (const r of rows) {
        let l = m.get(r.cabinet_id)
        if (!l) m.set(r.cabinet_id, (l = []))
        l.push({ flagId: r.flag_id, seq: r.seq, earlierSeq: r.earlier_seq, days: holdDays(r) })
      }
      return m
    },
    async open(countyCode) {
      const rows = await flags().where('f.resolved_at', 'is', null).where('c.county_code', '=', countyCode).orderBy('f.flag_id').execute()
      return rows.map(toFlag)
    },
  }
}

export interface SaleFlagService {
  list(by: Principal, q: ListSaleFlagsQuery): Promise<SaleFlagList>
  resolve(by: Principal, flagId: number, body: ResolveSaleFlagBody): Promise<SaleFlagView>
  /** Open flags of the cabinets in the range (forwarding holds their periods). */
  holds(range: CabinetRange): Promise<Map<string, SaleFlagHold[]>>
}

export interface SaleFlagServiceDeps {
  readonly store: SaleFlagStore
  readonly now: () => Date
  readonly log: Logger
  /** A flag was resolved: its periods may be forwarded now (forwarding judges again). */
  readonly resolved?: (flag: SaleFlagView) => void
}

const flagNotFound = (flagId: number) => new AppError('SALE_FLAG_NOT_FOUND', `sale flag ${flagId} not found`, 404, { flagId }, `“${flagId}”`)

const view = ({ operator: _operator, ...f }: OpenSaleFlag): SaleFlagView => f

export function createSaleFlagService({ store, now, log, resolved }: SaleFlagServiceDeps): SaleFlagService {
  return {
    async list(by, q) {
      const scope = cabinetScope(by)
      // A county official asking about another county learns nothing.
      if (scope.countyCode && q.county && q.county !== scope.countyCode) return { flags: [], total: 0 }
      const { flags, total } = await store.list({
        countyCode: scope.countyCode ?? q.county ?? null,
        operator: scope.operator ?? null,
        cabinetId: q.cabinetId ?? null,
        state: q.state,
        limit: q.limit,
      })
      return { flags: flags.map(view), total }
    },
    async resolve(by, flagId, body) {
      const f = await store.get(flagId)
      if (!f || !canSeeCabinet(by, f)) throw flagNotFound(flagId)
      // 扶贫部门 judge sales: the city administrator or the cabinet's county.
      if (by.role !== 'admin' && by.role !== 'county') throw outOfScope(`only an admin or the cabinet's county may resolve a sale flag; you are ${by.role}`, `仅市级管理员或专柜所在县区可以处理销售标记，当前角色为${labelZh('role', by.role)}`)
      const at = now().toISOString()
      if (!(await store.resolve(flagId, body.resolution, body.note, by.username, at))) {
        throw new AppError('SALE_FLAG_RESOLVED', `sale flag ${flagId} was already resolved`, 409, { flagId }, `“${flagId}”`)
      }
      const done = view((await store.get(flagId))!)
      log.info({ flagId, kind: f.kind, cabinetId: f.cabinetId, seq: f.seq, resolution: body.resolution, by: by.username }, 'sale flag resolved')
      resolved?.(done)
      return done
    },
    holds: (range) => store.holds(range),
  }
}
