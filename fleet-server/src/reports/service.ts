// Reports (报表): the weekly, monthly and quarterly figures officials submit
// (policies 003, 000, 002), as snapshots taken when a report is created and
// stored unchanged. Each holds, per county and in total, rollout progress and
// forwarding state as at creation, and the period's sales from the compliance
// figures (aggregates, not raw sales) judged against the plan's threshold in
// integer fen; then one row per cabinet.
//
// Scope: admin and auditor create and read city-wide or any county's reports
// (a report changes no fleet data, so the read-only auditor may take one); a
// county official only its own county's (county omitted = its county, another
// county = 403); an operator only reports of its own cabinets (optionally one
// county of them). A report outside the caller's scope is "not found".
// A manual POST always takes a new snapshot (e.g. after late sales synced);
// scheduled reports are stored once per kind, period and scope.
import type { Logger } from 'pino'
import {
  labelZh,
  shanghaiDate,
  shareBp,
  uuidv7,
  type CreateReportBody,
  type ListReportsQuery,
  type Plan,
  type ReportCabinet,
  type ReportCatalog,
  type ReportCounty,
  type ReportDocument,
  type ReportKind,
  type ReportSales,
  type OverviewTarget,
  type ReportSummary,
  type RolloutCounts,
  type RolloutReply,
} from '../../../shared/src/index.js'
import { isCityWide, outOfScope, type Principal } from '../access/index.js'
import type { CabinetRow } from '../cabinets/index.js'
import { periodEnd, type CabinetFigures, type ComplianceService, type ComplianceStore } from '../compliance/index.js'
import type { ForwardingService } from '../forwarding/index.js'
import type { TargetViewer } from '../overview/index.js'
import type { RolloutService } from '../rollout/index.js'
import { countyUnknown, periodInvalid, periodNotStarted, reportNotFound } from './errors.js'
import { parseReportPeriod, periodNameZh, PERIOD_FORMS, type ReportPeriod } from './periods.js'
import { dueOn, dueReports } from './schedule.js'
import type { ReportRow, ReportStore, StoredReport } from './store.js'

export interface ReportService {
  /** Takes and stores a new snapshot within the caller's scope. */
  create(by: Principal, body: CreateReportBody): Promise<ReportSummary>
  /** Reports within the caller's scope, newest first. */
  list(by: Principal, q: ListReportsQuery): Promise<ReportSummary[]>
  /** The stored document; REPORT_NOT_FOUND outside the caller's scope. */
  get(by: Principal, reportId: string): Promise<ReportDocument>
  /**
   * Generates the scheduled reports due at `now()` (city-wide and one per
   * county) that are not stored yet; returns what it stored.
   */
  runSchedule(): Promise<ReportSummary[]>
}

export interface ReportServiceDeps {
  readonly store: ReportStore
  readonly plan: () => Plan
  readonly rollout: Pick<RolloutService, 'progress'>
  readonly figures: Pick<ComplianceStore, 'figuresByCabinet'>
  readonly compliance: Pick<ComplianceService, 'judge' | 'threshold'>
  readonly forwarding: Pick<ForwardingService, 'counts'>
  /** Progress of the targets a viewer sees as of a date (the overview's, issue 15). */
  readonly targets: (viewer: TargetViewer, asOf: string) => Promise<OverviewTarget[]>
  /** Catalog figures per county as of a date (certification's countyCatalogFigures). */
  readonly catalog: (asOf: string, expiringWithinDays: number) => Promise<ReadonlyMap<string, { certifiedProducts: number; expiringCertificates: number; inPublicity: number }>>
  /** Every cabinet matching the filter (the cabinets store's listAll). */
  readonly cabinets: (filter: { countyCode?: string; operator?: string }) => Promise<CabinetRow[]>
  readonly now: () => Date
  readonly log: Logger
}

/** What one report covers. */
interface Scope {
  readonly countyCode: string | null
  readonly operator: string | null
}

/** The user scheduled reports are created by. */
export const SCHEDULE_USER = 'system'

export function scopeKey(s: Scope): string {
  if (s.operator !== null) return s.countyCode === null ? `operator:${s.operator}` : `operator:${s.operator}/county:${s.countyCode}`
  return s.countyCode === null ? 'city' : `county:${s.countyCode}`
}

const summaryOf = (r: ReportRow): ReportSummary => ({
  reportId: r.reportId,
  kind: r.kind,
  period: r.period,
  scope: r.scope,
  scopeName: r.scopeName,
  countyCode: r.countyCode,
  operator: r.operator,
  from: r.from,
  to: r.to,
  createdAt: r.createdAt,
  createdBy: r.createdBy,
  scheduled: r.scheduled,
})

