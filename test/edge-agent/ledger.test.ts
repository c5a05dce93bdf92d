import { join } from 'node:path'
import { Database } from '../../edge-agent/src/ledger/sqlite.js'
import { describe, expect, it } from 'vitest'
import { generateKeyPairSync } from 'node:crypto'
import { AppError, GENESIS_HASH, SaleBatchMsg, decodeMessage, saleHash, verifyBatch, type Sale } from '../../shared/src/index.js'
import { openLedger } from '../../edge-agent/src/ledger/index.js'
import { MIGRATIONS } from '../../edge-agent/src/ledger/migrations.js'
import { batchSigner, renderBatch } from '../../edge-agent/src/outbox/index.js'
import { aSale, tempDir } from './helpers.js'

const T0 = Date.parse('2020-09-30T04:00:00.000Z')

function expectChain(cabinetId: string, sales: readonly Sale[]): void {
  let prev = GENESIS_HASH
  sales.forEach((s, i) => {
    expect(s.seq).toBe(i + 1)
    expect(s.prevHash).toBe(prev)
    expect(s.hash).toBe(saleHash(cabinetId, s))
    prev = s.hash
  })
}

describe('ledger', () => {
  it('records sales durably with a gapless seq, a hash chain and agent-computed totals', async () => {
    const dir = await tempDir()
    const ledger = openLedger({ dataDir: dir, cabinetId: 'C1' })
    ledger.record(aSale({ items: [{ sku: 'A', qty: 3, unitPriceFen: 150 }, { sku: 'B', qty: 1, unitPriceFen: 99 }] }), T0)
    ledger.record(aSale({ soldAt: '2020-09-30T12:00:00+08:00', payment: 'cash' }), T0 + 1_000)
    ledger.record(aSale({ soldAt: '2019-01-01T00:00:00Z' }), T0 + 2_000) // skewed: kept as given
    ledger.close()

    const db = new Database(join(dir, 'ledger.db'), { readonly: true })
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length)
    db.close()
    const reopened = openLedger({ dataDir: dir, cabinetId: 'C1' })
    const sales = reopened.salesFrom(1, 10)
    reopened.close()
    expect(sales).toHaveLength(3)
    expectChain('C1', sales)
    expect(sales[0]).toMatchObject({ totalFen: 549, soldAt: '2020-09-30T04:00:00.000Z', recordedAt: '2020-09-30T04:00:00.000Z' })
    expect(sales[1]).toMatchObject({ soldAt: '2020-09-30T04:00:00.000Z', recordedAt: '2020-09-30T04:00:01.000Z', payment: 'cash' })
    expect(sales[2]).toMatchObject({ soldAt: '2019-01-01T00:00:00.000Z' })
  })

  it('continues the seq and hash chain after the ledger is closed and reopened', async () => {
    const dir = await tempDir()
    const first = openLedger({ dataDir: dir, cabinetId: 'C1' })
    first.record(aSale(), T0)
    first.record(aSale(), T0)
    first.setLastAckedSeq(1)
    first.close()
    const second = openLedger({ dataDir: dir, cabinetId: 'C1' })
    expect([second.lastSeq, second.lastAckedSeq, second.pending]).toEqual([2, 1, 1])
    expect(second.record(aSale(), T0).seq).toBe(3)
    expectChain('C1', second.salesFrom(1, 10))
    second.close()
  })

  it('refuses to open a ledger that belongs to another cabinet', async () => {
    const dir = await tempDir()
    openLedger({ dataDir: dir, cabinetId: 'C1' }).close()
    expect(() => openLedger({ dataDir: dir, cabinetId: 'C2' })).toThrow(/belongs to cabinet C1/)
  })

  it('records a client-supplied saleId once and returns the original seq on a retry', async () => {
    const ledger = openLedger({ dataDir: await tempDir(), cabinetId: 'C1' })
    const saleId = '0190a0b4-0000-7000-8000-000000000001'
    expect(ledger.record(aSale({ saleId }), T0)).toEqual({ saleId, seq: 1, created: true })
    ledger.record(aSale(), T0)
    expect(ledger.record(aSale({ saleId, payment: 'cash' }), T0)).toEqual({ saleId, seq: 1, created: false })
    expect(ledger.lastSeq).toBe(2)
    expect(ledger.record(aSale(), T0).seq).toBe(3)
    expectChain('C1', ledger.salesFrom(1, 10))
    ledger.close()
  })

  it('answers LEDGER_WRITE_FAILED on a full disk, records nothing, and records again once space is back', async () => {
    const dir = await tempDir()
    openLedger({ dataDir: dir, cabinetId: 'C1' }).close()
    // Occupy pages that can be freed later, then cap the file just above its size.
    const other = new Database(join(dir, 'ledger.db'))
    other.exec('CREATE TABLE filler (b BLOB)')
    other.prepare('INSERT INTO filler VALUES (?)').run(Buffer.alloc(100_000))
    const pages = other.pragma('page_count', { simple: true }) as number
    const ledger = openLedger({ dataDir: dir, cabinetId: 'C1', maxPages: pages + 2 })

    let failure: unknown
    for (let i = 0; i < 1_000 && failure === undefined; i++) {
      try {
        ledger.record(aSale(), T0)
      } catch (err) {
        failure = err
      }
    }
    expect(failure).toBeInstanceOf(AppError)
    expect(failure).toMatchObject({ code: 'LEDGER_WRITE_FAILED', statusCode: 507, details: { sqliteCode: 'SQLITE_FULL' } })
    const lastSeq = ledger.lastSeq
    expect(lastSeq).toBeGreaterThan(0)
    expect(other.prepare('SELECT count(*) AS n, max(seq) AS m FROM sales').get()).toEqual({ n: lastSeq, m: lastSeq })
    expect(() => ledger.record(aSale(), T0)).toThrow(/disk is full/)

    other.exec('DROP TABLE filler') // space is back
    other.close()
    expect(ledger.record(aSale(), T0)).toMatchObject({ seq: lastSeq + 1, created: true })
    expectChain('C1', ledger.salesFrom(1, 10_000))
    ledger.close()
  })

  it('replaces the catalog atomically and only with a newer version', async () => {
    const dir = await tempDir()
    const ledger = openLedger({ dataDir: dir, cabinetId: 'C1' })
    const item = (sku: string, priceFen: number) => ({ sku, name: `商品${sku}`, priceFen, isCertified: true, certificateNo: `FP-${sku}` })
    const catalog = (version: number, items: ReturnType<typeof item>[]) => ({ v: 1 as const, type: 'catalog' as const, version, issuedAt: '2020-09-30T00:00:00.000Z', items })
    expect(ledger.applyCatalog(catalog(2, [item('A', 100), item('B', 200)]))).toBe(true)
    expect(ledger.applyCatalog(catalog(1, [item('Z', 1)]))).toBe(false)
    expect(ledger.applyCatalog(catalog(3, [item('C', 300)]))).toBe(true)
    ledger.close()
    const reopened = openLedger({ dataDir: dir, cabinetId: 'C1' })
    expect(reopened.catalogVersion).toBe(3)
    expect(reopened.catalogItems()).toEqual([item('C', 300)])
    reopened.close()
  })
})

