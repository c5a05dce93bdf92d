// The certified-product catalog over HTTP: suppliers by 统一社会信用代码,
// products, certificates (one year, renewal window, revocation, blacklist),
// history, admin-only writes, and the versioned catalog cabinets receive.
import mqtt from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { CatalogMsg, topics } from '../../shared/src/index.js'
import { api, provision } from '../helpers/fleet.js'
import { sqlRun } from '../helpers/test-db.js'
import { aCatalog, aClock, aDatedCabinet, aUscc, fleetWith, ok } from './certification.fixtures.js'

describe('certification catalog', () => {
  it('registers a supplier by 统一社会信用代码 and names the rule a bad code breaks', async () => {
    const fleet = await fleetWith()
    const good = aUscc(1)
    const created = await ok<{ uscc: string; blacklistedFrom: string | null }>(fleet, 'POST', '/api/v1/suppliers', { uscc: good, name: '定远县蜂业合作社', contact: '张三', address: '定远县' })
    expect(created).toMatchObject({ uscc: good, blacklistedFrom: null })

    const wrongCheck = good.slice(0, 17) + (good[17] === '0' ? '1' : '0')
    for (const [uscc, rule] of [[wrongCheck, 'CHECK'], ['91341125', 'LENGTH'], [good.slice(0, 17) + 'I', 'CHARSET'], ['91ABCDEF' + good.slice(8), 'DIVISION']] as const) {
      const r = await api<{ error: { code: string; message: string; details: { rule: string } } }>(fleet, 'POST', '/api/v1/suppliers', { uscc, name: 'x' })
      expect(r.status, uscc).toBe(400)
      expect(r.body.error).toMatchObject({ code: 'INVALID_USCC', details: { rule } })
    }
    const dup = await api<{ error: { code: string } }>(fleet, 'POST', '/api/v1/suppliers', { uscc: good, name: 'again' })
    expect([dup.status, dup.body.error.code]).toEqual([409, 'SUPPLIER_EXISTS'])
  })

  it('lets only an admin change the catalog and every role read it', async () => {
    const fleet = await fleetWith()
    await aCatalog(fleet, { 'DY-HONEY': { cert: ['2020-01-01'] } })
    const county = await ok<{ token: string }>(fleet, 'POST', '/api/v1/users', { username: 'dy-official', role: 'county', countyCode: '341125' })
    for (const [url, body] of [
      // Issue 15: a county official registers suppliers, but only in its own county.
      ['/api/v1/suppliers', { uscc: aUscc(2), name: 'x', countyCode: '341126' }],
      ['/api/v1/products', { sku: 'X-1', name: 'x', supplierUscc: aUscc(1), priceFen: 100 }],
      ['/api/v1/certificates', { sku: 'DY-HONEY', certificateNo: 'C-2', validFrom: '2021-01-01' }],
      ['/api/v1/certificates/CERT-DY-HONEY/revoke', { reason: 'x' }],
    ] as const) {
      const r = await api<{ error: { code: string } }>(fleet, 'POST', url, body, county.token)
      expect([r.status, r.body.error.code], url).toEqual([403, 'ACCESS_OUT_OF_SCOPE'])
    }
    const list = await api<{ products: Array<{ sku: string; isCertified: boolean }> }>(fleet, 'GET', '/api/v1/products?asOf=2020-06-01', undefined, county.token)
    expect(list.status).toBe(200)
    expect(list.body.products).toEqual([expect.objectContaining({ sku: 'DY-HONEY', isCertified: true, certificateNo: 'CERT-DY-HONEY' })])
  })

  it('makes a certificate valid one year by default, refuses longer ones, and renews only from three months before expiry', async () => {
    const clock = aClock('2020-05-01T02:00:00Z')
    const fleet = await fleetWith({ deps: { now: clock.now } })
    await aCatalog(fleet, { 'DY-RICE': {} })
    const c = await ok<{ validTo: string; status: string; level: string }>(fleet, 'POST', '/api/v1/certificates', { sku: 'DY-RICE', certificateNo: 'AH-2020-001', validFrom: '2020-02-29' })
    expect(c).toMatchObject({ validTo: '2021-02-27', status: 'valid', level: 'county' })

    const tooLong = await api<{ error: { code: string } }>(fleet, 'POST', '/api/v1/certificates', { sku: 'DY-RICE', certificateNo: 'AH-X', validFrom: '2019-01-01', validTo: '2020-01-01' })
    expect([tooLong.status, tooLong.body.error.code]).toEqual([400, 'CERT_VALIDITY_INVALID'])

    // 2020-05-01: the current certificate runs to 2021-02-27; re-application opens 2020-11-27.
    const early = await api<{ error: { code: string; details: { mayApplyFrom: string } } }>(fleet, 'POST', '/api/v1/certificates/AH-2020-001/renew', { certificateNo: 'AH-2021-001' })
    expect([early.status, early.body.error.code, early.body.error.details.mayApplyFrom]).toEqual([409, 'CERT_RENEWAL_TOO_EARLY', '2020-11-27'])

    clock.set('2020-11-27T01:00:00Z')
    const renewed = await ok<{ validFrom: string; validTo: string; renews: string; status: string }>(fleet, 'POST', '/api/v1/certificates/AH-2020-001/renew', { certificateNo: 'AH-2021-001', level: 'province' })
    expect(renewed).toMatchObject({ validFrom: '2021-02-28', validTo: '2022-02-27', renews: 'AH-2020-001', status: 'pending' })
    const product = await ok<{ certificates: Array<{ certificateNo: string }> }>(fleet, 'GET', '/api/v1/products/DY-RICE?asOf=2021-03-01', undefined, 200)
    expect(product).toMatchObject({ isCertified: true, certificateNo: 'AH-2021-001' })
    expect(product.certificates.map((x) => x.certificateNo)).toEqual(['AH-2020-001', 'AH-2021-001'])
  })

  it('revokes from an effective date, keeps it idempotent, and only moves it earlier', async () => {
    const clock = aClock('2020-10-10T02:00:00Z')
    const fleet = await fleetWith({ deps: { now: clock.now } })
    await aCatalog(fleet, { 'MG-TEA': { cert: ['2020-01-01'] } })
    const today = await ok<{ revokedFrom: string; status: string }>(fleet, 'POST', '/api/v1/certificates/CERT-MG-TEA/revoke', { reason: '质量抽检不合格' })
    expect(today).toMatchObject({ revokedFrom: '2020-10-10', status: 'revoked', revokeReason: '质量抽检不合格' })
    expect(await ok(fleet, 'POST', '/api/v1/certificates/CERT-MG-TEA/revoke', { reason: 'again' })).toMatchObject({ revokedFrom: '2020-10-10' })
    const later = await api<{ error: { code: string } }>(fleet, 'POST', '/api/v1/certificates/CERT-MG-TEA/revoke', { reason: 'x', effectiveFrom: '2020-12-01' })
    expect([later.status, later.body.error.code]).toEqual([409, 'CERT_REVOCATION_INVALID'])
    const earlier = await ok<{ revokedFrom: string }>(fleet, 'POST', '/api/v1/certificates/CERT-MG-TEA/revoke', { reason: '追溯撤销', effectiveFrom: '2020-09-15' })
    expect(earlier.revokedFrom).toBe('2020-09-15')
    expect(await ok(fleet, 'GET', '/api/v1/products/MG-TEA?asOf=2020-09-14', undefined, 200)).toMatchObject({ isCertified: true })
    expect(await ok(fleet, 'GET', '/api/v1/products/MG-TEA?asOf=2020-09-15', undefined, 200)).toMatchObject({ isCertified: false })
    expect((await api(fleet, 'POST', '/api/v1/certificates/NOPE/revoke', { reason: 'x' })).status).toBe(404)
  })

  it('blacklists a supplier: all its certificates stop counting from that date, and it may add nothing new', async () => {
    const clock = aClock('2020-10-10T02:00:00Z')
    const fleet = await fleetWith({ deps: { now: clock.now } })
    await aCatalog(fleet, { 'A-1': { cert: ['2020-01-01'], supplier: 1 }, 'A-2': { cert: ['2020-03-01'], supplier: 1 }, 'B-1': { cert: ['2020-01-01'], supplier: 2 } })
    const r = await ok<{ revokedCertificates: string[]; supplier: { blacklistedFrom: string } }>(fleet, 'POST', `/api/v1/suppliers/${aUscc(1)}/blacklist`, { reason: '以次充好', effectiveFrom: '2020-08-01' })
    expect(r.supplier.blacklistedFrom).toBe('2020-08-01')
    expect(r.revokedCertificates.sort()).toEqual(['CERT-A-1', 'CERT-A-2'])
    const onAug = await ok<{ products: Array<{ sku: string; isCertified: boolean }> }>(fleet, 'GET', '/api/v1/products?asOf=2020-08-01', undefined, 200)
    expect(Object.fromEntries(onAug.products.map((p) => [p.sku, p.isCertified]))).toEqual({ 'A-1': false, 'A-2': false, 'B-1': true })
    const onJul = await ok<{ products: Array<{ sku: string; isCertified: boolean }> }>(fleet, 'GET', '/api/v1/products?asOf=2020-07-31', undefined, 200)
    expect(onJul.products.every((p) => p.isCertified)).toBe(true)
    const more = await api<{ error: { code: string } }>(fleet, 'POST', '/api/v1/products', { sku: 'A-3', name: 'x', supplierUscc: aUscc(1), priceFen: 1 })
    expect([more.status, more.body.error.code]).toEqual([409, 'SUPPLIER_BLACKLISTED'])
  })

  it('keeps every change in the history', async () => {
    const fleet = await fleetWith()
    await aCatalog(fleet, { 'DY-HONEY': { cert: ['2020-01-01'] } })
    await ok(fleet, 'PATCH', '/api/v1/products/DY-HONEY', { priceFen: 4590 }, 200)
    await ok(fleet, 'POST', '/api/v1/certificates/CERT-DY-HONEY/revoke', { reason: '停产', effectiveFrom: '2020-06-01' })
    const h = await ok<{ entries: Array<{ entity: string; entityId: string; action: string; actor: string; detail: Record<string, unknown> }> }>(fleet, 'GET', '/api/v1/catalog/history', undefined, 200)
    expect(h.entries.map((e) => `${e.entity}:${e.action}`)).toEqual(['certificate:revoked', 'product:changed', 'certificate:issued', 'product:added', 'supplier:registered'])
    expect(h.entries[1]!.detail).toEqual({ priceFen: { from: 1000, to: 4590 } })
    expect(h.entries[0]!.detail).toMatchObject({ revokedFrom: '2020-06-01', reason: '停产', backdated: true })
    const one = await ok<{ entries: unknown[] }>(fleet, 'GET', '/api/v1/catalog/history?entity=certificate&id=CERT-DY-HONEY', undefined, 200)
    expect(one.entries).toHaveLength(2)
  })

  it('refuses a product beyond what one catalog message carries, and never publishes a catalog over the limit', async () => {
    const fleet = await fleetWith()
    await aCatalog(fleet, { 'P-00000': {} })
    // Up to the cap straight into the table: 4,999 HTTP calls would only slow the test down.
    const rows = Array.from({ length: 4999 }, (_, i) => ({ sku: `P-${String(i + 1).padStart(5, '0')}`, name: '商品', supplier_uscc: aUscc(1), price_fen: 100, created_at: 'x', updated_at: 'x' }))
    for (let i = 0; i < rows.length; i += 500) await fleet.database.kysely.insertInto('products').values(rows.slice(i, i + 500)).execute()
    const full = await api<{ error: { code: string; details: { maxProducts: number } } }>(fleet, 'POST', '/api/v1/products', { sku: 'P-05000', name: 'x', supplierUscc: aUscc(1), priceFen: 1 })
    expect([full.status, full.body.error.code, full.body.error.details.maxProducts]).toEqual([409, 'CATALOG_FULL', 5000])
    await ok(fleet, 'PATCH', '/api/v1/products/P-00000', { priceFen: 1001 }, 200)
    const atCap = await ok<{ version: number; items: unknown[] }>(fleet, 'GET', '/api/v1/catalog', undefined, 200)
    expect(atCap.items).toHaveLength(5000)

    // One more behind the service's back (say, a restored backup): the next change is not published; cabinets keep the last catalog.
    await sqlRun(fleet.database, `INSERT INTO products (sku, name, supplier_uscc, price_fen, created_at, updated_at) VALUES ('P-99999', 'x', ?, 1, 'x', 'x')`, aUscc(1))
    await ok(fleet, 'PATCH', '/api/v1/products/P-00000', { priceFen: 1002 }, 200)
    const kept = await ok<{ version: number; items: unknown[] }>(fleet, 'GET', '/api/v1/catalog', undefined, 200)
    expect([kept.version, kept.items.length]).toEqual([atCap.version, 5000])
  })

  it('publishes a versioned, retained catalog to each cabinet and shows the version the cabinet reports', async () => {
    const clock = aClock('2020-10-10T02:00:00Z')
    const fleet = await fleetWith({ deps: { now: clock.now } })
    await aCatalog(fleet, { 'DY-HONEY': { cert: ['2020-01-01'], priceFen: 3990 }, 'PLAIN-WATER': { priceFen: 200 } })
    const cab = await provision(fleet)
    // A cabinet that subscribes after the fact still gets the catalog (retained / published on connect).
    const client = await mqtt.connectAsync(fleet.mqttUrl, { clientId: cab.cabinetId, username: cab.mqtt.username, password: cab.mqtt.password, reconnectPeriod: 0 })
    onTestFinished(() => client.endAsync(true))
    const got: CatalogMsg[] = []
    client.on('message', (topic, payload) => {
      if (topic === topics.catalog(cab.cabinetId)) got.push(CatalogMsg.parse(JSON.parse(payload.toString())))
    })
    await client.subscribeAsync(topics.catalog(cab.cabinetId), { qos: 1 })
    await expect.poll(() => got.at(-1)?.items.length).toBe(2)
    const v1 = got.at(-1)!
    expect(v1.items).toEqual([
      { sku: 'DY-HONEY', name: '商品DY-HONEY', priceFen: 3990, isCertified: true, certificateNo: 'CERT-DY-HONEY' },
      { sku: 'PLAIN-WATER', name: '商品PLAIN-WATER', priceFen: 200, isCertified: false },
    ])
    await ok(fleet, 'POST', '/api/v1/certificates/CERT-DY-HONEY/revoke', { reason: '撤销' })
    await expect.poll(() => got.at(-1)?.version).toBe(v1.version + 1)
    expect(got.at(-1)!.items[0]).toMatchObject({ sku: 'DY-HONEY', isCertified: false })
    // No content change, no new version.
    await ok(fleet, 'PATCH', '/api/v1/products/DY-HONEY', { priceFen: 3990 }, 200)
    expect((await ok<{ version: number }>(fleet, 'GET', '/api/v1/catalog', undefined, 200)).version).toBe(v1.version + 1)

    await client.endAsync(true)
    const agent = await aDatedCabinet(fleet)
    const hbVersion = v1.version + 1
    await agent.mqtt.client.publishAsync(topics.heartbeat(agent.cabinetId), JSON.stringify({
      v: 1, type: 'heartbeat', cabinetId: agent.cabinetId, sentAt: clock.now().toISOString(), lastSeq: 0, lastAckedSeq: 0, pending: 0,
      oldestPendingAgeS: 0, catalogVersion: hbVersion, uptimeS: 1, agentVersion: 'x',
    }), { qos: 1 })
    await expect.poll(async () => (await api(fleet, 'GET', `/api/v1/cabinets/${agent.cabinetId}/catalog`)).body).toMatchObject({ publishedVersion: hbVersion, reportedVersion: hbVersion, isCurrent: true })
  })
})
