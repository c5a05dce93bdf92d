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
  type ProductDetail,
  type ProductList,
  type ProductView,
  type RenewCertificateBody,
  type RevokeCertificateBody,
  type SupplierList,
  type SupplierView,
} from '../../../shared/src/index.js'
import { assertAdmin, type Principal } from '../access/index.js'
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
  supplierNotFound,
} from './errors.js'
import type { CatalogStore, CertificateRow, ProductRow, SupplierRow } from './store.js'

/** Days of one sku whose certification may have changed. */
export interface CertifiedRange {
  readonly sku: string
  readonly from: string
  readonly to: string
}

/** Months before expiry from which a renewal may be applied for (policy 002 四(二)). */
export const RENEWAL_WINDOW_MONTHS = 3
/** The catalogue is valid one year (policy 002 四(二)). */
export const CERT_VALIDITY_YEARS = 1

export interface CertificationService {
  createSupplier(by: Principal, body: CreateSupplierBody): SupplierView
  suppliers(): SupplierList
  supplier(uscc: string): SupplierView
  blacklist(by: Principal, uscc: string, body: BlacklistSupplierBody): BlacklistReply
  createProduct(by: Principal, body: CreateProductBody): ProductView
  patchProduct(by: Principal, sku: string, body: PatchProductBody): ProductView
  products(asOf?: string): ProductList
  product(sku: string, asOf?: string): ProductDetail
  createCertificate(by: Principal, body: CreateCertificateBody): CertificateView
  renewCertificate(by: Principal, no: string, body: RenewCertificateBody): CertificateView
  revokeCertificate(by: Principal, no: string, body: RevokeCertificateBody): CertificateView
  certificates(q: ListCertificatesQuery): CertificateList
  certificate(no: string, asOf?: string): CertificateView
  history(q: CatalogHistoryQuery): CatalogHistory
  /** Certificates in force on asOf that expire within `withinDays` and have no successor for the same product yet (for alerts). */
  expiring(asOf: string, withinDays: number): CertificateView[]
}

export interface CertificationServiceDeps {
  readonly store: CatalogStore
  readonly now: () => Date
  readonly log: Logger
  /**
   * Runs inside the change's transaction, after the change is written: bring
   * the certified figures of these skus up to date (compliance applyCatalogChange).
   */
  readonly certifiedChanged: (ranges: readonly CertifiedRange[]) => void
  /** That transaction rolled back after certifiedChanged ran: drop what it cached. */
  readonly rolledBack?: () => void
  /** After a committed change: republish catalogs, re-evaluate held forwarding. */
  readonly changed: () => void
}

export function certStatus(c: Pick<CertificateRow, 'validFrom' | 'validTo' | 'revokedFrom'>, asOf: string): CertStatus {
  if (c.revokedFrom !== null && c.revokedFrom <= asOf) return 'revoked'
  if (asOf < c.validFrom) return 'pending'
  if (asOf > c.validTo) return 'expired'
  return 'valid'
}

