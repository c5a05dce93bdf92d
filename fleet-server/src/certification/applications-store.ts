// SQL of the certification workflow (issue 15): applications, their
// objections and their event rows, on SQLite or PostgreSQL. Every method takes
// the executor it runs on, so a step, its event and (at the end) the catalog
// change commit in one transaction. State moves are conditional on the state
// the caller read: of two racing steps one moves and the other sees false.
import { sql } from 'kysely'
import type { ApplicationEvent, ApplicationKind, ApplicationState, CertReviewStep, ObjectionState, ObjectionView } from '../../../shared/src/index.js'
import type { Executor } from '../db/database.js'

export interface ApplicationRow {
  readonly applicationId: number
  readonly kind: ApplicationKind
  readonly state: ApplicationState
  readonly supplierUscc: string
  readonly supplierName: string
  /** The supplier's registration county now (scope follows the supplier). */
  readonly countyCode: string | null
  readonly sku: string
  readonly renews: string | null
  readonly facts: Record<string, unknown> | null
  readonly note: string | null
  readonly reviewSteps: CertReviewStep[]
  readonly publicityWorkingDays: number
  readonly validityMonths: number
  readonly publicityFrom: string | null
  readonly publicityTo: string | null
  readonly effectiveFrom: string | null
  readonly certificateNo: string | null
  readonly rejectReason: string | null
  readonly filedBy: string
  readonly filedRole: string
  readonly filedOperator: string | null
  readonly filedAt: string
  readonly updatedAt: string
  readonly decidedAt: string | null
  readonly openObjections: number
}

export type NewApplication = Omit<ApplicationRow, 'applicationId' | 'supplierName' | 'countyCode' | 'publicityFrom' | 'publicityTo' | 'effectiveFrom' | 'certificateNo' | 'rejectReason' | 'decidedAt' | 'openObjections'>

export interface ApplicationFilter {
  readonly countyCode?: string
  readonly filedOperator?: string
  readonly states?: readonly ApplicationState[]
  readonly kind?: ApplicationKind
  readonly supplierUscc?: string
  readonly sku?: string
  readonly limit?: number
}

/** What a state move sets besides the state. */
export interface ApplicationPatch {
  readonly publicityFrom?: string
  readonly publicityTo?: string
  readonly effectiveFrom?: string
  readonly certificateNo?: string | null
  readonly rejectReason?: string
  readonly decidedAt?: string
}

export type NewEvent = Omit<ApplicationEvent, 'eventId'>

export interface ApplicationStore {
  /** The new id; null when the sku already has an open application (constraint cert_applications_open_sku). */
  insert(ex: Executor, a: NewApplication): Promise<number | null>
  get(ex: Executor, id: number): Promise<ApplicationRow | null>
  list(ex: Executor, f: ApplicationFilter): Promise<{ rows: ApplicationRow[]; total: number }>
  /** Applications in 公示 whose effectiveFrom is on or before `day`, oldest first. */
  due(ex: Executor, day: string): Promise<ApplicationRow[]>
  /** Moves `id` from `from` to `to`; false when it is no longer in `from`. */
  move(ex: Executor, id: number, from: ApplicationState, to: ApplicationState, patch: ApplicationPatch, at: string): Promise<boolean>
  appendEvent(ex: Executor, e: NewEvent): Promise<void>
  events(ex: Executor, id: number): Promise<ApplicationEvent[]>
  insertObjection(ex: Executor, o: Omit<ObjectionView, 'objectionId' | 'state' | 'resolvedBy' | 'resolvedAt' | 'resolution'>): Promise<number>
  objection(ex: Executor, id: number): Promise<ObjectionView | null>
  objections(ex: Executor, applicationId: number): Promise<ObjectionView[]>
  /** Closes an open objection; false when it is not open any more. */
  closeObjection(ex: Executor, id: number, state: Exclude<ObjectionState, 'open'>, by: string, at: string, resolution: string): Promise<boolean>
  /** Closes every open objection of an application as `moot`; returns their ids. */
  mootObjections(ex: Executor, applicationId: number, by: string, at: string, resolution: string): Promise<number[]>
}

