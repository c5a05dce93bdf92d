// The certification workflow as the policy runs it (issue 15; 滁扶组〔2020〕9号
// "市场主体自愿申请、县级扶贫部门认定、定期公示发布"; policy 002 二): an
// application → the plan's review steps (county, then optionally city and
// province) → a public notice (公示) of N working days → effective. Any review
// may reject with a reason. An objection during 公示 holds the application
// until the county resolves it: upheld rejects it; dismissed resumes the
// notice, which still ends on its scheduled day (the public had its N days;
// a dismissal after that day makes it due at once). A due application takes
// effect through the catalog's own writers (CertificationService.write: the
// admin's certificate path), in one transaction with its state move and
// event, by the leader's scheduled pass or POST /certification/publicity/run.
// Every step is an event row (who, role, when, action, reason).
import type { Logger } from 'pino'
import {
  isAppError,
  shanghaiDate,
  type ApplicationDetail,
  type ApplicationEvent,
  type ApplicationHistory,
  type ApplicationList,
  type ApplicationState,
  type ApplicationView,
  type CertificationPolicy,
  type CertReviewStep,
  type CreateApplicationBody,
  type ListApplicationsQuery,
  type LodgeObjectionBody,
  type ObjectionReply,
  type ProductChanges,
  type ProductFacts,
  type ProductDetail,
  type PublicityList,
  type PublicityQuery,
  type PublicityRunReply,
  type ResolveObjectionBody,
  type ReviewApplicationBody,
  type SupplierView,
  type Workdays,
} from '../../../shared/src/index.js'
import { outOfScope, type Principal } from '../access/index.js'
import { addDays, minusMonths } from '../compliance/index.js'
import type { Executor, FleetDb } from '../db/database.js'
import { applicationInvalid, applicationNotFound, applicationOpenExists, applicationStateInvalid, objectionNotFound, objectionResolved, publicityEnded } from './applications-errors.js'
import type { ApplicationPatch, ApplicationRow, ApplicationStore, NewEvent } from './applications-store.js'
import { certRenewalTooEarly, supplierBlacklisted } from './errors.js'
import { RENEWAL_WINDOW_MONTHS, type CertificationService } from './service.js'

export interface ApplicationService {
  create(p: Principal, body: CreateApplicationBody): Promise<ApplicationDetail>
  list(p: Principal, q: ListApplicationsQuery): Promise<ApplicationList>
  get(p: Principal, id: number): Promise<ApplicationDetail>
  history(p: Principal, id: number): Promise<ApplicationHistory>
  review(p: Principal, id: number, body: ReviewApplicationBody): Promise<ApplicationDetail>
  lodgeObjection(p: Principal, id: number, body: LodgeObjectionBody): Promise<ObjectionReply>
  resolveObjection(p: Principal, objectionId: number, body: ResolveObjectionBody): Promise<ObjectionReply>
  publicity(p: Principal, q: PublicityQuery): Promise<PublicityList>
  /** Makes every due application effective; passes in this process run one at a time. */
  runDue(): Promise<PublicityRunReply>
  /** Resolves once the pass in progress (if any) has ended. */
  idle(): Promise<void>
}

export interface ApplicationServiceDeps {
  readonly db: FleetDb
  readonly store: ApplicationStore
  readonly catalog: () => CertificationService
  readonly policy: () => CertificationPolicy
  readonly workdays: Workdays
  readonly now: () => Date
  readonly log: Logger
}

/** The scheduled pass acts as the server itself. */
const SYSTEM: Principal = { userId: 'system', username: 'system', role: 'admin', countyCode: null, operator: null }
const OPEN_STATES: readonly ApplicationState[] = ['county_review', 'city_review', 'province_review', 'publicity', 'on_hold']
const NONE = '\u0001none'

/** Another pass (or replica) moved the application first. */
class LostRace extends Error {}

const reviewState = (step: CertReviewStep): ApplicationState => `${step}_review`
const stepOf = (state: ApplicationState): CertReviewStep | null => (state.endsWith('_review') ? (state.slice(0, -'_review'.length) as CertReviewStep) : null)

