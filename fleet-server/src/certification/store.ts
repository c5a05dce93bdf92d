// SQL for the catalog: suppliers, products, certificates, their history and
// the catalogs published to cabinets, on SQLite or PostgreSQL (issue 13).
// Every method takes the executor it runs on: the service runs a change, its
// history and the update of the figures it flips in one transaction, and
// plain reads on the database.
import { sql } from 'kysely'
import type { CatalogItem, CertLevel, ProductFactsView } from '../../../shared/src/index.js'
import type { Executor } from '../db/database.js'

export interface SupplierRow {
  readonly uscc: string
  readonly name: string
  readonly contact: string | null
  readonly phone: string | null
  readonly address: string | null
  readonly blacklistedFrom: string | null
  readonly blacklistReason: string | null
  readonly countyCode: string | null
  readonly operator: string | null
  readonly createdAt: string
  readonly updatedAt: string
}

/** A product with the policy's facts (issue 15; product_facts, null where not given). */
export interface ProductRow extends ProductFactsView {
  readonly sku: string
  readonly name: string
  readonly origin: string | null
  readonly category: string | null
  readonly supplierUscc: string
  readonly priceFen: number
  readonly createdAt: string
  readonly updatedAt: string
}

export const NO_FACTS: ProductFactsView = { scale: null, annualOutput: null, supplyPeriod: null, priceRange: null, operator: null, householdsHelped: null, materialSource: null }

export interface CertificateRow {
  readonly certificateNo: string
  readonly sku: string
  readonly supplierUscc: string
  readonly level: CertLevel
  readonly validFrom: string
  readonly validTo: string
  readonly revokedFrom: string | null
  readonly revokeReason: string | null
  readonly renews: string | null
  readonly createdAt: string
  readonly updatedAt: string
}

export interface HistoryRow {
  readonly id: number
  readonly at: string
  readonly actor: string
  readonly entity: 'supplier' | 'product' | 'certificate'
  readonly entityId: string
  readonly action: string
  readonly detail: Record<string, unknown>
}

export interface PublishedCatalog {
  readonly version: number
  readonly hash: string
  readonly issuedAt: string
  readonly items: CatalogItem[]
}

export interface CertificateFilter {
  readonly sku?: string
  readonly supplierUscc?: string
}

export interface CatalogStore {
  /** False when the supplier already exists. */
  insertSupplier(ex: Executor, s: Omit<SupplierRow, 'blacklistedFrom' | 'blacklistReason'>): Promise<boolean>
  supplier(ex: Executor, uscc: string): Promise<SupplierRow | null>
  suppliers(ex: Executor): Promise<SupplierRow[]>
  blacklist(ex: Executor, uscc: string, from: string, reason: string, at: string): Promise<void>
  /** Sets the registration county and registering operator (issue 15). */
  updateSupplierOwner(ex: Executor, uscc: string, owner: { countyCode: string | null; operator: string | null }, at: string): Promise<void>

  /** False when the product already exists. */
  insertProduct(ex: Executor, p: ProductRow): Promise<boolean>
  product(ex: Executor, sku: string): Promise<ProductRow | null>
  products(ex: Executor): Promise<ProductRow[]>
  productCount(ex: Executor): Promise<number>
  updateProduct(ex: Executor, p: ProductRow): Promise<void>

  /** False when the certificate number is taken. */
  insertCertificate(ex: Executor, c: Omit<CertificateRow, 'supplierUscc' | 'revokedFrom' | 'revokeReason'>): Promise<boolean>
  certificate(ex: Executor, no: string): Promise<CertificateRow | null>
  certificates(ex: Executor, f?: CertificateFilter): Promise<CertificateRow[]>
  revoke(ex: Executor, no: string, from: string, reason: string, at: string): Promise<void>
  /** The certificate that makes a product certified on a day: the latest-starting covering one. */
  coveringCertificate(ex: Executor, sku: string, day: string): Promise<string | null>
  /** sku → the certificate covering `day`, for every certified sku. */
  coveringOn(ex: Executor, day: string): Promise<Map<string, string>>

  appendHistory(ex: Executor, h: Omit<HistoryRow, 'id'>): Promise<void>
  history(ex: Executor, entity: string | null, id: string | null, limit: number): Promise<HistoryRow[]>

  latestCatalog(ex: Executor): Promise<PublishedCatalog | null>
  insertCatalog(ex: Executor, c: PublishedCatalog): Promise<void>
}

const inserted = (r: { numInsertedOrUpdatedRows?: bigint | undefined }): boolean => Number(r.numInsertedOrUpdatedRows ?? 0) === 1

