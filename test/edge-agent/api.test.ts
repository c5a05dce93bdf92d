import { request } from 'node:http'
import { join } from 'node:path'
import { Database } from '../../edge-agent/src/ledger/sqlite.js'
import { describe, expect, it } from 'vitest'
import { AgentStatus, PostSaleReply } from '../../shared/src/index.js'
import { openLedger } from '../../edge-agent/src/ledger/index.js'
import { aSale, startAgent, tempDir } from './helpers.js'

async function call(port: number, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    ...(body !== undefined && { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  })
  return { status: res.status, json: await res.json() }
}

describe('local HTTP API', () => {
  it('records a sale durably and reports it in GET /status, even with no broker', async () => {
    const dataDir = await tempDir()
    const agent = await startAgent({ dataDir, apiPort: 0 })
    const port = agent.apiPort!
    expect(port).toBeGreaterThan(0)

    const first = await call(port, 'POST', '/sales', aSale({ soldAt: '2020-09-30T12:00:00+08:00' }))
    expect(first.status).toBe(201)
    expect(PostSaleReply.parse(first.json)).toMatchObject({ seq: 1 })
    // Never refused for business reasons: unknown SKU, off-catalog price, cash.
    const second = await call(port, 'POST', '/sales', { items: [{ sku: 'UNKNOWN-SKU', qty: 1, unitPriceFen: 1 }], payment: 'cash' })
    expect(second).toMatchObject({ status: 201, json: { seq: 2 } })

    const status = await call(port, 'GET', '/status')
    expect(status.status).toBe(200)
    expect(AgentStatus.parse(status.json)).toEqual({ cabinetId: 'C1', connected: false, lastSeq: 2, lastAckedSeq: 0, pending: 2, catalogVersion: null })
    expect(await call(port, 'GET', '/healthz')).toEqual({ status: 200, json: { status: 'ok' } })

    // Durable: the rows are in the file, read by another connection while the agent runs.
    const db = new Database(join(dataDir, 'ledger.db'), { readonly: true })
    expect(db.prepare('SELECT seq, sale_id AS saleId, total_fen AS totalFen FROM sales ORDER BY seq').all()).toEqual([
      { seq: 1, saleId: (first.json as { saleId: string }).saleId, totalFen: 9_980 },
      { seq: 2, saleId: (second.json as { saleId: string }).saleId, totalFen: 1 },
    ])
    db.close()
  })

  it('answers a retried POST with the same client saleId with 200 and the original seq', async () => {
    const agent = await startAgent({ apiPort: 0 })
    const saleId = '0190a0b4-1111-7000-8000-000000000001'
    const first = await call(agent.apiPort!, 'POST', '/sales', aSale({ saleId }))
    const retry = await call(agent.apiPort!, 'POST', '/sales', aSale({ saleId }))
    expect(first).toEqual({ status: 201, json: { saleId, seq: 1 } })
    expect(retry).toEqual({ status: 200, json: { saleId, seq: 1 } })
    expect(agent.sell(aSale({ saleId }))).toEqual({ saleId, seq: 1, created: false })
    expect(agent.status()).toMatchObject({ lastSeq: 1 })
  })

  it('rejects malformed bodies with 400 VALIDATION_FAILED and a prettified message', async () => {
    const agent = await startAgent({ apiPort: 0 })
    const port = agent.apiPort!
    const notJson = await call(port, 'POST', '/sales', '{"items":')
    expect(notJson).toMatchObject({ status: 400, json: { error: { code: 'VALIDATION_FAILED', message: expect.stringMatching(/not valid JSON/) } } })
    const badQty = await call(port, 'POST', '/sales', { items: [{ sku: 'A', qty: 0, unitPriceFen: 1.5 }], payment: 'bitcoin' })
    expect(badQty.status).toBe(400)
    const message = (badQty.json as { error: { message: string } }).error.message
    expect(message).toMatch(/✖/)
    expect(message).toMatch(/items\[0\]\.qty/)
    expect(message).toMatch(/unitPriceFen/)
    expect(message).toMatch(/payment/)
    expect(await call(port, 'POST', '/sales', { items: [], payment: 'cash' })).toMatchObject({ status: 400 })
    expect(await call(port, 'POST', '/sales', { ...aSale(), extra: 1 })).toMatchObject({ status: 400 })
    expect(await call(port, 'POST', '/sales', 'null')).toMatchObject({ status: 400 })
    expect(await call(port, 'POST', '/sales', { ...aSale(), soldAt: 'yesterday' })).toMatchObject({ status: 400 })
    expect(agent.status().lastSeq).toBe(0)
  })

  it('answers 413 for a body over 64 KiB, with or without a content-length', async () => {
    const agent = await startAgent({ apiPort: 0 })
    const big = JSON.stringify({ ...aSale(), pad: 'x'.repeat(70 * 1024) })
    expect(await call(agent.apiPort!, 'POST', '/sales', big)).toMatchObject({ status: 413, json: { error: { code: 'PAYLOAD_TOO_LARGE' } } })

    // Chunked: the limit is enforced while reading.
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: agent.apiPort!, method: 'POST', path: '/sales', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        let body = ''
        res.on('data', (c: Buffer) => (body += c.toString()))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      })
      req.on('error', reject)
      for (let i = 0; i < 10; i++) req.write('x'.repeat(8 * 1024))
      req.end()
    })
    expect(chunked.status).toBe(413)
    expect(JSON.parse(chunked.body)).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } })
    expect(await call(agent.apiPort!, 'GET', '/healthz')).toMatchObject({ status: 200 })
  })

  it('answers 404 with the error shape for unknown routes', async () => {
    const agent = await startAgent({ apiPort: 0 })
    expect(await call(agent.apiPort!, 'GET', '/nope')).toMatchObject({ status: 404, json: { error: { code: 'NOT_FOUND', message: expect.any(String) } } })
    expect(await call(agent.apiPort!, 'DELETE', '/sales')).toMatchObject({ status: 404, json: { error: { code: 'NOT_FOUND' } } })
  })

  it('answers 507 LEDGER_WRITE_FAILED on a full ledger, records nothing, keeps running, and records again once space is back', async () => {
    const dataDir = await tempDir()
    openLedger({ dataDir, cabinetId: 'C1' }).close()
    const other = new Database(join(dataDir, 'ledger.db'))
    other.exec('CREATE TABLE filler (b BLOB)')
    other.prepare('INSERT INTO filler VALUES (?)').run(Buffer.alloc(100_000))
    const pages = other.pragma('page_count', { simple: true }) as number
    const agent = await startAgent({ dataDir, apiPort: 0, ledgerMaxPages: pages + 2 })
    const port = agent.apiPort!

    let res = await call(port, 'POST', '/sales', aSale())
    let recorded = 0
    while (res.status === 201 && recorded < 1_000) {
      recorded++
      res = await call(port, 'POST', '/sales', aSale())
    }
    expect(res).toMatchObject({ status: 507, json: { error: { code: 'LEDGER_WRITE_FAILED', message: expect.stringMatching(/not recorded/) } } })
    expect(recorded).toBeGreaterThan(0)
    expect(await call(port, 'POST', '/sales', aSale())).toMatchObject({ status: 507 })
    expect(await call(port, 'GET', '/status')).toMatchObject({ status: 200, json: { lastSeq: recorded, pending: recorded } })
    expect(other.prepare('SELECT count(*) AS n FROM sales').get()).toEqual({ n: recorded })

    other.exec('DROP TABLE filler') // space is back
    other.close()
    expect(await call(port, 'POST', '/sales', aSale())).toMatchObject({ status: 201, json: { seq: recorded + 1 } })
  })

  it('serves no HTTP when apiPort is null', async () => {
    const agent = await startAgent({ apiPort: null })
    expect(agent.apiPort).toBeNull()
    expect(agent.sell(aSale())).toMatchObject({ seq: 1, created: true })
    expect(() => agent.sell({ items: [], payment: 'cash' })).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED', statusCode: 400 }))
  })
})
