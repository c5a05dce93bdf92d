// Rules of the 扶贫产品目录 (policy 002 扶贫产品认定管理暂行办法): suppliers by
// 统一社会信用代码; products; certificates valid one year, renewable from three
// months before expiry; revocation from an effective date (default today, may
// be back-dated); the 扶贫失信黑名单 revokes all of a supplier's certificates
// from its date. Every change is appended to catalog_history in the same
// transaction as the change and the update of the certified figures it flips.
import type { Logger } from 'pino'
import {
  shanghaiDate,
  usccProblem,
  type BlacklistReply,
  type BlacklistSupplierBody,
  type CatalogHistory,
  type CatalogHistoryQuery,
  type CertificateList,
  type CertificateView,
  type CertStatus,
  type CreateCertificateBody,
  type CreateProductBody,
  type CreateSupplierBody,
  type ListCertificatesQuery,
  type PatchProductBody,
  type PatchSupplierBody,
  type ProductDetail,
  type ProductList,
  type ProductView,
  type RenewCertificateBody,
  type RevokeCertificateBody,
  type SupplierList,
  type SupplierView,
} from '../../../shared/src/index.js'
import { assertAdmin, outOfScope, type Principal } from '../access/index.js'
import { addDays, minusMonths, plusYearsInclusive } from '../compliance/index.js'
import { CATALOG_MAX_ITEMS } from './catalog-publisher.js'
import {
  catalogFull,
  certExists,
  certNotFound,
  certRenewalTooEarly,
  certRevocationInvalid,
  certValidityInvalid,
  invalidUscc,
  productExists,
  productNotFound,
  supplierBlacklisted,
  supplierExists,
  supplierCountyRequired,
  supplierCountyUnknown,
  supplierNotFound,
} from './errors.js'
import type { Executor, FleetDb } from '../db/database.js'
import type { CatalogStore, CertificateRow, ProductRow, SupplierRow } from './store.js'

/** Days of one sku whose certification may have changed. */
export interface CertifiedRange {
  readonly sku: string
  readonly from: string
  readonly to: string
}

/** A product's changeable fields, as kept in catalog_history. */
const PRODUCT_FIELDS = ['name', 'priceFen', 'origin', 'category', 'scale', 'annualOutput', 'supplyPeriod', 'priceRange', 'operator', 'householdsHelped', 'materialSource'] as const

/** Months before expiry from which a renewal may be applied for (policy 002 四(二)). */
export const RENEWAL_WINDOW_MONTHS = 3
/** The catalogue is valid one year (policy 002 四(二)). */
export const CERT_VALIDITY_YEARS = 1

export interface CertificationService {
  createSupplier(by: Principal, body: CreateSupplierBody): Promise<SupplierView>
  suppliers(): Promise<SupplierList>
  supplier(uscc: string): Promise<SupplierView>
  blacklist(by: Principal, uscc: string, body: BlacklistSupplierBody): Promise<BlacklistReply>
  /** Sets a supplier's registration county or registering operator (admin). */
  patchSupplier(by: Principal, uscc: string, body: PatchSupplierBody): Promise<SupplierView>
  /**
   * Runs `fn` in one catalog transaction with the writers the admin routes
   * use (same checks, history and certified-figure updates), then republishes
   * like any change: the workflow's end (issue 15) commits its own rows in `w.tx`.
   */
  write<T>(fn: (w: CatalogWriter) => Promise<T>): Promise<T>
  createProduct(by: Principal, body: CreateProductBody): Promise<ProductView>
  patchProduct(by: Principal, sku: string, body: PatchProductBody): Promise<ProductView>
  products(asOf?: string): Promise<ProductList>
  product(sku: string, asOf?: string): Promise<ProductDetail>
  createCertificate(by: Principal, body: CreateCertificateBody): Promise<CertificateView>
  renewCertificate(by: Principal, no: string, body: RenewCertificateBody): Promise<CertificateView>
  revokeCertificate(by: Principal, no: string, body: RevokeCertificateBody): Promise<CertificateView>
  certificates(q: ListCertificatesQuery): Promise<CertificateList>
  certificate(no: string, asOf?: string): Promise<CertificateView>
  history(q: CatalogHistoryQuery): Promise<CatalogHistory>
  /** Certificates in force on asOf that expire within `withinDays` and have no successor for the same product yet (for alerts). */
  expiring(asOf: string, withinDays: number): Promise<CertificateView[]>
}