export function createCatalogStore(): CatalogStore {
  const suppliers = (ex: Executor) =>
    ex
      .selectFrom('suppliers as s')
      .leftJoin('supplier_owners as o', 'o.uscc', 's.uscc')
      .select([
        's.uscc',
        's.name',
        's.contact',
        's.phone',
        's.address',
        's.blacklisted_from as blacklistedFrom',
        's.blacklist_reason as blacklistReason',
        'o.county_code as countyCode',
        'o.operator',
        's.created_at as createdAt',
        's.updated_at as updatedAt',
      ])
  const products = (ex: Executor) =>
    ex
      .selectFrom('products as p')
      .leftJoin('product_facts as f', 'f.sku', 'p.sku')
      .select([
        'p.sku',
        'p.name',
        'p.origin',
        'p.category',
        'p.supplier_uscc as supplierUscc',
        'p.price_fen as priceFen',
        'p.created_at as createdAt',
        'p.updated_at as updatedAt',
        'f.scale',
        'f.annual_output as annualOutput',
        'f.supply_period as supplyPeriod',
        'f.price_min_fen as priceMinFen',
        'f.price_max_fen as priceMaxFen',
        'f.operator',
        'f.households_helped as householdsHelped',
        'f.material_source as materialSource',
      ])
  type Joined = Awaited<ReturnType<ReturnType<typeof products>['executeTakeFirstOrThrow']>>
  const asProduct = ({ priceMinFen, priceMaxFen, ...r }: Joined): ProductRow => ({
    ...r,
    scale: r.scale ?? null,
    annualOutput: r.annualOutput ?? null,
    supplyPeriod: r.supplyPeriod ?? null,
    priceRange: priceMinFen != null && priceMaxFen != null ? { minFen: Number(priceMinFen), maxFen: Number(priceMaxFen) } : null,
    operator: r.operator ?? null,
    householdsHelped: r.householdsHelped == null ? null : Number(r.householdsHelped),
    materialSource: r.materialSource ?? null,
  })
  const hasFacts = (p: ProductFactsView): boolean => Object.values(p).some((v) => v !== null)
  const factsRow = (p: ProductRow) => ({
    scale: p.scale,
    annual_output: p.annualOutput,
    supply_period: p.supplyPeriod,
    price_min_fen: p.priceRange?.minFen ?? null,
    price_max_fen: p.priceRange?.maxFen ?? null,
    operator: p.operator,
    households_helped: p.householdsHelped,
    material_source: p.materialSource,
    updated_at: p.updatedAt,
  })
  const factsOf = (p: ProductRow): ProductFactsView => ({
    scale: p.scale,
    annualOutput: p.annualOutput,
    supplyPeriod: p.supplyPeriod,
    priceRange: p.priceRange,
    operator: p.operator,
    householdsHelped: p.householdsHelped,
    materialSource: p.materialSource,
  })
  const certs = (ex: Executor) =>
    ex
      .selectFrom('certificates as c')
      .innerJoin('products as p', 'p.sku', 'c.sku')
      .select([
        'c.certificate_no as certificateNo',
        'c.sku',
        'p.supplier_uscc as supplierUscc',
        'c.level',
        'c.valid_from as validFrom',
        'c.valid_to as validTo',
        'c.revoked_from as revokedFrom',
        'c.revoke_reason as revokeReason',
        'c.renews',
        'c.created_at as createdAt',
        'c.updated_at as updatedAt',
      ])
  const asCert = (r: Omit<CertificateRow, 'level'> & { level: string }): CertificateRow => ({ ...r, level: r.level as CertLevel })

  return {
    async insertSupplier(ex, s) {
      const r = await ex
        .insertInto('suppliers')
        .values({ uscc: s.uscc, name: s.name, contact: s.contact, phone: s.phone, address: s.address, created_at: s.createdAt, updated_at: s.updatedAt })
        .onConflict((oc) => oc.column('uscc').doNothing())
        .executeTakeFirst()
      if (!inserted(r)) return false
      if (s.countyCode !== null || s.operator !== null) {
        await ex.insertInto('supplier_owners').values({ uscc: s.uscc, county_code: s.countyCode, operator: s.operator, updated_at: s.createdAt }).execute()
      }
      return true
    },
    supplier: async (ex, uscc) => (await suppliers(ex).where('s.uscc', '=', uscc).executeTakeFirst()) ?? null,
    suppliers: (ex) => suppliers(ex).orderBy('s.uscc').execute(),
    async blacklist(ex, uscc, from, reason, at) {
      await ex.updateTable('suppliers').set({ blacklisted_from: from, blacklist_reason: reason, updated_at: at }).where('uscc', '=', uscc).execute()
    },
    async updateSupplierOwner(ex, uscc, owner, at) {
      await ex
        .insertInto('supplier_owners')
        .values({ uscc, county_code: owner.countyCode, operator: owner.operator, updated_at: at })
        .onConflict((oc) => oc.column('uscc').doUpdateSet({ county_code: owner.countyCode, operator: owner.operator, updated_at: at }))
        .execute()
      await ex.updateTable('suppliers').set({ updated_at: at }).where('uscc', '=', uscc).execute()
    },

    async insertProduct(ex, p) {
      const r = await ex
        .insertInto('products')
        .values({ sku: p.sku, name: p.name, origin: p.origin, category: p.category, supplier_uscc: p.supplierUscc, price_fen: p.priceFen, created_at: p.createdAt, updated_at: p.updatedAt })
        .onConflict((oc) => oc.column('sku').doNothing())
        .executeTakeFirst()
      if (!inserted(r)) return false
      if (hasFacts(factsOf(p))) await ex.insertInto('product_facts').values({ sku: p.sku, ...factsRow(p) }).execute()
      return true
    },
    async product(ex, sku) {
      const r = await products(ex).where('p.sku', '=', sku).executeTakeFirst()
      return r ? asProduct(r) : null
    },
    products: async (ex) => (await products(ex).orderBy('p.sku').execute()).map(asProduct),
    async productCount(ex) {
      const r = await ex.selectFrom('products').select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow()
      return Number(r.n)
    },
    async updateProduct(ex, p) {
      await ex.updateTable('products').set({ name: p.name, origin: p.origin, category: p.category, price_fen: p.priceFen, updated_at: p.updatedAt }).where('sku', '=', p.sku).execute()
      if (!hasFacts(factsOf(p))) return
      const facts = factsRow(p)
      await ex
        .insertInto('product_facts')
        .values({ sku: p.sku, ...facts })
        .onConflict((oc) => oc.column('sku').doUpdateSet(facts))
        .execute()
    },

    async insertCertificate(ex, c) {
      const r = await ex
        .insertInto('certificates')
        .values({ certificate_no: c.certificateNo, sku: c.sku, level: c.level, valid_from: c.validFrom, valid_to: c.validTo, renews: c.renews, created_at: c.createdAt, updated_at: c.updatedAt })
        .onConflict((oc) => oc.column('certificate_no').doNothing())
        .executeTakeFirst()
      return inserted(r)
    },
    async certificate(ex, no) {
      const r = await certs(ex).where('c.certificate_no', '=', no).executeTakeFirst()
      return r ? asCert(r) : null
    },
    async certificates(ex, f = {}) {
      let q = certs(ex)
      if (f.sku !== undefined) q = q.where('c.sku', '=', f.sku)
      if (f.supplierUscc !== undefined) q = q.where('p.supplier_uscc', '=', f.supplierUscc)
      return (await q.orderBy('c.sku').orderBy('c.valid_from').orderBy('c.certificate_no').execute()).map(asCert)
    },
    async revoke(ex, no, from, reason, at) {
      await ex.updateTable('certificates').set({ revoked_from: from, revoke_reason: reason, updated_at: at }).where('certificate_no', '=', no).execute()
    },
    async coveringCertificate(ex, sku, day) {
      const r = await ex
        .selectFrom('certified_spans')
        .select('certificate_no')
        .where('sku', '=', sku)
        .where('day_from', '<=', day)
        .where('day_to', '>=', day)
        .orderBy('day_from', 'desc')
        .orderBy('certificate_no')
        .limit(1)
        .executeTakeFirst()
      return r?.certificate_no ?? null
    },
    async coveringOn(ex, day) {
      const rows = await ex
        .selectFrom('certified_spans')
        .select(['sku', 'certificate_no'])
        .where('day_from', '<=', day)
        .where('day_to', '>=', day)
        .orderBy('sku')
        .orderBy('day_from', 'desc')
        .orderBy('certificate_no')
        .execute()
      const m = new Map<string, string>()
      for (const r of rows) if (!m.has(r.sku!)) m.set(r.sku!, r.certificate_no!)
      return m
    },

    async appendHistory(ex, h) {
      await ex.insertInto('catalog_history').values({ at: h.at, actor: h.actor, entity: h.entity, entity_id: h.entityId, action: h.action, detail: JSON.stringify(h.detail) }).execute()
    },
    async history(ex, entity, id, limit) {
      let q = ex.selectFrom('catalog_history').select(['id', 'at', 'actor', 'entity', 'entity_id', 'action', 'detail'])
      if (entity !== null) q = q.where('entity', '=', entity)
      if (id !== null) q = q.where('entity_id', '=', id)
      const rows = await q.orderBy('id', 'desc').limit(limit).execute()
      return rows.map((r) => ({
        id: r.id,
        at: r.at,
        actor: r.actor,
        entity: r.entity as HistoryRow['entity'],
        entityId: r.entity_id,
        action: r.action,
        detail: JSON.parse(r.detail) as Record<string, unknown>,
      }))
    },

    async latestCatalog(ex) {
      const r = await ex.selectFrom('catalog_versions').select(['version', 'hash', 'issued_at', 'items']).orderBy('version', 'desc').limit(1).executeTakeFirst()
      return r ? { version: r.version, hash: r.hash, issuedAt: r.issued_at, items: JSON.parse(r.items) as CatalogItem[] } : null
    },
    async insertCatalog(ex, c) {
      await ex.insertInto('catalog_versions').values({ version: c.version, hash: c.hash, issued_at: c.issuedAt, items: JSON.stringify(c.items) }).execute()
    },
  }
}