/** Certificates expiring within this many days are counted in the catalog figures (as the cert-expiring alert warns). */
export const CATALOG_EXPIRING_DAYS = 30

const noSales = (): ReportSales => ({ salesCount: 0, amountFen: 0, certifiedAmountFen: 0, shareBp: 0, ratio: 0, compliantCabinets: 0, judgedCabinets: 0 })

export function createReportService(deps: ReportServiceDeps): ReportService {
  const { store, log } = deps
  const countyName = (code: string): string => deps.plan().counties.find((c) => c.code === code)?.name ?? code

  function scopeName(s: Scope): string {
    const p = deps.plan()
    if (s.operator !== null) return `运营企业 ${s.operator}${s.countyCode === null ? '' : `（${countyName(s.countyCode)}）`}`
    return s.countyCode === null ? p.region.name : countyName(s.countyCode)
  }

  /** The scope a caller's request resolves to; throws when it is outside the caller's own. */
  function resolveScope(by: Principal, county: string | undefined): Scope {
    const p = deps.plan()
    if (by.role === 'county') {
      // A county user's own county is always in the plan; nothing about another is revealed.
      if (county !== undefined && county !== by.countyCode) throw outOfScope(`a county user of ${by.countyCode} may create reports only for that county`, `县区用户只能生成本县区（“${by.countyCode}”）的报表`)
      return { countyCode: by.countyCode ?? '\u0001none', operator: null }
    }
    if (county !== undefined && !p.counties.some((c) => c.code === county)) throw countyUnknown(county, p.counties.map((c) => c.code))
    if (by.role === 'operator') return { countyCode: county ?? null, operator: by.operator ?? '\u0001none' }
    return { countyCode: county ?? null, operator: null }
  }

  /** Who may see a stored report. */
  function visibility(by: Principal): Scope {
    if (isCityWide(by)) return { countyCode: null, operator: null }
    if (by.role === 'county') return { countyCode: by.countyCode ?? '\u0001none', operator: null }
    return { countyCode: null, operator: by.operator ?? '\u0001none' }
  }

  const canSee = (by: Principal, r: ReportRow): boolean => {
    const v = visibility(by)
    return (v.countyCode === null || r.countyCode === v.countyCode) && (v.operator === null || r.operator === v.operator)
  }

  /** The principal whose rollout view is the scope's (rollout scopes by role). */
  function rolloutPrincipal(s: Scope): Principal {
    const base = { userId: SCHEDULE_USER, username: SCHEDULE_USER, countyCode: null, operator: null }
    if (s.operator !== null) return { ...base, role: 'operator', operator: s.operator }
    if (s.countyCode !== null) return { ...base, role: 'county', countyCode: s.countyCode }
    return { ...base, role: 'admin' }
  }

  /** Builds the document; the only awaits are reads, nothing is written. */
  async function snapshot(reportId: string, period: ReportPeriod, s: Scope, createdBy: string, scheduled: boolean): Promise<ReportDocument> {
    const plan = deps.plan()
    const at = deps.now()
    const filter = { ...(s.countyCode !== null && { countyCode: s.countyCode }), ...(s.operator !== null && { operator: s.operator }) }
    const threshold = await deps.compliance.threshold()

    const progress: RolloutReply = await deps.rollout.progress(rolloutPrincipal(s))
    const rolloutByCounty = new Map(progress.counties.filter((c) => s.countyCode === null || c.code === s.countyCode).map((c) => [c.code, c]))
    // A county at a time, each in its own event-loop turn: one city-wide
    // read of 20,000 cabinets and their figures held the loop ~0.5 s. Every
    // cabinet is in a county of the plan (checked when it is created).
    const parts = s.countyCode !== null ? [s.countyCode] : plan.counties.map((c) => c.code)
    const rows: CabinetRow[] = []
    const figures = new Map<string, CabinetFigures>()
    for (const [i, countyCode] of parts.entries()) {
      if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve))
      const f = { ...filter, countyCode }
      rows.push(...(await deps.cabinets(f)))
      for (const x of await deps.figures.figuresByCabinet(period.from, period.to, f)) figures.set(x.cabinetId, x)
    }
    if (parts.length > 1) rows.sort((a, b) => (a.cabinetId < b.cabinetId ? -1 : a.cabinetId > b.cabinetId ? 1 : 0))

    const salesByCounty = new Map<string, ReportSales>()
    const add = (acc: ReportSales, n: number, amount: number, certified: number, compliant: boolean | null): ReportSales => ({
      ...acc,
      salesCount: acc.salesCount + n,
      amountFen: acc.amountFen + amount,
      certifiedAmountFen: acc.certifiedAmountFen + certified,
      judgedCabinets: acc.judgedCabinets + (compliant === null ? 0 : 1),
      compliantCabinets: acc.compliantCabinets + (compliant === true ? 1 : 0),
    })
    const cabinets: ReportCabinet[] = rows.map((c) => {
      const f = figures.get(c.cabinetId)
      const amountFen = f?.amountFen ?? 0
      const certifiedAmountFen = f?.certifiedFen ?? 0
      const salesCount = f?.salesCount ?? 0
      const v = deps.compliance.judge(certifiedAmountFen, amountFen)
      // No sales in the period: nothing to judge (not "non-compliant").
      const compliant = amountFen > 0 ? v.compliant : null
      salesByCounty.set(c.countyCode, add(salesByCounty.get(c.countyCode) ?? noSales(), salesCount, amountFen, certifiedAmountFen, compliant))
      return {
        cabinetId: c.cabinetId,
        countyCode: c.countyCode,
        countyName: countyName(c.countyCode),
        operator: c.operator,
        siteName: c.siteName,
        venueType: c.venueType,
        status: c.status,
        salesCount,
        amountFen,
        certifiedAmountFen,
        shareBp: v.shareBp,
        ratio: v.ratio,
        compliant,
      }
    })
    const withShare = (x: ReportSales): ReportSales => {
      const bp = shareBp(x.certifiedAmountFen, x.amountFen)
      return { ...x, shareBp: bp, ratio: bp / 10_000 }
    }

    // Counties in plan order: the scope's one, every county city-wide, or
    // those where an operator has cabinets.
    const codes = plan.counties
      .map((c) => c.code)
      .filter((code) => (s.countyCode !== null ? code === s.countyCode : s.operator === null || rolloutByCounty.has(code) || salesByCounty.has(code)))
    const zeroRollout: RolloutCounts = { quota: 0, sitesAssigned: 0, installed: 0, operating: 0, online: 0 }
    const counties: ReportCounty[] = []
    for (const code of codes) {
      const r = rolloutByCounty.get(code)
      counties.push({
        code,
        name: countyName(code),
        // A report's 在线 is rollout progress: installed cabinets connected, not a
        // test bench's planned one (issue 15), as the dashboard shows it.
        rollout: r ? { quota: r.quota, sitesAssigned: r.sitesAssigned, installed: r.installed, operating: r.operating, online: r.online - r.onlineNotInstalled } : zeroRollout,
        sales: withShare(salesByCounty.get(code) ?? noSales()),
        forwarding: await deps.forwarding.counts({ ...filter, countyCode: code }),
      })
    }
    const totalRollout = { ...zeroRollout }
    const totalSales = noSales()
    for (const c of counties) {
      for (const k of Object.keys(totalRollout) as Array<keyof RolloutCounts>) totalRollout[k] += c.rollout[k]
      for (const k of ['salesCount', 'amountFen', 'certifiedAmountFen', 'judgedCabinets', 'compliantCabinets'] as const) totalSales[k] += c.sales[k]
    }

    const name = scopeName(s)
    const totalForwarding = await deps.forwarding.counts(filter)
    // Targets as at the period's end, or today while it runs.
    const today = shanghaiDate(at)
    const targetsAsOf = period.to < today ? period.to : today
    const viewer: TargetViewer = s.operator !== null ? { kind: 'operator', operator: s.operator } : s.countyCode !== null ? { kind: 'county', code: s.countyCode } : { kind: 'city' }
    const targets = await deps.targets(viewer, targetsAsOf)
    const catalog = await catalogOf(plan, counties, targetsAsOf)
    return {
      v: 1,
      reportId,
      kind: period.kind,
      period: period.id,
      title: `${name}消费扶贫智能专柜${labelZh('reportKind', period.kind)}（${periodNameZh(period)}）`,
      scope: scopeKey(s),
      scopeName: name,
      countyCode: s.countyCode,
      operator: s.operator,
      from: period.from,
      to: period.to,
      timeZone: 'Asia/Shanghai',
      dueOn: dueOn(period, plan.policy.reports),
      isComplete: periodEnd(period).getTime() <= at.getTime(),
      createdAt: at.toISOString(),
      createdBy,
      scheduled,
      plan: { id: plan.id, name: plan.name, region: { ...plan.region } },
      threshold: { bp: threshold.bp, ratio: threshold.bp / 10_000, channel: threshold.channel },
      counties,
      totals: { rollout: totalRollout, sales: withShare(totalSales), forwarding: totalForwarding },
      cabinets,
      targetsAsOf,
      targets,
      catalog,
    }
  }

  /** The catalog figures of the report's counties, with the plan's certified-product targets. */
  async function catalogOf(plan: Plan, counties: readonly ReportCounty[], asOf: string): Promise<ReportCatalog> {
    const figures = await deps.catalog(asOf, CATALOG_EXPIRING_DAYS)
    const rows = counties.map((c) => {
      const f = figures.get(c.code)
      const t = plan.targets.find((x) => x.kind === 'certified_products' && x.scope.code === c.code)
      return {
        code: c.code,
        name: c.name,
        certifiedProducts: f?.certifiedProducts ?? 0,
        certifiedProductsTarget: t?.kind === 'certified_products' ? t.count : null,
        expiringCertificates: f?.expiringCertificates ?? 0,
        inPublicity: f?.inPublicity ?? 0,
      }
    })
    const sum = (k: 'certifiedProducts' | 'expiringCertificates' | 'inPublicity') => rows.reduce((n, r) => n + r[k], 0)
    const targets = rows.filter((r) => r.certifiedProductsTarget !== null)
    return {
      asOf,
      expiringWithinDays: CATALOG_EXPIRING_DAYS,
      counties: rows,
      totals: {
        certifiedProducts: sum('certifiedProducts'),
        certifiedProductsTarget: targets.length === 0 ? null : targets.reduce((n, r) => n + r.certifiedProductsTarget!, 0),
        expiringCertificates: sum('expiringCertificates'),
        inPublicity: sum('inPublicity'),
      },
    }
  }

  function toStored(doc: ReportDocument): StoredReport {
    return {
      reportId: doc.reportId,
      kind: doc.kind,
      period: doc.period,
      from: doc.from,
      to: doc.to,
      countyCode: doc.countyCode,
      operator: doc.operator,
      scope: doc.scope,
      scopeName: doc.scopeName,
      createdAt: doc.createdAt,
      createdBy: doc.createdBy,
      scheduled: doc.scheduled,
      content: JSON.stringify(doc),
    }
  }

  function parsePeriodFor(kind: ReportKind, id: string): ReportPeriod {
    const p = parseReportPeriod(kind, id)
    if (!p) throw periodInvalid(kind, id, PERIOD_FORMS[kind])
    return p
  }

  return {
    async create(by, body) {
      const period = parsePeriodFor(body.kind, body.period)
      const s = resolveScope(by, body.county)
      const today = shanghaiDate(deps.now())
      if (period.from > today) throw periodNotStarted(period.id, period.from, today)
      const doc = await snapshot(uuidv7(), period, s, by.username, false)
      await store.insert(toStored(doc))
      log.info({ reportId: doc.reportId, kind: doc.kind, period: doc.period, scope: doc.scope, by: by.username }, 'report created')
      return summaryOf(toStored(doc))
    },

    async list(by, q) {
      if (q.period !== undefined && q.kind !== undefined) parsePeriodFor(q.kind, q.period)
      // A county filter outside the caller's own selects nothing rather than widening it.
      return (await store.list(visibility(by), { ...(q.kind && { kind: q.kind }), ...(q.period && { period: q.period }), ...(q.county && { countyCode: q.county }) })).map(summaryOf)
    },

    async get(by, reportId) {
      const r = await store.get(reportId)
      if (!r || !canSee(by, r)) throw reportNotFound(reportId)
      return JSON.parse(r.content) as ReportDocument
    },

    async runSchedule() {
      const plan = deps.plan()
      const scopes: Scope[] = [{ countyCode: null, operator: null }, ...plan.counties.map((c) => ({ countyCode: c.code, operator: null }))]
      const stored: ReportSummary[] = []
      for (const due of dueReports(deps.now(), plan.policy.reports)) {
        for (const s of scopes) {
          // The unique index is what guarantees one; this only saves building a snapshot again.
          if (await store.hasScheduled(due.kind, due.period.id, scopeKey(s))) continue
          // One snapshot per event-loop turn: sale ingest keeps flowing during the run.
          await new Promise<void>((resolve) => setImmediate(resolve))
          const doc = await snapshot(uuidv7(), due.period, s, SCHEDULE_USER, true)
          const row = toStored(doc)
          if (await store.insert(row)) stored.push(summaryOf(row))
        }
      }
      if (stored.length > 0) log.info({ stored: stored.length, reports: stored.map((r) => `${r.kind}:${r.period}:${r.scope}`) }, 'scheduled reports generated')
      return stored
    },
  }
}