export function createApplicationStore(): ApplicationStore {
  const base = (ex: Executor) =>
    ex.selectFrom('cert_applications as a').innerJoin('suppliers as s', 's.uscc', 'a.supplier_uscc').leftJoin('supplier_owners as so', 'so.uscc', 'a.supplier_uscc')
  const rows = (ex: Executor) =>
    base(ex)
      .selectAll('a')
      .select(['s.name as supplier_name', 'so.county_code'])
      .select((eb) =>
        eb
          .selectFrom('cert_objections as o')
          .select(sql<number>`count(*)`.as('n'))
          .whereRef('o.application_id', '=', 'a.application_id')
          .where('o.state', '=', 'open')
          .as('open_objections'),
      )
  type Raw = Awaited<ReturnType<ReturnType<typeof rows>['executeTakeFirstOrThrow']>>
  const toRow = (r: Raw): ApplicationRow => ({
    applicationId: Number(r.application_id),
    kind: r.kind as ApplicationKind,
    state: r.state as ApplicationState,
    supplierUscc: r.supplier_uscc,
    supplierName: r.supplier_name,
    countyCode: r.county_code,
    sku: r.sku,
    renews: r.renews,
    facts: r.facts === null ? null : (JSON.parse(r.facts) as Record<string, unknown>),
    note: r.note,
    reviewSteps: JSON.parse(r.review_steps) as CertReviewStep[],
    publicityWorkingDays: Number(r.publicity_working_days),
    validityMonths: Number(r.validity_months),
    publicityFrom: r.publicity_from,
    publicityTo: r.publicity_to,
    effectiveFrom: r.effective_from,
    certificateNo: r.certificate_no,
    rejectReason: r.reject_reason,
    filedBy: r.filed_by,
    filedRole: r.filed_role,
    filedOperator: r.filed_operator,
    filedAt: r.filed_at,
    updatedAt: r.updated_at,
    decidedAt: r.decided_at,
    openObjections: Number(r.open_objections ?? 0),
  })
  const objections = (ex: Executor) => ex.selectFrom('cert_objections').selectAll()
  type RawObjection = Awaited<ReturnType<ReturnType<typeof objections>['executeTakeFirstOrThrow']>>
  const toObjection = (r: RawObjection): ObjectionView => ({
    objectionId: Number(r.objection_id),
    applicationId: Number(r.application_id),
    state: r.state as ObjectionState,
    reason: r.reason,
    objector: r.objector,
    lodgedBy: r.lodged_by,
    lodgedAt: r.lodged_at,
    resolvedBy: r.resolved_by,
    resolvedAt: r.resolved_at,
    resolution: r.resolution,
  })

  return {
    async insert(ex, a) {
      const r = await ex
        .insertInto('cert_applications')
        .values({
          kind: a.kind,
          supplier_uscc: a.supplierUscc,
          sku: a.sku,
          renews: a.renews,
          facts: a.facts === null ? null : JSON.stringify(a.facts),
          note: a.note,
          state: a.state,
          review_steps: JSON.stringify(a.reviewSteps),
          publicity_working_days: a.publicityWorkingDays,
          validity_months: a.validityMonths,
          filed_by: a.filedBy,
          filed_role: a.filedRole,
          filed_operator: a.filedOperator,
          filed_at: a.filedAt,
          updated_at: a.updatedAt,
        })
        .onConflict((oc) => oc.doNothing())
        .returning('application_id')
        .executeTakeFirst()
      return r ? Number(r.application_id) : null
    },
    async get(ex, id) {
      const r = await rows(ex).where('a.application_id', '=', id).executeTakeFirst()
      return r ? toRow(r) : null
    },
    async list(ex, f) {
      let q = base(ex)
      if (f.countyCode !== undefined) q = q.where('so.county_code', '=', f.countyCode)
      if (f.filedOperator !== undefined) q = q.where('a.filed_operator', '=', f.filedOperator)
      if (f.states !== undefined) q = q.where('a.state', 'in', f.states.length > 0 ? [...f.states] : ['\u0001none'])
      if (f.kind !== undefined) q = q.where('a.kind', '=', f.kind)
      if (f.supplierUscc !== undefined) q = q.where('a.supplier_uscc', '=', f.supplierUscc)
      if (f.sku !== undefined) q = q.where('a.sku', '=', f.sku)
      const ids = await q.select('a.application_id').orderBy('a.application_id', 'desc').limit(f.limit ?? 1000).execute()
      const total = await q.select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow()
      if (ids.length === 0) return { rows: [], total: Number(total.n) }
      const found = await rows(ex).where('a.application_id', 'in', ids.map((x) => x.application_id)).orderBy('a.application_id', 'desc').execute()
      return { rows: found.map(toRow), total: Number(total.n) }
    },
    async due(ex, day) {
      const r = await rows(ex).where('a.state', '=', 'publicity').where('a.effective_from', '<=', day).orderBy('a.application_id').execute()
      return r.map(toRow)
    },
    async move(ex, id, from, to, patch, at) {
      const r = await ex
        .updateTable('cert_applications')
        .set({
          state: to,
          updated_at: at,
          ...(patch.publicityFrom !== undefined && { publicity_from: patch.publicityFrom }),
          ...(patch.publicityTo !== undefined && { publicity_to: patch.publicityTo }),
          ...(patch.effectiveFrom !== undefined && { effective_from: patch.effectiveFrom }),
          ...(patch.certificateNo !== undefined && { certificate_no: patch.certificateNo }),
          ...(patch.rejectReason !== undefined && { reject_reason: patch.rejectReason }),
          ...(patch.decidedAt !== undefined && { decided_at: patch.decidedAt }),
        })
        .where('application_id', '=', id)
        .where('state', '=', from)
        .executeTakeFirst()
      return Number(r.numUpdatedRows) === 1
    },
    async appendEvent(ex, e) {
      await ex
        .insertInto('cert_application_events')
        .values({
          application_id: e.applicationId,
          at: e.at,
          actor: e.actor,
          role: e.role,
          action: e.action,
          from_state: e.fromState,
          to_state: e.toState,
          reason: e.reason,
          objection_id: e.objectionId,
          detail: JSON.stringify(e.detail),
        })
        .execute()
    },
    async events(ex, id) {
      const r = await ex.selectFrom('cert_application_events').selectAll().where('application_id', '=', id).orderBy('event_id').execute()
      return r.map((x) => ({
        eventId: Number(x.event_id),
        applicationId: Number(x.application_id),
        at: x.at,
        actor: x.actor,
        role: x.role,
        action: x.action as ApplicationEvent['action'],
        fromState: x.from_state as ApplicationState | null,
        toState: x.to_state as ApplicationState | null,
        reason: x.reason,
        objectionId: x.objection_id === null ? null : Number(x.objection_id),
        detail: JSON.parse(x.detail) as Record<string, unknown>,
      }))
    },
    async insertObjection(ex, o) {
      const r = await ex
        .insertInto('cert_objections')
        .values({ application_id: o.applicationId, state: 'open', reason: o.reason, objector: o.objector, lodged_by: o.lodgedBy, lodged_at: o.lodgedAt })
        .returning('objection_id')
        .executeTakeFirstOrThrow()
      return Number(r.objection_id)
    },
    async objection(ex, id) {
      const r = await objections(ex).where('objection_id', '=', id).executeTakeFirst()
      return r ? toObjection(r) : null
    },
    async objections(ex, applicationId) {
      return (await objections(ex).where('application_id', '=', applicationId).orderBy('objection_id').execute()).map(toObjection)
    },
    async closeObjection(ex, id, state, by, at, resolution) {
      const r = await ex
        .updateTable('cert_objections')
        .set({ state, resolved_by: by, resolved_at: at, resolution })
        .where('objection_id', '=', id)
        .where('state', '=', 'open')
        .executeTakeFirst()
      return Number(r.numUpdatedRows) === 1
    },
    async mootObjections(ex, applicationId, by, at, resolution) {
      const r = await ex
        .updateTable('cert_objections')
        .set({ state: 'moot', resolved_by: by, resolved_at: at, resolution })
        .where('application_id', '=', applicationId)
        .where('state', '=', 'open')
        .returning('objection_id')
        .execute()
      return r.map((x) => Number(x.objection_id))
    },
  }
}