export function createCertificationService(deps: CertificationServiceDeps): CertificationService {
  const { store, log } = deps
  const today = () => shanghaiDate(deps.now())
  const at = () => deps.now().toISOString()

  const supplierView = (s: SupplierRow): SupplierView => ({ ...s })
  const certView = (c: CertificateRow, asOf: string): CertificateView => ({ ...c, status: certStatus(c, asOf) })
  const productView = (p: ProductRow, asOf: string): ProductView => {
    const certificateNo = store.coveringCertificate(p.sku, asOf)
    return { ...p, isCertified: certificateNo !== null, certificateNo, asOf }
  }

  function mustSupplier(uscc: string): SupplierRow {
    const s = store.supplier(uscc)
    if (!s) throw supplierNotFound(uscc)
    return s
  }
  function mustProduct(sku: string): ProductRow {
    const p = store.product(sku)
    if (!p) throw productNotFound(sku)
    return p
  }
  function mustCert(no: string): CertificateRow {
    const c = store.certificate(no)
    if (!c) throw certNotFound(no)
    return c
  }

  /** Writes a change atomically with its history and the figures it flips, then notifies. */
  function change<T>(fn: () => { result: T; ranges: CertifiedRange[] }): T {
    let applied = false
    let result: T
    try {
      ;({ result } = store.transaction(() => {
        const r = fn()
        if (r.ranges.length > 0) {
          applied = true
          deps.certifiedChanged(r.ranges)
        }
        return r
      }))
    } catch (err) {
      if (applied) deps.rolledBack?.()
      throw err
    }
    deps.changed()
    return result
  }

  function issue(by: Principal, body: { sku: string; certificateNo: string; validFrom: string; validTo?: string | undefined; level?: CreateCertificateBody['level'] }, renews: string | null): CertificateView {
    const product = mustProduct(body.sku)
    const supplier = mustSupplier(product.supplierUscc)
    if (supplier.blacklistedFrom !== null) throw supplierBlacklisted(supplier.uscc, supplier.blacklistedFrom)
    const validTo = body.validTo ?? plusYearsInclusive(body.validFrom, CERT_VALIDITY_YEARS)
    const maxTo = plusYearsInclusive(body.validFrom, CERT_VALIDITY_YEARS)
    if (validTo < body.validFrom) {
      throw certValidityInvalid(`validTo ${validTo} is before validFrom ${body.validFrom}`, { validFrom: body.validFrom, validTo })
    }
    if (validTo > maxTo) {
      throw certValidityInvalid(`a certificate is valid at most one year: from ${body.validFrom} it may run to ${maxTo}, not ${validTo}`, { validFrom: body.validFrom, validTo, maxValidTo: maxTo })
    }
    // Re-application only from three months before the current certificate expires.
    const d = today()
    for (const c of store.certificates({ sku: body.sku })) {
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
    return change(() => {
      if (!store.insertCertificate(row)) throw certExists(body.certificateNo)
      store.appendHistory({ at: row.createdAt, actor: by.username, entity: 'certificate', entityId: row.certificateNo, action: renews ? 'renewed' : 'issued', detail: { ...row } })
      log.info({ certificateNo: row.certificateNo, sku: row.sku, validFrom: row.validFrom, validTo, by: by.username }, 'certificate issued')
      return { result: certView(mustCert(row.certificateNo), d), ranges: [{ sku: row.sku, from: row.validFrom, to: row.validTo }] }
    })
  }

  /** Revokes from `from` unless already revoked on or before it; returns the range that changed, if any. */
  function revokeRow(by: Principal, c: CertificateRow, from: string, reason: string, action: string): CertifiedRange | null {
    if (c.revokedFrom !== null && c.revokedFrom <= from) return null
    store.revoke(c.certificateNo, from, reason, at())
    store.appendHistory({
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
    createSupplier(by, body) {
      assertAdmin(by, 'change the product catalog')
      const uscc = body.uscc.trim()
      const problem = usccProblem(uscc)
      if (problem) throw invalidUscc(uscc, problem)
      const row = { uscc, name: body.name, contact: body.contact ?? null, phone: body.phone ?? null, address: body.address ?? null, createdAt: at(), updatedAt: at() }
      return change(() => {
        if (!store.insertSupplier(row)) throw supplierExists(uscc)
        store.appendHistory({ at: row.createdAt, actor: by.username, entity: 'supplier', entityId: uscc, action: 'registered', detail: { ...row } })
        log.info({ uscc, by: by.username }, 'supplier registered')
        return { result: supplierView(mustSupplier(uscc)), ranges: [] }
      })
    },

    suppliers: () => ({ suppliers: store.suppliers().map(supplierView) }),
    supplier: (uscc) => supplierView(mustSupplier(uscc)),

    blacklist(by, uscc, body) {
      assertAdmin(by, 'change the product catalog')
      const s = mustSupplier(uscc)
      const from = body.effectiveFrom ?? today()
      return change(() => {
        const ranges: CertifiedRange[] = []
        const revoked: string[] = []
        if (s.blacklistedFrom === null || from < s.blacklistedFrom) {
          store.blacklist(uscc, from, body.reason, at())
          store.appendHistory({ at: at(), actor: by.username, entity: 'supplier', entityId: uscc, action: 'blacklisted', detail: { from, reason: body.reason, previousFrom: s.blacklistedFrom } })
        }
        for (const c of store.certificates({ supplierUscc: uscc })) {
          const r = revokeRow(by, c, from, `扶贫失信黑名单: ${body.reason}`, 'revoked_by_blacklist')
          if (r) {
            ranges.push(r)
            revoked.push(c.certificateNo)
          }
        }
        log.warn({ uscc, from, revoked: revoked.length, by: by.username }, 'supplier blacklisted')
        return { result: { supplier: supplierView(mustSupplier(uscc)), revokedCertificates: revoked }, ranges }
      })
    },

    createProduct(by, body) {
      assertAdmin(by, 'change the product catalog')
      const s = mustSupplier(body.supplierUscc.trim())
      if (s.blacklistedFrom !== null) throw supplierBlacklisted(s.uscc, s.blacklistedFrom)
      const row: ProductRow = {
        sku: body.sku,
        name: body.name,
        origin: body.origin ?? null,
        category: body.category ?? null,
        supplierUscc: s.uscc,
        priceFen: body.priceFen,
        createdAt: at(),
        updatedAt: at(),
      }
      return change(() => {
        // Every product is in the one catalog message cabinets receive (catalog-publisher.ts).
        if (store.product(row.sku) === null && store.productCount() >= CATALOG_MAX_ITEMS) throw catalogFull(CATALOG_MAX_ITEMS)
        if (!store.insertProduct(row)) throw productExists(body.sku)
        store.appendHistory({ at: row.createdAt, actor: by.username, entity: 'product', entityId: row.sku, action: 'added', detail: { ...row } })
        log.info({ sku: row.sku, supplierUscc: s.uscc, by: by.username }, 'product added')
        return { result: productView(row, today()), ranges: [] }
      })
    },

    patchProduct(by, sku, body) {
      assertAdmin(by, 'change the product catalog')
      const before = mustProduct(sku)
      const after: ProductRow = {
        ...before,
        name: body.name ?? before.name,
        priceFen: body.priceFen ?? before.priceFen,
        origin: body.origin ?? before.origin,
        category: body.category ?? before.category,
        updatedAt: at(),
      }
      return change(() => {
        store.updateProduct(after)
        const changes: Record<string, unknown> = {}
        for (const k of ['name', 'priceFen', 'origin', 'category'] as const) {
          if (before[k] !== after[k]) changes[k] = { from: before[k], to: after[k] }
        }
        store.appendHistory({ at: after.updatedAt, actor: by.username, entity: 'product', entityId: sku, action: 'changed', detail: changes })
        return { result: productView(after, today()), ranges: [] }
      })
    },

    products(asOf) {
      const d = asOf ?? today()
      return { products: store.products().map((p) => productView(p, d)), asOf: d }
    },

    product(sku, asOf) {
      const d = asOf ?? today()
      return { ...productView(mustProduct(sku), d), certificates: store.certificates({ sku }).map((c) => certView(c, d)) }
    },

    createCertificate(by, body) {
      assertAdmin(by, 'change the product catalog')
      return issue(by, body, null)
    },

    renewCertificate(by, no, body) {
      assertAdmin(by, 'change the product catalog')
      const old = mustCert(no)
      return issue(by, { ...body, sku: old.sku, validFrom: body.validFrom ?? addDays(old.validTo, 1) }, old.certificateNo)
    },

    revokeCertificate(by, no, body) {
      assertAdmin(by, 'change the product catalog')
      const c = mustCert(no)
      const from = body.effectiveFrom ?? today()
      if (c.revokedFrom !== null && c.revokedFrom < from) throw certRevocationInvalid(no, c.revokedFrom, from)
      return change(() => {
        const range = revokeRow(by, c, from, body.reason, 'revoked')
        if (range) log.warn({ certificateNo: no, sku: c.sku, revokedFrom: from, backdated: from < today(), by: by.username }, 'certificate revoked')
        return { result: certView(mustCert(no), today()), ranges: range ? [range] : [] }
      })
    },

    certificates(q) {
      const d = q.asOf ?? today()
      const all = store.certificates({ ...(q.sku && { sku: q.sku }), ...(q.supplierUscc && { supplierUscc: q.supplierUscc }) }).map((c) => certView(c, d))
      return { certificates: q.status ? all.filter((c) => c.status === q.status) : all, asOf: d }
    },

    certificate: (no, asOf) => certView(mustCert(no), asOf ?? today()),

    history: (q) => ({ entries: store.history(q.entity ?? null, q.id ?? null, q.limit) }),

    expiring(asOf, withinDays) {
      const until = addDays(asOf, withinDays)
      const all = store.certificates()
      return all
        .filter((c) => certStatus(c, asOf) === 'valid' && c.validTo <= until)
        .filter((c) => !all.some((n) => n.sku === c.sku && n.certificateNo !== c.certificateNo && n.validTo > c.validTo && n.revokedFrom === null))
        .map((c) => certView(c, asOf))
    },
  }
}
