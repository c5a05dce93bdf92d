// The catalog's SQL on both engines, through the certification service (no
// fleet, no HTTP): the same changes on a SQLite file and a PostgreSQL database
// give the same rows, conflicts and history; a change and the figures it
// flips commit together or not at all; and the published catalog versions.
// On PostgreSQL also: a catalog published by one server reaches another
// server on the same database, which sends it to its own cabinets.
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Principal } from '../../../fleet-server/src/access/index.js'
import { createCatalogPublisher, createCatalogStore, createCertificationService, type CertificationService } from '../../../fleet-server/src/certification/index.js'
import { createComplianceStore, type ComplianceStore } from '../../../fleet-server/src/compliance/index.js'
import { openFleetDb, type FleetDb } from '../../../fleet-server/src/db/database.js'
import { topics } from '../../../shared/src/index.js'
import { tempDir } from '../../helpers/fleet.js'
import { startPostgres, type Postgres } from '../../helpers/postgres.js'
import { aUscc } from '../certification.fixtures.js'

const log = pino({ level: 'silent' })
const ADMIN: Principal = { userId: 'u-admin', username: 'admin', role: 'admin', countyCode: null, operator: null }
const now = () => new Date('2020-10-10T02:00:00Z')
const AT = '2020-10-10T00:00:00.000Z'

