// SQL for stored reports. A report row is written once and never updated:
// `content` is the JSON snapshot taken at creation. Scheduled reports are
// unique per kind, period and scope (a partial unique index), so a schedule
// that runs twice, or on two starts, stores one; manual ones are not.
import type { ReportKind } from '../../../shared/src/index.js'
import type { Db } from '../db/index.js'

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

export type ReportStore = ReturnType<typeof createSqliteReportStore>

interface DbReport {
  report_id: string
  kind: ReportKind
  period: string
  period_from: string
  period_to: string
  county_code: string | null
  operator: string | null
  scope: string
  scope_name: string
  created_at: string
  created_by: string
  scheduled: number
}

const toRow = (r: DbReport): ReportRow => ({
  reportId: r.report_id,
  kind: r.kind,
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

const COLS = 'report_id, kind, period, period_from, period_to, county_code, operator, scope, scope_name, created_at, created_by, scheduled'

export function createSqliteReportStore(db: Db) {
  const insert = db.prepare(
    `INSERT INTO reports (${COLS}, content)
     VALUES (@reportId, @kind, @period, @from, @to, @countyCode, @operator, @scope, @scopeName, @createdAt, @createdBy, @scheduled, @content)
     ON CONFLICT DO NOTHING`,
  )
  const get = db.prepare<[string], DbReport & { content: string }>(`SELECT ${COLS}, content FROM reports WHERE report_id = ?`)
  // NULL parameters mean "no filter". A county user sees the reports of its
  // county (operator-scoped ones in it included: a subset of its own data);
  // an operator sees only reports scoped to its own cabinets.
  type Params = { visCounty: string | null; visOperator: string | null; kind: string | null; period: string | null; county: string | null }
  const list = db.prepare<[Params], DbReport>(
    `SELECT ${COLS} FROM reports
     WHERE (@visCounty IS NULL OR county_code = @visCounty) AND (@visOperator IS NULL OR operator = @visOperator)
       AND (@kind IS NULL OR kind = @kind) AND (@period IS NULL OR period = @period) AND (@county IS NULL OR county_code = @county)
     ORDER BY created_at DESC, report_id DESC`,
  )
  const scheduledExists = db.prepare<[string, string, string], { n: number }>(
    'SELECT count(*) AS n FROM reports WHERE scheduled = 1 AND kind = ? AND period = ? AND scope = ?',
  )
  return {
    /** False when it is a scheduled report whose kind, period and scope is already stored. */
    insert(r: StoredReport): boolean {
      return insert.run({ ...r, scheduled: r.scheduled ? 1 : 0 }).changes === 1
    },
    get(reportId: string): StoredReport | null {
      const r = get.get(reportId)
      return r ? { ...toRow(r), content: r.content } : null
    },
    list(vis: ReportVisibility, f: ReportFilter): ReportRow[] {
      return list
        .all({ visCounty: vis.countyCode, visOperator: vis.operator, kind: f.kind ?? null, period: f.period ?? null, county: f.countyCode ?? null })
        .map(toRow)
    },
    hasScheduled: (kind: ReportKind, period: string, scope: string): boolean => scheduledExists.get(kind, period, scope)!.n > 0,
  }
}