describe('batch rendering', () => {
  it('keeps a batch under the byte limit and renders valid SaleBatchMsg JSON', async () => {
    const ledger = openLedger({ dataDir: await tempDir(), cabinetId: 'C1' })
    const lines = Array.from({ length: 100 }, (_, i) => ({ sku: `SKU-${i}`, qty: 1, unitPriceFen: 100 + i }))
    for (let i = 0; i < 20; i++) ledger.record(aSale({ items: lines }), T0)
    const sales = ledger.salesFrom(1, 20)
    ledger.close()
    const maxBytes = 20_000
    const batch = renderBatch('C1', '0190a0b4-0000-7000-8000-0000000000aa', sales, maxBytes)
    expect(Buffer.byteLength(batch.payload)).toBeLessThanOrEqual(maxBytes)
    expect(batch.count).toBeGreaterThan(1)
    expect(batch.count).toBeLessThan(20)
    const decoded = decodeMessage(SaleBatchMsg, Buffer.from(batch.payload))
    expect(decoded.ok && decoded.data.sales.map((s) => s.seq)).toEqual(sales.slice(0, batch.count).map((s) => s.seq))
    expect(batch).toMatchObject({ firstSeq: 1, lastSeq: batch.count })
    // The next sale would not have fitted.
    const oneMore = renderBatch('C1', '0190a0b4-0000-7000-8000-0000000000aa', sales.slice(0, batch.count + 1), Number.MAX_SAFE_INTEGER)
    expect(Buffer.byteLength(oneMore.payload)).toBeGreaterThan(maxBytes)
  })

  it('an enrolled agent signs the sales that fit, inside the same byte limit (issue 16 §2)', async () => {
    const ledger = openLedger({ dataDir: await tempDir(), cabinetId: 'C1' })
    const lines = Array.from({ length: 100 }, (_, i) => ({ sku: `SKU-${i}`, qty: 1, unitPriceFen: 100 + i }))
    for (let i = 0; i < 20; i++) ledger.record(aSale({ items: lines }), T0)
    const sales = ledger.salesFrom(1, 20)
    ledger.close()
    const { publicKey, privateKey } = generateKeyPairSync('ed25519')
    const batchId = '0190a0b4-0000-7000-8000-0000000000aa'
    const unsigned = renderBatch('C1', batchId, sales, 20_000)
    // Exactly at the limit with the signature: the last sale must make room for it.
    const maxBytes = Buffer.byteLength(unsigned.payload)
    const batch = renderBatch('C1', batchId, sales, maxBytes, batchSigner(privateKey))
    expect(Buffer.byteLength(batch.payload)).toBeLessThanOrEqual(maxBytes)
    expect(batch.count).toBe(unsigned.count - 1)
    const decoded = decodeMessage(SaleBatchMsg, Buffer.from(batch.payload))
    expect(decoded.ok).toBe(true)
    const msg = decoded.ok ? decoded.data : null
    expect(msg!.sales).toHaveLength(batch.count)
    expect(verifyBatch(publicKey, 'C1', batchId, msg!.sales.map((s) => s.hash), msg!.sig!)).toBe(true)
    // Unsigned rendering is unchanged: no sig key at all.
    expect(unsigned.payload).not.toContain('"sig"')
  })
})
