// SQL for stored reports, one implementation for SQLite and PostgreSQL. A report row is written once and never updated:
// `content` is the JSON snapshot taken at creation. Scheduled reports are
// unique per kind, period and scope (a partial unique index), so a schedule
// that runs twice, or on two starts, stores one; manual ones are not.
import type { ReportKind } from '../../../shared/src/index.js'
import type { Selectable } from 'kysely'
import type { FleetDb } from '../db/database.js'
import type { ReportsTable } from '../db/schema.js'

export interface ReportRow {
  readonly reportId: string
  readonly kind: ReportKind
  readonly period: string
  readonly from: string
  readonly to: string
  readonly countyCode: string | null
  readonly operator: string | null
  readonly scope: string
  readonly scopeName: string
  readonly createdAt: string
  readonly createdBy: string
  readonly scheduled: boolean
}

export interface StoredReport extends ReportRow {
  /** The report document, as JSON text. */
  readonly content: string
}

/** Which reports a caller may see: both null = all; a county's; an operator's. */
export interface ReportVisibility {
  readonly countyCode: string | null
  readonly operator: string | null
}

export interface ReportFilter {
  readonly kind?: ReportKind
  readonly period?: string
  readonly countyCode?: string
}

export interface ReportStore {
  /** False when it is a scheduled report whose kind, period and scope is already stored. */
  insert(r: StoredReport): Promise<boolean>
  get(reportId: string): Promise<StoredReport | null>
  /** Reports a caller with this visibility may see, matching the filter, newest first. */
  list(vis: ReportVisibility, f: ReportFilter): Promise<ReportRow[]>
  /** Whether the scheduled report of this kind, period and scope is stored. */
  hasScheduled(kind: ReportKind, period: string, scope: string): Promise<boolean>
}

/** A reports row as listed (without its content). */
type DbReport = Omit<Selectable<ReportsTable>, 'content'>

const toRow = (r: DbReport): ReportRow => ({
  reportId: r.report_id,
  kind: r.kind as ReportKind,
  period: r.period,
  from: r.period_from,
  to: r.period_to,
  countyCode: r.county_code,
  operator: r.operator,
  scope: r.scope,
  scopeName: r.scope_name,
  createdAt: r.created_at,
  createdBy: r.created_by,
  scheduled: r.scheduled === 1,
})

const COLS = ['report_id', 'kind', 'period', 'period_from', 'period_to', 'county_code', 'operator', 'scope', 'scope_name', 'created_at', 'created_by', 'scheduled'] as const

export function createReportStore(db: FleetDb): ReportStore {
  const { kysely } = db
  return {
    async insert(r) {
      // The scheduled-once partial unique index is the only conflict a new report can meet.
      const res = await kysely
        .insertInto('reports')
        .values({
          report_id: r.reportId, kind: r.kind, period: r.period, period_from: r.from, period_to: r.to, county_code: r.countyCode, operator: r.operator,
          scope: r.scope, scope_name: r.scopeName, created_at: r.createdAt, created_by: r.createdBy, scheduled: r.scheduled ? 1 : 0, content: r.content,
        })
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst()
      return Number(res.numInsertedOrUpdatedRows ?? 0n) === 1
    },

    async get(reportId) {
      const r = await kysely.selectFrom('reports').select([...COLS, 'content']).where('report_id', '=', reportId).executeTakeFirst()
      return r ? { ...toRow(r), content: r.content } : null
    },

    async list(vis, f) {
      // A county user sees the reports of its county (operator-scoped ones in
      // it included: a subset of its own data); an operator sees only reports
      // scoped to its own cabinets.
      let q = kysely.selectFrom('reports').select(COLS)
      if (vis.countyCode !== null) q = q.where('county_code', '=', vis.countyCode)
      if (vis.operator !== null) q = q.where('operator', '=', vis.operator)
      if (f.kind !== undefined) q = q.where('kind', '=', f.kind)
      if (f.period !== undefined) q = q.where('period', '=', f.period)
      if (f.countyCode !== undefined) q = q.where('county_code', '=', f.countyCode)
      return (await q.orderBy('created_at', 'desc').orderBy('report_id', 'desc').execute()).map(toRow)
    },

    async hasScheduled(kind, period, scope) {
      const r = await kysely
        .selectFrom('reports')
        .select('report_id')
        .where('scheduled', '=', 1)
        .where('kind', '=', kind)
        .where('period', '=', period)
        .where('scope', '=', scope)
        .limit(1)
        .executeTakeFirst()
      return r !== undefined
    },
  }
}