export function createApplicationService(deps: ApplicationServiceDeps): ApplicationService {
  const { db, store, log, workdays } = deps
  const rd = db.kysely
  const today = () => shanghaiDate(deps.now())
  const at = () => deps.now().toISOString()
  const cat = () => deps.catalog()
  const move = (ex: Executor, id: number, from: ApplicationState, to: ApplicationState, patch: ApplicationPatch) => store.move(ex, id, from, to, patch, at())

  const view = (a: ApplicationRow, d: string): ApplicationView => ({
    ...a,
    currentStep: stepOf(a.state),
    isDue: a.state === 'publicity' && a.effectiveFrom !== null && a.effectiveFrom <= d,
  })

  const canSee = (p: Principal, a: ApplicationRow): boolean => {
    switch (p.role) {
      case 'admin':
      case 'auditor':
        return true
      case 'county':
        return p.countyCode !== null && a.countyCode === p.countyCode
      case 'operator':
        return p.operator !== null && a.filedOperator === p.operator
    }
  }

  async function visible(p: Principal, id: number): Promise<ApplicationRow> {
    const a = await store.get(rd, id)
    if (!a || !canSee(p, a)) throw applicationNotFound(id)
    return a
  }

  /** Reviews, objections and their resolution: the city administrator, or an official of the supplier's county (visibility checked before). */
  function assertOfficial(p: Principal, what: string): void {
    if (p.role !== 'admin' && p.role !== 'county') throw outOfScope(`role ${p.role} may not ${what}`)
  }

  function assertMayFileFor(p: Principal, s: SupplierView): void {
    switch (p.role) {
      case 'admin':
        return
      case 'auditor':
        throw outOfScope('role auditor is read-only')
      case 'county':
        if (p.countyCode !== null && s.countyCode === p.countyCode) return
        throw outOfScope(`a county user of ${p.countyCode} files applications only for suppliers registered in that county; ${s.uscc} is registered in ${s.countyCode ?? 'no county yet'}`)
      case 'operator':
        if (p.operator !== null && s.operator === p.operator) return
        throw outOfScope(`an operator files applications only for the suppliers it registered; ${s.uscc} is not one of ${p.operator}'s`)
    }
  }

  const event = (p: Principal, a: { applicationId: number }, action: ApplicationEvent['action'], fromState: ApplicationState | null, toState: ApplicationState | null, extra: Partial<Pick<NewEvent, 'reason' | 'objectionId' | 'detail'>> = {}): NewEvent => ({
    applicationId: a.applicationId,
    at: at(),
    actor: p.username,
    role: p === SYSTEM ? 'system' : p.role,
    action,
    fromState,
    toState,
    reason: extra.reason ?? null,
    objectionId: extra.objectionId ?? null,
    detail: extra.detail ?? {},
  })

  async function detail(id: number): Promise<ApplicationDetail> {
    const a = await store.get(rd, id)
    if (!a) throw applicationNotFound(id)
    return { ...view(a, today()), objections: await store.objections(rd, id) }
  }

  async function productOrNull(sku: string): Promise<ProductDetail | null> {
    try {
      return await cat().product(sku)
    } catch (err) {
      if (isAppError(err) && err.code === 'PRODUCT_NOT_FOUND') return null
      throw err
    }
  }

  /** A certificate valid today blocks a new one until three months before it expires (policy 002 四(二)). */
  function assertMayReapply(p: ProductDetail, d: string): void {
    for (const c of p.certificates) {
      if (c.status !== 'valid') continue
      const mayApplyFrom = minusMonths(c.validTo, RENEWAL_WINDOW_MONTHS)
      if (d < mayApplyFrom) throw certRenewalTooEarly(p.sku, c.certificateNo, c.validTo, mayApplyFrom)
    }
  }

  const certificateNoOf = (a: ApplicationRow, attempt: number): string => {
    const base = `RD${a.effectiveFrom!.slice(0, 4)}-${String(a.applicationId).padStart(6, '0')}`
    return attempt === 0 ? base : `${base}-${attempt}`
  }

  /** One application into force: its move, the catalog's writes and its event in one transaction. */
  async function enact(a: ApplicationRow, certificateNo: string): Promise<string | null> {
    const level = a.reviewSteps.at(-1)!
    const validToOf = (from: string) => addDays(minusMonths(from, -a.validityMonths), -1)
    // Reads of the catalog happen before the transaction: on SQLite its one
    // connection is the transaction's until it ends.
    const renewed = a.kind === 'renewal' ? await cat().certificate(a.renews!) : null
    const inForce = a.kind === 'change' ? (await cat().product(a.sku)).certificateNo : null
    const recorded = a.kind === 'change' ? inForce : certificateNo
    return cat().write(async (w) => {
      if (!(await move(w.tx, a.applicationId, 'publicity', 'effective', { certificateNo: recorded, decidedAt: at() }))) throw new LostRace()
      let validity: { validFrom: string; validTo: string } | null = null
      switch (a.kind) {
        case 'new': {
          // Every declared fact goes to the product (ProductFacts and CreateProductBody share the fields).
          const f = a.facts as ProductFacts | null
          if (f !== null) await w.addProduct(SYSTEM, { ...f, sku: a.sku, supplierUscc: a.supplierUscc })
          validity = { validFrom: a.effectiveFrom!, validTo: validToOf(a.effectiveFrom!) }
          await w.issueCertificate(SYSTEM, { sku: a.sku, certificateNo, ...validity, level }, null)
          break
        }
        case 'renewal': {
          // The new certificate follows the renewed one without a gap or an overlap.
          const after = addDays(renewed!.validTo, 1)
          const validFrom = after > a.effectiveFrom! ? after : a.effectiveFrom!
          validity = { validFrom, validTo: validToOf(validFrom) }
          await w.issueCertificate(SYSTEM, { sku: a.sku, certificateNo, ...validity, level }, renewed!.certificateNo)
          break
        }
        case 'change': {
          const patch = a.facts as ProductChanges
          if (Object.keys(patch).length > 0) await w.changeProduct(SYSTEM, a.sku, patch)
          break
        }
      }
      await store.appendEvent(w.tx, event(SYSTEM, a, 'effective', 'publicity', 'effective', { detail: { certificateNo: recorded, ...validity, level } }))
      log.info({ applicationId: a.applicationId, kind: a.kind, sku: a.sku, certificateNo: recorded }, 'certification application effective')
      return recorded
    })
  }

  async function rejectBySystem(a: ApplicationRow, code: string, message: string): Promise<boolean> {
    return db.transaction(async (tx) => {
      if (!(await move(tx, a.applicationId, 'publicity', 'rejected', { rejectReason: `${code}: ${message}`, decidedAt: at() }))) return false
      await store.appendEvent(tx, event(SYSTEM, a, 'rejected', 'publicity', 'rejected', { reason: message, detail: { code } }))
      return true
    })
  }

  async function runDueOnce(): Promise<PublicityRunReply> {
    const ranAt = at()
    const reply: PublicityRunReply = { ranAt, effective: [], rejected: [], failed: [] }
    for (const a of await store.due(rd, today())) {
      try {
        for (let attempt = 0; ; attempt++) {
          try {
            reply.effective.push({ applicationId: a.applicationId, certificateNo: await enact(a, certificateNoOf(a, attempt)) })
            break
          } catch (err) {
            // A certificate number an admin happened to register by hand: take the next.
            if (isAppError(err) && err.code === 'CERT_EXISTS' && attempt < 5) continue
            throw err
          }
        }
      } catch (err) {
        if (err instanceof LostRace) continue
        if (isAppError(err) && err.code === 'SUPPLIER_BLACKLISTED') {
          // Blacklisted during its notice: it can never take effect.
          if (await rejectBySystem(a, err.code, err.message)) reply.rejected.push({ applicationId: a.applicationId, code: err.code })
          continue
        }
        // Left due (listed with isDue) and tried again by the next pass.
        const code = isAppError(err) ? err.code : 'INTERNAL'
        log.error({ err, applicationId: a.applicationId, code }, 'certification application not made effective; the next pass retries')
        reply.failed.push({ applicationId: a.applicationId, code, message: isAppError(err) ? err.message : 'internal error' })
      }
    }
    return reply
  }

  let queue: Promise<unknown> = Promise.resolve()

  return {
    async create(p, body) {
      if (p.role === 'auditor') throw outOfScope('role auditor is read-only')
      const d = today()
      const policy = deps.policy()
      let supplier: SupplierView
      let sku: string
      let renews: string | null = null
      let facts: Record<string, unknown> | null = null
      switch (body.kind) {
        case 'new': {
          supplier = await cat().supplier(body.supplierUscc.trim())
          sku = body.sku
          const product = await productOrNull(sku)
          if (product) {
            if (product.supplierUscc !== supplier.uscc) throw applicationInvalid(`product ${sku} belongs to supplier ${product.supplierUscc}, not ${supplier.uscc}`, { sku, supplierUscc: product.supplierUscc })
            if (body.product) throw applicationInvalid(`product ${sku} is in the catalog already: omit product, or file a change application for changed facts`, { sku })
            assertMayReapply(product, d)
          } else {
            if (!body.product) throw applicationInvalid(`product ${sku} is not in the catalog: give its facts in product`, { sku })
            facts = { ...body.product }
          }
          break
        }
        case 'renewal': {
          const cert = await cat().certificate(body.certificateNo)
          if (cert.revokedFrom !== null) throw applicationInvalid(`certificate ${cert.certificateNo} is revoked from ${cert.revokedFrom}; file a new application instead`, { certificateNo: cert.certificateNo })
          const successor = (await cat().certificates({ sku: cert.sku })).certificates.find((c) => c.renews === cert.certificateNo && c.revokedFrom === null)
          if (successor) throw applicationInvalid(`certificate ${cert.certificateNo} is already renewed by ${successor.certificateNo}`, { certificateNo: cert.certificateNo, renewedBy: successor.certificateNo })
          const mayApplyFrom = minusMonths(cert.validTo, RENEWAL_WINDOW_MONTHS)
          if (d < mayApplyFrom) throw certRenewalTooEarly(cert.sku, cert.certificateNo, cert.validTo, mayApplyFrom)
          supplier = await cat().supplier(cert.supplierUscc)
          sku = cert.sku
          renews = cert.certificateNo
          break
        }
        case 'change': {
          const product = await cat().product(body.sku)
          if (!product.isCertified) throw applicationInvalid(`product ${body.sku} holds no certificate in force today; a change application is for a certified product`, { sku: body.sku })
          supplier = await cat().supplier(product.supplierUscc)
          sku = body.sku
          facts = { ...body.changes }
          break
        }
      }
      assertMayFileFor(p, supplier)
      if (supplier.blacklistedFrom !== null) throw supplierBlacklisted(supplier.uscc, supplier.blacklistedFrom)
      const state = reviewState(policy.reviewSteps[0]!)
      const id = await db.transaction(async (tx) => {
        const id = await store.insert(tx, {
          kind: body.kind,
          state,
          supplierUscc: supplier.uscc,
          sku,
          renews,
          facts,
          note: body.note ?? null,
          reviewSteps: [...policy.reviewSteps],
          publicityWorkingDays: policy.publicityWorkingDays,
          validityMonths: policy.validityMonths,
          filedBy: p.username,
          filedRole: p.role,
          filedOperator: p.role === 'operator' ? p.operator : null,
          filedAt: at(),
          updatedAt: at(),
        })
        if (id === null) throw applicationOpenExists(sku)
        await store.appendEvent(tx, event(p, { applicationId: id }, 'submitted', null, state, { detail: { kind: body.kind, sku, supplierUscc: supplier.uscc, ...(renews && { renews }) } }))
        return id
      })
      log.info({ applicationId: id, kind: body.kind, sku, supplierUscc: supplier.uscc, by: p.username }, 'certification application submitted')
      return detail(id)
    },

    async list(p, q) {
      const d = today()
      let countyCode = q.county
      let filedOperator: string | undefined
      if (p.role === 'county') countyCode = q.county === undefined || q.county === p.countyCode ? (p.countyCode ?? NONE) : NONE
      if (p.role === 'operator') filedOperator = p.operator ?? NONE
      const { rows, total } = await store.list(rd, {
        ...(countyCode !== undefined && { countyCode }),
        ...(filedOperator !== undefined && { filedOperator }),
        ...(q.state === 'open' ? { states: OPEN_STATES } : q.state !== 'all' && { states: [q.state] }),
        ...(q.kind && { kind: q.kind }),
        ...(q.supplierUscc && { supplierUscc: q.supplierUscc }),
        ...(q.sku && { sku: q.sku }),
        limit: q.limit,
      })
      return { applications: rows.map((a) => view(a, d)), total, asOf: d }
    },

    async get(p, id) {
      await visible(p, id)
      return detail(id)
    },

    async history(p, id) {
      await visible(p, id)
      return { applicationId: id, events: await store.events(rd, id) }
    },

    async review(p, id, body) {
      const a = await visible(p, id)
      const step = stepOf(a.state)
      if (step === null) throw applicationStateInvalid(id, a.state, a.reviewSteps.map(reviewState), 'a review')
      assertOfficial(p, 'review applications')
      if (step !== 'county' && p.role !== 'admin') throw outOfScope(`the ${step} review is the city administrator's (admin), not a county official's`)
      const d = today()
      await db.transaction(async (tx) => {
        const stale = () => applicationStateInvalid(id, a.state, [a.state], 'this review')
        if (body.decision === 'reject') {
          if (!(await move(tx, id, a.state, 'rejected', { rejectReason: body.reason!, decidedAt: at() }))) throw stale()
          await store.appendEvent(tx, event(p, a, 'rejected', a.state, 'rejected', { reason: body.reason!, detail: { step } }))
          return
        }
        const next = a.reviewSteps[a.reviewSteps.indexOf(step) + 1]
        if (next !== undefined) {
          if (!(await move(tx, id, a.state, reviewState(next), {}))) throw stale()
          await store.appendEvent(tx, event(p, a, 'approved', a.state, reviewState(next), { ...(body.reason && { reason: body.reason }), detail: { step } }))
          return
        }
        // 公示 runs the N working days after the approval day (Asia/Shanghai):
        // an approval late in the day does not use up a day of the notice.
        const publicityFrom = workdays.addWorkingDays(d, 1)
        const publicityTo = workdays.addWorkingDays(d, a.publicityWorkingDays)
        const effectiveFrom = addDays(publicityTo, 1)
        if (!workdays.covers(publicityTo)) log.warn({ applicationId: id, publicityTo }, 'holiday calendar does not cover the notice; counted weekends only')
        if (!(await move(tx, id, a.state, 'publicity', { publicityFrom, publicityTo, effectiveFrom }))) throw stale()
        await store.appendEvent(tx, event(p, a, 'approved', a.state, 'publicity', { ...(body.reason && { reason: body.reason }), detail: { step } }))
        await store.appendEvent(tx, event(p, a, 'publicity_started', null, null, { detail: { publicityFrom, publicityTo, effectiveFrom, workingDays: a.publicityWorkingDays } }))
      })
      log.info({ applicationId: id, step, decision: body.decision, by: p.username }, 'certification application reviewed')
      return detail(id)
    },

    async lodgeObjection(p, id, body) {
      const a = await visible(p, id)
      assertOfficial(p, 'record objections')
      if (a.state !== 'publicity' && a.state !== 'on_hold') throw applicationStateInvalid(id, a.state, ['publicity', 'on_hold'], 'an objection')
      if (today() > a.publicityTo!) throw publicityEnded(id, a.publicityTo!)
      const objectionId = await db.transaction(async (tx) => {
        const oid = await store.insertObjection(tx, { applicationId: id, reason: body.reason, objector: body.by ?? null, lodgedBy: p.username, lodgedAt: at() })
        if (a.state === 'publicity' && !(await move(tx, id, 'publicity', 'on_hold', {}))) {
          const now = await store.get(tx, id)
          if (now?.state !== 'on_hold') throw applicationStateInvalid(id, now?.state ?? a.state, ['publicity', 'on_hold'], 'an objection')
        }
        await store.appendEvent(tx, event(p, a, 'objection_lodged', a.state, 'on_hold', { reason: body.reason, objectionId: oid, detail: { objector: body.by ?? null } }))
        return oid
      })
      log.info({ applicationId: id, objectionId, by: p.username }, 'objection lodged during 公示')
      return { objection: (await store.objection(rd, objectionId))!, application: view((await store.get(rd, id))!, today()) }
    },

    async resolveObjection(p, objectionId, body) {
      const o = await store.objection(rd, objectionId)
      const a = o ? await store.get(rd, o.applicationId) : null
      if (!o || !a || !canSee(p, a)) throw objectionNotFound(objectionId)
      assertOfficial(p, 'resolve objections')
      if (o.state !== 'open') throw objectionResolved(objectionId, o.state)
      const id = a.applicationId
      await db.transaction(async (tx) => {
        if (!(await store.closeObjection(tx, objectionId, body.decision, p.username, at(), body.reason))) throw objectionResolved(objectionId, 'resolved')
        if (body.decision === 'upheld') {
          if (!(await move(tx, id, 'on_hold', 'rejected', { rejectReason: `异议成立：${body.reason}`, decidedAt: at() }))) throw applicationStateInvalid(id, a.state, ['on_hold'], 'upholding an objection')
          await store.mootObjections(tx, id, p.username, at(), `application rejected on objection ${objectionId}`)
          await store.appendEvent(tx, event(p, a, 'objection_upheld', 'on_hold', 'rejected', { reason: body.reason, objectionId }))
          return
        }
        await store.appendEvent(tx, event(p, a, 'objection_dismissed', null, null, { reason: body.reason, objectionId }))
        const open = (await store.objections(tx, id)).filter((x) => x.state === 'open')
        if (open.length === 0) {
          if (!(await move(tx, id, 'on_hold', 'publicity', {}))) throw applicationStateInvalid(id, a.state, ['on_hold'], 'dismissing an objection')
          // The notice ends as scheduled: due at once when that day has passed.
          await store.appendEvent(tx, event(p, a, 'publicity_resumed', 'on_hold', 'publicity', { detail: { publicityTo: a.publicityTo, effectiveFrom: a.effectiveFrom } }))
        }
      })
      log.info({ applicationId: id, objectionId, decision: body.decision, by: p.username }, 'objection resolved')
      return { objection: (await store.objection(rd, objectionId))!, application: view((await store.get(rd, id))!, today()) }
    },

    async publicity(p, q) {
      const d = today()
      // The notice is public; each county posts its own, so a county official sees its county's.
      const countyCode = p.role === 'county' ? (q.county === undefined || q.county === p.countyCode ? (p.countyCode ?? NONE) : NONE) : q.county
      const { rows } = await store.list(rd, { ...(countyCode !== undefined && { countyCode }), states: ['publicity', 'on_hold'], limit: 1000 })
      const names = rows.some((a) => a.facts === null || a.kind !== 'new') ? new Map((await cat().products()).products.map((x) => [x.sku, x.name])) : new Map<string, string>()
      return {
        asOf: d,
        notices: rows.map((a) => ({
          applicationId: a.applicationId,
          kind: a.kind,
          state: a.state as 'publicity' | 'on_hold',
          supplierUscc: a.supplierUscc,
          supplierName: a.supplierName,
          countyCode: a.countyCode,
          sku: a.sku,
          productName: (typeof a.facts?.name === 'string' ? a.facts.name : null) ?? names.get(a.sku) ?? null,
          publicityFrom: a.publicityFrom!,
          publicityTo: a.publicityTo!,
          effectiveFrom: a.effectiveFrom!,
          isDue: view(a, d).isDue,
          openObjections: a.openObjections,
        })),
      }
    },

    runDue() {
      const run = queue.then(runDueOnce, runDueOnce)
      queue = run.catch(() => {})
      return run
    },

    idle: () => queue.then(() => undefined),
  }
}
