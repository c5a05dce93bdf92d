// Named reads of the catalog (certified_spans, products) for the compliance
// domain (issue 13: each table has one owner; others read it through the
// owner's queries).
import type { Executor } from '../db/database.js'

export interface CertifiedSpan {
  readonly certificateNo: string
  readonly sku: string
  readonly dayFrom: string
  readonly dayTo: string
}

/**
 * The certified day spans of every certificate, of one sku, or of the skus
 * given; empty spans (revoked from before they began) left out.
 */
export async function certifiedSpans(ex: Executor, skus?: string | readonly string[]): Promise<CertifiedSpan[]> {
  let q = ex.selectFrom('certified_spans').select(['certificate_no', 'sku', 'day_from', 'day_to']).whereRef('day_from', '<=', 'day_to')
  if (typeof skus === 'string') q = q.where('sku', '=', skus)
  else if (skus !== undefined) {
    if (skus.length === 0) return []
    q = q.where('sku', 'in', skus)
  }
  const rows = await q.execute()
  // The view's columns are typed nullable (views report so); certificates' are not.
  return rows.map((r) => ({ certificateNo: r.certificate_no!, sku: r.sku!, dayFrom: r.day_from!, dayTo: r.day_to! }))
}

/** sku → supplier USCC, for the skus given that exist. */
export async function suppliersOfProducts(ex: Executor, skus: readonly string[]): Promise<Map<string, string>> {
  if (skus.length === 0) return new Map()
  const rows = await ex.selectFrom('products').select(['sku', 'supplier_uscc']).where('sku', 'in', skus).execute()
  return new Map(rows.map((r) => [r.sku, r.supplier_uscc]))
}

/**
 * Locks the product rows of `skus` until `tx` ends (PostgreSQL; SQLite's one
 * writer needs no lock): catalog changes of one sku then apply their figures
 * one after the other. Locked in sku order, so two changes never wait on each
 * other in opposite orders.
 */
export async function lockProducts(tx: Executor, skus: readonly string[]): Promise<void> {
  if (skus.length === 0) return
  await tx.selectFrom('products').select('sku').where('sku', 'in', [...skus].sort()).orderBy('sku').forUpdate().execute()
}

/** Catalog figures of one county (a product's or certificate's county is its supplier's USCC division). */
export interface CountyCatalogFigures {
  certifiedProducts: number
  expiringCertificates: number
  inPublicity: number
}

/** What countyCatalogFigures reads: the catalog's and the workflow's own queries. */
export interface CountyCatalogSources {
  readonly products: (asOf: string) => Promise<ReadonlyArray<{ readonly supplierUscc: string; readonly isCertified: boolean }>>
  readonly expiring: (asOf: string, withinDays: number) => Promise<ReadonlyArray<{ readonly supplierUscc: string }>>
  /** Applications in 公示 now (or held during it by an objection): the county whose notice lists them, if the supplier names one. */
  readonly inPublicity: () => Promise<ReadonlyArray<{ readonly countyCode: string | null; readonly supplierUscc: string }>>
  /** A supplier's county: the division in its 统一社会信用代码 (the certified_products target counts this way). */
  readonly countyOf: (uscc: string) => string
}

/**
 * The report's catalog figures per county (issue 15): products certified on
 * `asOf`, certificates in force on `asOf` expiring within `withinDays` and not
 * renewed, applications in 公示 now. The same reads as GET /products,
 * the expiring-certificate alert and GET /certification/publicity, so the
 * figures equal what those show.
 */
export async function countyCatalogFigures(src: CountyCatalogSources, asOf: string, withinDays: number): Promise<Map<string, CountyCatalogFigures>> {
  const out = new Map<string, CountyCatalogFigures>()
  const of = (code: string): CountyCatalogFigures => {
    let f = out.get(code)
    if (!f) out.set(code, (f = { certifiedProducts: 0, expiringCertificates: 0, inPublicity: 0 }))
    return f
  }
  for (const p of await src.products(asOf)) if (p.isCertified) of(src.countyOf(p.supplierUscc)).certifiedProducts++
  for (const c of await src.expiring(asOf, withinDays)) of(src.countyOf(c.supplierUscc)).expiringCertificates++
  for (const a of await src.inPublicity()) of(a.countyCode ?? src.countyOf(a.supplierUscc)).inPublicity++
  return out
}
