// SQL for the catalog: suppliers, products, certificates, their history and
// the catalogs published to cabinets. Synchronous (better-sqlite3): the service
// runs a change, its history and the invalidation of derived figures in one
// transaction.
import type { CatalogItem, CertLevel } from '../../../shared/src/index.js'
import type { Db } from '../db/index.js'

export interface SupplierRow {
  readonly uscc: string
  readonly name: string
  readonly contact: string | null
  readonly phone: string | null
  readonly address: string | null
  readonly blacklistedFrom: string | null
  readonly blacklistReason: string | null
  readonly createdAt: string
  readonly updatedAt: string
}

export interface ProductRow {
  readonly sku: string
  readonly name: string
  readonly origin: string | null
  readonly category: string | null
  readonly supplierUscc: string
  readonly priceFen: number
  readonly createdAt: string
  readonly updatedAt: string
}

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

export type CatalogStore = ReturnType<typeof createSqliteCatalogStore>

export function createSqliteCatalogStore(db: Db) {
  const insertSupplier = db.prepare(
    `INSERT INTO suppliers (uscc, name, contact, phone, address, created_at, updated_at)
     VALUES (@uscc, @name, @contact, @phone, @address, @createdAt, @updatedAt) ON CONFLICT (uscc) DO NOTHING`,
  )
  const supplierCols = `uscc, name, contact, phone, address, blacklisted_from AS blacklistedFrom, blacklist_reason AS blacklistReason,
    created_at AS createdAt, updated_at AS updatedAt`
  const getSupplier = db.prepare<[string], SupplierRow>(`SELECT ${supplierCols} FROM suppliers WHERE uscc = ?`)
  const listSuppliers = db.prepare<[], SupplierRow>(`SELECT ${supplierCols} FROM suppliers ORDER BY uscc`)
  const blacklist = db.prepare<[string, string, string, string]>(
    'UPDATE suppliers SET blacklisted_from = ?, blacklist_reason = ?, updated_at = ? WHERE uscc = ?',
  )

  const insertProduct = db.prepare(
    `INSERT INTO products (sku, name, origin, category, supplier_uscc, price_fen, created_at, updated_at)
     VALUES (@sku, @name, @origin, @category, @supplierUscc, @priceFen, @createdAt, @updatedAt) ON CONFLICT (sku) DO NOTHING`,
  )
  const productCols = `sku, name, origin, category, supplier_uscc AS supplierUscc, price_fen AS priceFen, created_at AS createdAt, updated_at AS updatedAt`
  const getProduct = db.prepare<[string], ProductRow>(`SELECT ${productCols} FROM products WHERE sku = ?`)
  const listProducts = db.prepare<[], ProductRow>(`SELECT ${productCols} FROM products ORDER BY sku`)
  const countProducts = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM products')
  const updateProduct = db.prepare(
    `UPDATE products SET name = @name, origin = @origin, category = @category, price_fen = @priceFen, updated_at = @updatedAt WHERE sku = @sku`,
  )

  const certCols = `c.certificate_no AS certificateNo, c.sku, p.supplier_uscc AS supplierUscc, c.level, c.valid_from AS validFrom,
    c.valid_to AS validTo, c.revoked_from AS revokedFrom, c.revoke_reason AS revokeReason, c.renews,
    c.created_at AS createdAt, c.updated_at AS updatedAt`
  const certFrom = 'FROM certificates c JOIN products p ON p.sku = c.sku'
  const insertCert = db.prepare(
    `INSERT INTO certificates (certificate_no, sku, level, valid_from, valid_to, renews, created_at, updated_at)
     VALUES (@certificateNo, @sku, @level, @validFrom, @validTo, @renews, @createdAt, @updatedAt) ON CONFLICT (certificate_no) DO NOTHING`,
  )
  const getCert = db.prepare<[string], CertificateRow>(`SELECT ${certCols} ${certFrom} WHERE c.certificate_no = ?`)
  const listCerts = db.prepare<[{ sku: string | null; supplier: string | null }], CertificateRow>(
    `SELECT ${certCols} ${certFrom} WHERE (@sku IS NULL OR c.sku = @sku) AND (@supplier IS NULL OR p.supplier_uscc = @supplier)
     ORDER BY c.sku, c.valid_from, c.certificate_no`,
  )
  const revoke = db.prepare<[string, string, string, string]>(
    'UPDATE certificates SET revoked_from = ?, revoke_reason = ?, updated_at = ? WHERE certificate_no = ?',
  )
  // The certificate that makes a product certified on a day: the latest-starting covering one.
  const coveringOn = db.prepare<[string, string], { certificate_no: string }>(
    `SELECT certificate_no FROM certified_spans WHERE sku = ? AND ? BETWEEN day_from AND day_to ORDER BY day_from DESC, certificate_no LIMIT 1`,
  )
  const coveringAll = db.prepare<[string], { sku: string; certificate_no: string }>(
    `SELECT sku, certificate_no FROM certified_spans WHERE ? BETWEEN day_from AND day_to ORDER BY sku, day_from DESC, certificate_no`,
  )

  const insertHistory = db.prepare(
    `INSERT INTO catalog_history (at, actor, entity, entity_id, action, detail) VALUES (@at, @actor, @entity, @entityId, @action, @detail)`,
  )
  const listHistory = db.prepare<[{ entity: string | null; id: string | null; limit: number }], Omit<HistoryRow, 'detail'> & { detail: string }>(
    `SELECT id, at, actor, entity, entity_id AS entityId, action, detail FROM catalog_history
     WHERE (@entity IS NULL OR entity = @entity) AND (@id IS NULL OR entity_id = @id) ORDER BY id DESC LIMIT @limit`,
  )

  const latestCatalog = db.prepare<[], { version: number; hash: string; issued_at: string; items: string }>(
    'SELECT version, hash, issued_at, items FROM catalog_versions ORDER BY version DESC LIMIT 1',
  )
  const insertCatalog = db.prepare<[number, string, string, string]>('INSERT INTO catalog_versions (version, hash, issued_at, items) VALUES (?, ?, ?, ?)')
  const liveCabinets = db.prepare<[], { cabinet_id: string }>("SELECT cabinet_id FROM cabinets WHERE status != 'retired' ORDER BY cabinet_id")
  const cabinetExists = db.prepare<[string], { status: string }>('SELECT status FROM cabinets WHERE cabinet_id = ?')

  return {
    transaction: <T>(fn: () => T): T => db.transaction(fn)(),

    insertSupplier: (s: Omit<SupplierRow, 'blacklistedFrom' | 'blacklistReason'>): boolean => insertSupplier.run(s).changes === 1,
    supplier: (uscc: string): SupplierRow | null => getSupplier.get(uscc) ?? null,
    suppliers: (): SupplierRow[] => listSuppliers.all(),
    blacklist: (uscc: string, from: string, reason: string, at: string): void => void blacklist.run(from, reason, at, uscc),

    insertProduct: (p: ProductRow): boolean => insertProduct.run(p).changes === 1,
    product: (sku: string): ProductRow | null => getProduct.get(sku) ?? null,
    products: (): ProductRow[] => listProducts.all(),
    productCount: (): number => countProducts.get()!.n,
    updateProduct: (p: ProductRow): void => void updateProduct.run(p),

    insertCertificate: (c: Omit<CertificateRow, 'supplierUscc' | 'revokedFrom' | 'revokeReason'>): boolean => insertCert.run(c).changes === 1,
    certificate: (no: string): CertificateRow | null => getCert.get(no) ?? null,
    certificates: (f: CertificateFilter = {}): CertificateRow[] => listCerts.all({ sku: f.sku ?? null, supplier: f.supplierUscc ?? null }),
    revoke: (no: string, from: string, reason: string, at: string): void => void revoke.run(from, reason, at, no),
    coveringCertificate: (sku: string, day: string): string | null => coveringOn.get(sku, day)?.certificate_no ?? null,
    /** sku → the certificate covering `day`, for every certified sku. */
    coveringOn(day: string): Map<string, string> {
      const m = new Map<string, string>()
      for (const r of coveringAll.all(day)) if (!m.has(r.sku)) m.set(r.sku, r.certificate_no)
      return m
    },

    appendHistory(h: Omit<HistoryRow, 'id'>): void {
      insertHistory.run({ ...h, detail: JSON.stringify(h.detail) })
    },
    history(entity: string | null, id: string | null, limit: number): HistoryRow[] {
      return listHistory.all({ entity, id, limit }).map((r) => ({ ...r, detail: JSON.parse(r.detail) as Record<string, unknown> }))
    },

    latestCatalog(): PublishedCatalog | null {
      const r = latestCatalog.get()
      return r ? { version: r.version, hash: r.hash, issuedAt: r.issued_at, items: JSON.parse(r.items) as CatalogItem[] } : null
    },
    insertCatalog: (c: PublishedCatalog): void => void insertCatalog.run(c.version, c.hash, c.issuedAt, JSON.stringify(c.items)),
    liveCabinetIds: (): string[] => liveCabinets.all().map((r) => r.cabinet_id),
    isLiveCabinet: (cabinetId: string): boolean => {
      const r = cabinetExists.get(cabinetId)
      return r !== undefined && r.status !== 'retired'
    },
  }
}