/** The catalog's writes inside one transaction (CertificationService.write). */
export interface CatalogWriter {
  readonly tx: Executor
  addProduct(by: Principal, body: CreateProductBody): Promise<ProductView>
  changeProduct(by: Principal, sku: string, body: PatchProductBody): Promise<ProductView>
  issueCertificate(by: Principal, body: { sku: string; certificateNo: string; validFrom: string; validTo?: string; level?: CreateCertificateBody['level'] }, renews: string | null): Promise<CertificateView>
}

export interface CertificationServiceDeps {
  readonly db: FleetDb
  readonly store: CatalogStore
  readonly now: () => Date
  readonly log: Logger
  /** The plan's county codes: a supplier's registration county is one of them (absent: any code). */
  readonly counties?: () => readonly string[]
  /**
   * Given the change's transaction, after the change is written: bring the
   * certified figures of these skus up to date in it (compliance
   * applyCatalogChange), so both commit or neither does.
   */
  readonly certifiedChanged: (tx: Executor, ranges: readonly CertifiedRange[]) => Promise<unknown>
  /** After a committed change: republish catalogs, re-evaluate held forwarding. */
  readonly changed: () => Promise<void> | void
}

export function certStatus(c: Pick<CertificateRow, 'validFrom' | 'validTo' | 'revokedFrom'>, asOf: string): CertStatus {
  if (c.revokedFrom !== null && c.revokedFrom <= asOf) return 'revoked'
  if (asOf < c.validFrom) return 'pending'
  if (asOf > c.validTo) return 'expired'
  return 'valid'
}

