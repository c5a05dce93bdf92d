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