describe.each(['sqlite', 'postgres'] as const)('catalog on %s', (engine) => {
  let pgServer: Postgres | null = null
  const cleanup: Array<() => Promise<void> | void> = []
  beforeAll(async () => {
    if (engine === 'postgres') pgServer = await startPostgres()
  })
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c()
    await pgServer?.close()
  })
  let n = 0
  const open = async (opts: { failFigures?: () => boolean; url?: string } = {}) => {
    const url = opts.url ?? (engine === 'postgres' ? await pgServer!.newDatabase(`k${++n}`) : await tempDir())
    const db: FleetDb = await openFleetDb(engine === 'postgres' ? { dialect: 'postgres', url } : { dialect: 'sqlite', dataDir: url }, log)
    cleanup.push(() => db.close())
    const figures: ComplianceStore = await createComplianceStore(db, { log })
    cleanup.push(() => figures.close())
    const store = createCatalogStore()
    const published: string[] = []
    const catalog = await createCatalogPublisher({ db, store, publish: (topic) => void published.push(topic), now, log })
    const svc: CertificationService = createCertificationService({
      db,
      store,
      now,
      log,
      certifiedChanged: async (tx, ranges) => {
        await figures.applyCatalogChange(tx, ranges.map((r) => r.sku))
        if (opts.failFigures?.()) throw new Error('figures failed')
      },
      changed: async () => void (await catalog.refresh()),
    })
    return { db, figures, svc, catalog, published, url }
  }

  it('writes, reads and refuses duplicates the same way', async () => {
    const { svc, catalog } = await open()
    await svc.createSupplier(ADMIN, { uscc: aUscc(1), name: '合作社' })
    await expect(svc.createSupplier(ADMIN, { uscc: aUscc(1), name: '又一个' })).rejects.toMatchObject({ code: 'SUPPLIER_EXISTS' })
    await svc.createProduct(ADMIN, { sku: 'HONEY', name: '蜂蜜', supplierUscc: aUscc(1), priceFen: 3990 })
    await svc.createProduct(ADMIN, { sku: 'PLAIN', name: '矿泉水', supplierUscc: aUscc(1), priceFen: 200 })
    await expect(svc.createProduct(ADMIN, { sku: 'HONEY', name: 'x', supplierUscc: aUscc(1), priceFen: 1 })).rejects.toMatchObject({ code: 'PRODUCT_EXISTS' })
    await svc.createCertificate(ADMIN, { sku: 'HONEY', certificateNo: 'CERT-1', validFrom: '2020-01-01' })
    await expect(svc.createCertificate(ADMIN, { sku: 'PLAIN', certificateNo: 'CERT-1', validFrom: '2020-01-01' })).rejects.toMatchObject({ code: 'CERT_EXISTS' })
    await svc.patchProduct(ADMIN, 'PLAIN', { priceFen: 250 })
    await svc.revokeCertificate(ADMIN, 'CERT-1', { reason: '抽检', effectiveFrom: '2020-06-01' })

    expect((await svc.products('2020-05-31')).products.map((p) => [p.sku, p.certificateNo, p.priceFen])).toEqual([['HONEY', 'CERT-1', 3990], ['PLAIN', null, 250]])
    expect((await svc.product('HONEY', '2020-06-01')).isCertified).toBe(false)
    expect((await svc.certificate('CERT-1')).status).toBe('revoked')
    expect((await svc.certificates({ supplierUscc: aUscc(1) })).certificates.map((c) => [c.certificateNo, c.supplierUscc, c.validTo, c.revokedFrom])).toEqual([['CERT-1', aUscc(1), '2020-12-31', '2020-06-01']])
    const h = await svc.history({ limit: 10 })
    expect(h.entries.map((e) => [e.entity, e.entityId, e.action])).toEqual([
      ['certificate', 'CERT-1', 'revoked'],
      ['product', 'PLAIN', 'changed'],
      ['certificate', 'CERT-1', 'issued'],
      ['product', 'PLAIN', 'added'],
      ['product', 'HONEY', 'added'],
      ['supplier', aUscc(1), 'registered'],
    ])
    expect(h.entries[1]!.detail).toEqual({ priceFen: { from: 200, to: 250 } })
    expect((await svc.history({ entity: 'certificate', id: 'CERT-1', limit: 1 })).entries.map((e) => e.action)).toEqual(['revoked'])
    // Every committed change republished only when the content changed: the revocation (effective in the past) changed today's flags.
    expect(catalog.current()).toMatchObject({ version: 5, items: [{ sku: 'HONEY', isCertified: false }, { sku: 'PLAIN', priceFen: 250, isCertified: false }] })
  })

  it('commits a change with the figures it flips, or neither', async () => {
    let fail = false
    const { db, svc, figures } = await open({ failFigures: () => fail })
    await svc.createSupplier(ADMIN, { uscc: aUscc(1), name: '合作社' })
    await svc.createProduct(ADMIN, { sku: 'HONEY', name: '蜂蜜', supplierUscc: aUscc(1), priceFen: 3990 })
    await db.kysely.insertInto('cabinets').values({ cabinet_id: 'C1', county_code: '341125', status: 'operating', secret_hash: 'x', credentials_issued_at: AT, created_at: AT, updated_at: AT }).execute()
    await db.kysely.insertInto('cabinet_day_sku_sales').values({ cabinet_id: 'C1', day: '2020-09-10', sku: 'HONEY', qty: 1, amount_fen: 500 }).execute()
    await figures.recordTick(db.kysely, {
      days: new Map([['k', { cabinetId: 'C1', day: '2020-09-10', count: 1, amountFen: 500 }]]),
      skus: new Map([['k', { cabinetId: 'C1', day: '2020-09-10', sku: 'HONEY', amountFen: 500 }]]),
    })
    expect(await figures.certifiedTotals(['C1'])).toEqual(new Map([['C1', 0]]))
    fail = true
    await expect(svc.createCertificate(ADMIN, { sku: 'HONEY', certificateNo: 'CERT-1', validFrom: '2020-01-01' })).rejects.toThrow('figures failed')
    await expect(svc.certificate('CERT-1')).rejects.toMatchObject({ code: 'CERT_NOT_FOUND' })
    expect(await figures.certifiedTotals(['C1'])).toEqual(new Map([['C1', 0]]))
    fail = false
    await svc.createCertificate(ADMIN, { sku: 'HONEY', certificateNo: 'CERT-1', validFrom: '2020-01-01' })
    expect(await figures.certifiedTotals(['C1'])).toEqual(new Map([['C1', 500]]))
    const r = await svc.blacklist(ADMIN, aUscc(1), { reason: '失信', effectiveFrom: '2020-09-01' })
    expect(r.revokedCertificates).toEqual(['CERT-1'])
    expect(await figures.certifiedTotals(['C1'])).toEqual(new Map([['C1', 0]]))
  })

  it.runIf(engine === 'postgres')('hands a catalog published by one server to the other, which sends it to its cabinets within 1 s', async () => {
    const a = await open()
    await a.db.kysely.insertInto('cabinets').values({ cabinet_id: 'C1', county_code: '341125', status: 'operating', secret_hash: 'x', credentials_issued_at: AT, created_at: AT, updated_at: AT }).execute()
    const b = await open({ url: a.url })
    await new Promise((r) => setTimeout(r, 300)) // b's notice connection is up
    await a.svc.createSupplier(ADMIN, { uscc: aUscc(1), name: '合作社' })
    const t0 = Date.now()
    await a.svc.createProduct(ADMIN, { sku: 'HONEY', name: '蜂蜜', supplierUscc: aUscc(1), priceFen: 3990 })
    expect(a.catalog.current()?.version).toBe(1)
    await expect.poll(() => b.catalog.current()?.version, { timeout: 1_000, interval: 10 }).toBe(1)
    expect(Date.now() - t0).toBeLessThan(1_000)
    await expect.poll(() => b.published).toEqual([topics.catalog('C1')])
    // The same content built on b is that version, not a new one.
    expect((await b.catalog.refresh())?.version).toBe(1)
  })
})