export function createCertificationService(deps: CertificationServiceDeps): CertificationService {
  const { db, store, log } = deps
  const rd = db.kysely
  const today = () => shanghaiDate(deps.now())
  const at = () => deps.now().toISOString()

  const supplierView = (s: SupplierRow): SupplierView => ({ ...s })
  const certView = (c: CertificateRow, asOf: string): CertificateView => ({ ...c, status: certStatus(c, asOf) })
  const productView = async (ex: Executor, p: ProductRow, asOf: string): Promise<ProductView> => {
    const certificateNo = await store.coveringCertificate(ex, p.sku, asOf)
    return { ...p, isCertified: certificateNo !== null, certificateNo, asOf }
  }

  async function mustSupplier(ex: Executor, uscc: string): Promise<SupplierRow> {
    const s = await store.supplier(ex, uscc)
    if (!s) throw supplierNotFound(uscc)
    return s
  }
  async function mustProduct(ex: Executor, sku: string): Promise<ProductRow> {
    const p = await store.product(ex, sku)
    if (!p) throw productNotFound(sku)
    return p
  }
  async function mustCert(ex: Executor, no: string): Promise<CertificateRow> {
    const c = await store.certificate(ex, no)
    if (!c) throw certNotFound(no)
    return c
  }

  /** Writes a change atomically with its history and the figures it flips, then notifies. */
  async function change<T>(fn: (tx: Executor) => Promise<{ result: T; ranges: CertifiedRange[] }>): Promise<T> {
    const { result } = await db.transaction(async (tx) => {
      const r = await fn(tx)
      if (r.ranges.length > 0) await deps.certifiedChanged(tx, r.ranges)
      return r
    })
    await deps.changed()
    return result
  }

  function assertKnownCounty(countyCode: string): void {
    const known = deps.counties?.()
    if (known && !known.includes(countyCode)) throw supplierCountyUnknown(countyCode, known)
  }

  /**
   * Who a new supplier belongs to (issue 15): an admin registers any (county
   * optional); a county official only in its own county (the default); an
   * operator for itself, naming the county whose officials will review.
   */
  function supplierOwner(by: Principal, body: CreateSupplierBody): { countyCode: string | null; operator: string | null } {
    let countyCode = body.countyCode ?? null
    let operator = body.operator ?? null
    switch (by.role) {
      case 'auditor':
        throw outOfScope('role auditor is read-only')
      case 'county':
        if (by.countyCode === null) throw outOfScope('a county user without a county may not register suppliers')
        countyCode ??= by.countyCode
        if (countyCode !== by.countyCode) throw outOfScope(`a county user of ${by.countyCode} registers suppliers only in that county, not in ${countyCode}`)
        break
      case 'operator':
        if (by.operator === null) throw outOfScope('an operator user without an operator may not register suppliers')
        if (operator !== null && operator !== by.operator) throw outOfScope(`an operator registers suppliers only for itself (${by.operator}), not for ${operator}`)
        operator = by.operator
        if (countyCode === null) throw supplierCountyRequired()
        break
      case 'admin':
        break
    }
    if (countyCode !== null) assertKnownCounty(countyCode)
    return { countyCode, operator }
  }

  type Issue = { sku: string; certificateNo: string; validFrom: string; validTo?: string | undefined; level?: CreateCertificateBody['level'] }

  /** Checks and writes a certificate on `tx` (its history too); the admin routes and the workflow's end share it. */
  async function issueIn(tx: Executor, by: Principal, body: Issue, renews: string | null): Promise<{ result: CertificateView; ranges: CertifiedRange[] }> {
    const product = await mustProduct(tx, body.sku)
    const supplier = await mustSupplier(tx, product.supplierUscc)
    if (supplier.blacklistedFrom !== null) throw supplierBlacklisted(supplier.uscc, supplier.blacklistedFrom)
    const validTo = body.validTo ?? plusYearsInclusive(body.validFrom, CERT_VALIDITY_YEARS)
    const maxTo = plusYearsInclusive(body.validFrom, CERT_VALIDITY_YEARS)
    if (validTo < body.validFrom) {
      throw certValidityInvalid(`validTo ${validTo} is before validFrom ${body.validFrom}`, { validFrom: body.validFrom, validTo }, `截止日期 ${validTo} 早于起始日期 ${body.validFrom}`)
    }
    if (validTo > maxTo) {
      throw certValidityInvalid(`a certificate is valid at most one year: from ${body.validFrom} it may run to ${maxTo}, not ${validTo}`, { validFrom: body.validFrom, validTo, maxValidTo: maxTo }, `自 ${body.validFrom} 起最长有效至 ${maxTo}，不能至 ${validTo}`)
    }
    // Re-application only from three months before the current certificate expires.
    const d = today()
    for (const c of await store.certificates(tx, { sku: body.sku })) {
      if (certStatus(c, d) !== 'valid') continue
      const mayApplyFrom = minusMonths(c.validTo, RENEWAL_WINDOW_MONTHS)
      if (d < mayApplyFrom) throw certRenewalTooEarly(body.sku, c.certificateNo, c.validTo, mayApplyFrom)
    }
    const row = {
      certificateNo: body.certificateNo,
      sku: body.sku,
      level: body.level ?? 'county',
      validFrom: body.validFrom,
      validTo,
      renews,
      createdAt: at(),
      updatedAt: at(),
    }
    if (!(await store.insertCertificate(tx, row))) throw certExists(body.certificateNo)
    await store.appendHistory(tx, { at: row.createdAt, actor: by.username, entity: 'certificate', entityId: row.certificateNo, action: renews ? 'renewed' : 'issued', detail: { ...row } })
    log.info({ certificateNo: row.certificateNo, sku: row.sku, validFrom: row.validFrom, validTo, by: by.username }, 'certificate issued')
    return { result: certView(await mustCert(tx, row.certificateNo), d), ranges: [{ sku: row.sku, from: row.validFrom, to: row.validTo }] }
  }

  const issue = (by: Principal, body: Issue, renews: string | null): Promise<CertificateView> => change((tx) => issueIn(tx, by, body, renews))

  async function createProductIn(tx: Executor, by: Principal, body: CreateProductBody): Promise<{ result: ProductView; ranges: CertifiedRange[] }> {
    const s = await mustSupplier(tx, body.supplierUscc.trim())
    if (s.blacklistedFrom !== null) throw supplierBlacklisted(s.uscc, s.blacklistedFrom)
    const row: ProductRow = {
      sku: body.sku,
      name: body.name,
      origin: body.origin ?? null,
      category: body.category ?? null,
      supplierUscc: s.uscc,
      priceFen: body.priceFen,
      scale: body.scale ?? null,
      annualOutput: body.annualOutput ?? null,
      supplyPeriod: body.supplyPeriod ?? null,
      priceRange: body.priceRange ?? null,
      operator: body.operator ?? null,
      householdsHelped: body.householdsHelped ?? null,
      materialSource: body.materialSource ?? null,
      createdAt: at(),
      updatedAt: at(),
    }
    // Every product is in the one catalog message cabinets receive (catalog-publisher.ts).
    if ((await store.product(tx, row.sku)) === null && (await store.productCount(tx)) >= CATALOG_MAX_ITEMS) throw catalogFull(CATALOG_MAX_ITEMS)
    if (!(await store.insertProduct(tx, row))) throw productExists(body.sku)
    await store.appendHistory(tx, { at: row.createdAt, actor: by.username, entity: 'product', entityId: row.sku, action: 'added', detail: { ...row } })
    log.info({ sku: row.sku, supplierUscc: s.uscc, by: by.username }, 'product added')
    return { result: await productView(tx, row, today()), ranges: [] }
  }

  async function patchProductIn(tx: Executor, by: Principal, sku: string, body: PatchProductBody): Promise<{ result: ProductView; ranges: CertifiedRange[] }> {
    const before = await mustProduct(tx, sku)
    const after: ProductRow = {
      ...before,
      name: body.name ?? before.name,
      priceFen: body.priceFen ?? before.priceFen,
      origin: body.origin ?? before.origin,
      category: body.category ?? before.category,
      scale: body.scale ?? before.scale,
      annualOutput: body.annualOutput ?? before.annualOutput,
      supplyPeriod: body.supplyPeriod ?? before.supplyPeriod,
      priceRange: body.priceRange ?? before.priceRange,
      operator: body.operator ?? before.operator,
      householdsHelped: body.householdsHelped ?? before.householdsHelped,
      materialSource: body.materialSource ?? before.materialSource,
      updatedAt: at(),
    }
    await store.updateProduct(tx, after)
    const changes: Record<string, unknown> = {}
    for (const k of PRODUCT_FIELDS) {
      if (JSON.stringify(before[k]) !== JSON.stringify(after[k])) changes[k] = { from: before[k], to: after[k] }
    }
    await store.appendHistory(tx, { at: after.updatedAt, actor: by.username, entity: 'product', entityId: sku, action: 'changed', detail: changes })
    return { result: await productView(tx, after, today()), ranges: [] }
  }

  /** Revokes from `from` unless already revoked on or before it; returns the range that changed, if any. */
  async function revokeRow(tx: Executor, by: Principal, c: CertificateRow, from: string, reason: string, action: string): Promise<CertifiedRange | null> {
    if (c.revokedFrom !== null && c.revokedFrom <= from) return null
    await store.revoke(tx, c.certificateNo, from, reason, at())
    await store.appendHistory(tx, {
      at: at(),
      actor: by.username,
      entity: 'certificate',
      entityId: c.certificateNo,
      action,
      detail: { revokedFrom: from, reason, previousRevokedFrom: c.revokedFrom, backdated: from < today() },
    })
    const to = c.revokedFrom !== null ? addDays(c.revokedFrom, -1) : c.validTo
    return from <= to ? { sku: c.sku, from, to } : null
  }

  return {
    async createSupplier(by, body) {
      const owner = supplierOwner(by, body)
      const uscc = body.uscc.trim()
      const problem = usccProblem(uscc)
      if (problem) throw invalidUscc(uscc, problem)
      const row = { uscc, name: body.name, contact: body.contact ?? null, phone: body.phone ?? null, address: body.address ?? null, ...owner, createdAt: at(), updatedAt: at() }
      return change(async (tx) => {
        if (!(await store.insertSupplier(tx, row))) throw supplierExists(uscc)
        await store.appendHistory(tx, { at: row.createdAt, actor: by.username, entity: 'supplier', entityId: uscc, action: 'registered', detail: { ...row } })
        log.info({ uscc, countyCode: row.countyCode, operator: row.operator, by: by.username }, 'supplier registered')
        return { result: supplierView(await mustSupplier(tx, uscc)), ranges: [] }
      })
    },

    async patchSupplier(by, uscc, body) {
      assertAdmin(by, 'change a supplier\'s county or operator')
      if (body.countyCode != null) assertKnownCounty(body.countyCode)
      const before = await mustSupplier(rd, uscc)
      const owner = { countyCode: body.countyCode === undefined ? before.countyCode : body.countyCode, operator: body.operator === undefined ? before.operator : body.operator }
      return change(async (tx) => {
        await store.updateSupplierOwner(tx, uscc, owner, at())
        await store.appendHistory(tx, { at: at(), actor: by.username, entity: 'supplier', entityId: uscc, action: 'owner_changed', detail: { from: { countyCode: before.countyCode, operator: before.operator }, to: owner } })
        return { result: supplierView(await mustSupplier(tx, uscc)), ranges: [] }
      })
    },

    async write(fn) {
      return change(async (tx) => {
        const ranges: CertifiedRange[] = []
        const collect = async <T>(r: Promise<{ result: T; ranges: CertifiedRange[] }>): Promise<T> => {
          const { result, ranges: moved } = await r
          ranges.push(...moved)
          return result
        }
        const result = await fn({
          tx,
          addProduct: (by, body) => collect(createProductIn(tx, by, body)),
          changeProduct: (by, sku, body) => collect(patchProductIn(tx, by, sku, body)),
          issueCertificate: (by, body, renews) => collect(issueIn(tx, by, body, renews)),
        })
        return { result, ranges }
      })
    },

    suppliers: async () => ({ suppliers: (await store.suppliers(rd)).map(supplierView) }),
    supplier: async (uscc) => supplierView(await mustSupplier(rd, uscc)),

    async blacklist(by, uscc, body) {
      assertAdmin(by, 'change the product catalog')
      const s = await mustSupplier(rd, uscc)
      const from = body.effectiveFrom ?? today()
      return change(async (tx) => {
        const ranges: CertifiedRange[] = []
        const revoked: string[] = []
        if (s.blacklistedFrom === null || from < s.blacklistedFrom) {
          await store.blacklist(tx, uscc, from, body.reason, at())
          await store.appendHistory(tx, { at: at(), actor: by.username, entity: 'supplier', entityId: uscc, action: 'blacklisted', detail: { from, reason: body.reason, previousFrom: s.blacklistedFrom } })
        }
        for (const c of await store.certificates(tx, { supplierUscc: uscc })) {
          const r = await revokeRow(tx, by, c, from, `扶贫失信黑名单: ${body.reason}`, 'revoked_by_blacklist')
          if (r) {
            ranges.push(r)
            revoked.push(c.certificateNo)
          }
        }
        log.warn({ uscc, from, revoked: revoked.length, by: by.username }, 'supplier blacklisted')
        return { result: { supplier: supplierView(await mustSupplier(tx, uscc)), revokedCertificates: revoked }, ranges }
      })
    },

    async createProduct(by, body) {
      assertAdmin(by, 'change the product catalog')
      return change((tx) => createProductIn(tx, by, body))
    },

    async patchProduct(by, sku, body) {
      assertAdmin(by, 'change the product catalog')
      await mustProduct(rd, sku)
      return change((tx) => patchProductIn(tx, by, sku, body))
    },

    async products(asOf) {
      const d = asOf ?? today()
      const [products, covering] = await Promise.all([store.products(rd), store.coveringOn(rd, d)])
      return {
        products: products.map((p): ProductView => {
          const certificateNo = covering.get(p.sku) ?? null
          return { ...p, isCertified: certificateNo !== null, certificateNo, asOf: d }
        }),
        asOf: d,
      }
    },

    async product(sku, asOf) {
      const d = asOf ?? today()
      const p = await mustProduct(rd, sku)
      return { ...(await productView(rd, p, d)), certificates: (await store.certificates(rd, { sku })).map((c) => certView(c, d)) }
    },

    async createCertificate(by, body) {
      assertAdmin(by, 'change the product catalog')
      return issue(by, body, null)
    },

    async renewCertificate(by, no, body) {
      assertAdmin(by, 'change the product catalog')
      const old = await mustCert(rd, no)
      return issue(by, { ...body, sku: old.sku, validFrom: body.validFrom ?? addDays(old.validTo, 1) }, old.certificateNo)
    },

    async revokeCertificate(by, no, body) {
      assertAdmin(by, 'change the product catalog')
      const c = await mustCert(rd, no)
      const from = body.effectiveFrom ?? today()
      if (c.revokedFrom !== null && c.revokedFrom < from) throw certRevocationInvalid(no, c.revokedFrom, from)
      return change(async (tx) => {
        const range = await revokeRow(tx, by, c, from, body.reason, 'revoked')
        if (range) log.warn({ certificateNo: no, sku: c.sku, revokedFrom: from, backdated: from < today(), by: by.username }, 'certificate revoked')
        return { result: certView(await mustCert(tx, no), today()), ranges: range ? [range] : [] }
      })
    },

    async certificates(q) {
      const d = q.asOf ?? today()
      const all = (await store.certificates(rd, { ...(q.sku && { sku: q.sku }), ...(q.supplierUscc && { supplierUscc: q.supplierUscc }) })).map((c) => certView(c, d))
      return { certificates: q.status ? all.filter((c) => c.status === q.status) : all, asOf: d }
    },

    certificate: async (no, asOf) => certView(await mustCert(rd, no), asOf ?? today()),

    history: async (q) => ({ entries: await store.history(rd, q.entity ?? null, q.id ?? null, q.limit) }),

    async expiring(asOf, withinDays) {
      const until = addDays(asOf, withinDays)
      const all = await store.certificates(rd)
      return all
        .filter((c) => certStatus(c, asOf) === 'valid' && c.validTo <= until)
        .filter((c) => !all.some((n) => n.sku === c.sku && n.certificateNo !== c.certificateNo && n.validTo > c.validTo && n.revokedFrom === null))
        .map((c) => certView(c, asOf))
    },
  }
}
