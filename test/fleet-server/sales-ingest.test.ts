// Sale ingest through the real path: mqtt.js cabinet → embedded aedes →
// group commit in SQLite → reply on the cabinet's replies topic.
import { describe, expect, it } from 'vitest'
import { GENESIS_HASH, MAX_MESSAGE_BYTES, shanghaiDate, type Sale } from '../../shared/src/index.js'
import type { Fleet } from '../../fleet-server/src/app.js'
import { aBatch, aChain, aLine, rehash, sumFen } from '../helpers/sales.js'
import { api, connectCabinet, provision, startFleet, tempDir } from '../helpers/fleet.js'
import { sqlRows } from '../helpers/test-db.js'

const rows = <T = Record<string, unknown>>(fleet: Fleet, sql: string, ...params: unknown[]): Promise<T[]> => sqlRows<T>(fleet.database, sql, ...params)
const storedSeqs = async (fleet: Fleet, cabinetId: string) => (await rows<{ seq: number }>(fleet, 'SELECT seq FROM sales WHERE cabinet_id = ? ORDER BY seq', cabinetId)).map((r) => r.seq)

async function cabinetSales(fleet: Fleet, id: string) {
  const r = await api<{ sales: { count: number; amountFen: number; lastSeq: number; certifiedAmountFen: number }; chainStatus: string }>(fleet, 'GET', `/api/v1/cabinets/${id}`)
  expect(r.status).toBe(200)
  return r.body
}

async function aCabinet(fleet: Fleet) {
  const cab = await provision(fleet)
  return connectCabinet(fleet.mqttUrl, cab)
}

describe('sale ingest: commit and ack', () => {
  it('commits a batch, then acks the highest committed seq with its hash, and keeps the aggregates', async () => {
    const fleet = await startFleet()
    const c = await aCabinet(fleet)
    // Two Shanghai days: 2020-09-30 23:30 and 2020-10-01 00:30 (+08:00).
    const times = ['2020-09-30T15:30:00.000Z', '2020-09-30T16:30:00.000Z', '2020-09-30T16:45:00.000Z']
    const sales = aChain(c.cabinetId, 3, {
      soldAt: (i) => times[i]!,
      lines: (i) => (i === 0 ? [aLine({ sku: 'A', qty: 2, unitPriceFen: 500 }), aLine({ sku: 'B', qty: 1, unitPriceFen: 300 })] : [aLine({ sku: 'A', qty: 1, unitPriceFen: 500 })]),
    })
    const reply = await c.send(aBatch(c.cabinetId, sales))
    expect(reply).toEqual({ v: 1, type: 'reply', status: 'committed', batchId: expect.any(String), ackedSeq: 3, ackedHash: sales[2]!.hash })

    expect(await storedSeqs(fleet, c.cabinetId)).toEqual([1, 2, 3])
    const view = await cabinetSales(fleet, c.cabinetId)
    expect(view.sales).toEqual({ count: 3, amountFen: 1300 + 500 + 500, certifiedAmountFen: 0, lastSeq: 3, lastSaleAt: '2020-09-30T16:45:00.000Z' })
    expect(await rows(fleet, 'SELECT day, sales_count, amount_fen FROM cabinet_day_sales WHERE cabinet_id = ? ORDER BY day', c.cabinetId)).toEqual([
      { day: '2020-09-30', sales_count: 1, amount_fen: 1300 },
      { day: '2020-10-01', sales_count: 2, amount_fen: 1000 },
    ])
    expect(await rows(fleet, 'SELECT day, sku, qty, amount_fen FROM cabinet_day_sku_sales WHERE cabinet_id = ? ORDER BY day, sku', c.cabinetId)).toEqual([
      { day: '2020-09-30', sku: 'A', qty: 2, amount_fen: 1000 },
      { day: '2020-09-30', sku: 'B', qty: 1, amount_fen: 300 },
      { day: '2020-10-01', sku: 'A', qty: 2, amount_fen: 1000 },
    ])
    const [first] = await rows<{ sold_on: string; lines: string; prev_hash: string; skew_flag: number }>(fleet, 'SELECT sold_on, lines, prev_hash, skew_flag FROM sales WHERE seq = 1 AND cabinet_id = ?', c.cabinetId)
    expect(first).toEqual({ sold_on: shanghaiDate(times[0]!), lines: JSON.stringify(sales[0]!.lines), prev_hash: GENESIS_HASH, skew_flag: 0 })

    // The next batch continues the chain, the aggregates add up.
    const more = aChain(c.cabinetId, 2, { after: sales, soldAt: () => '2020-10-01T02:00:00.000Z' })
    expect(await c.send(aBatch(c.cabinetId, more))).toMatchObject({ status: 'committed', ackedSeq: 5, ackedHash: more[1]!.hash })
    expect((await cabinetSales(fleet, c.cabinetId)).sales).toMatchObject({ count: 5, amountFen: 2300 + sumFen(more), lastSeq: 5 })
  })

  it('serves the stored sales page by page, exactly as chained', async () => {
    const fleet = await startFleet()
    const c = await aCabinet(fleet)
    const sales = aChain(c.cabinetId, 5)
    await c.send(aBatch(c.cabinetId, sales))
    const page1 = await api<{ sales: Sale[]; nextAfterSeq: number | null }>(fleet, 'GET', `/api/v1/cabinets/${c.cabinetId}/sales?limit=3`)
    expect(page1.body.sales.map((s) => s.seq)).toEqual([1, 2, 3])
    expect(page1.body.nextAfterSeq).toBe(3)
    const page2 = await api<{ sales: Sale[]; nextAfterSeq: number | null }>(fleet, 'GET', `/api/v1/cabinets/${c.cabinetId}/sales?afterSeq=3&limit=3`)
    expect(page2.body.nextAfterSeq).toBeNull()
    expect(page2.body.sales).toEqual(sales.slice(3).map((s) => ({ ...s, receivedAt: expect.any(String), soldOn: shanghaiDate(s.soldAt), skewFlag: 0 })))
  })

  it('re-acks a replayed batch and changes nothing', async () => {
    const fleet = await startFleet()
    const c = await aCabinet(fleet)
    const sales = aChain(c.cabinetId, 4)
    await c.send(aBatch(c.cabinetId, sales))
    const before = await cabinetSales(fleet, c.cabinetId)
    // The whole batch again (lost ack), and its tail (partial overlap): both re-acked at 4.
    expect(await c.send(aBatch(c.cabinetId, sales))).toMatchObject({ status: 'committed', ackedSeq: 4, ackedHash: sales[3]!.hash })
    expect(await c.send(aBatch(c.cabinetId, sales.slice(1, 3)))).toMatchObject({ status: 'committed', ackedSeq: 4 })
    // Overlap plus new sales: the new ones commit, the old ones are skipped.
    const next = aChain(c.cabinetId, 2, { after: sales })
    expect(await c.send(aBatch(c.cabinetId, [...sales.slice(2), ...next]))).toMatchObject({ status: 'committed', ackedSeq: 6 })
    expect(await storedSeqs(fleet, c.cabinetId)).toEqual([1, 2, 3, 4, 5, 6])
    expect((await cabinetSales(fleet, c.cabinetId)).sales).toMatchObject({ count: 6, amountFen: before.sales.amountFen + sumFen(next) })
  })

  it('answers SALE_TAMPERED for a different sale under a committed seq, stores nothing of the batch and flags the cabinet', async () => {
    const fleet = await startFleet()
    const c = await aCabinet(fleet)
    const sales = aChain(c.cabinetId, 3)
    await c.send(aBatch(c.cabinetId, sales))
    // A rewritten seq 2 that is internally valid (hash recomputed), followed by new sales.
    const forked = aChain(c.cabinetId, 3, { fromSeq: 2, prevHash: sales[0]!.hash, lines: () => [aLine({ unitPriceFen: 1 })] })
    const reply = await c.send(aBatch(c.cabinetId, forked))
    expect(reply).toMatchObject({ status: 'rejected', code: 'SALE_TAMPERED', committedSeq: 3 })
    expect(await storedSeqs(fleet, c.cabinetId)).toEqual([1, 2, 3])
    expect((await cabinetSales(fleet, c.cabinetId)).chainStatus).toBe('tampered')
    // The honest continuation still commits.
    expect(await c.send(aBatch(c.cabinetId, aChain(c.cabinetId, 1, { after: sales })))).toMatchObject({ status: 'committed', ackedSeq: 4 })
  })

  it('answers SALE_SEQ_GAP with the expected seq and stores nothing', async () => {
    const fleet = await startFleet()
    const c = await aCabinet(fleet)
    const sales = aChain(c.cabinetId, 10)
    await c.send(aBatch(c.cabinetId, sales.slice(0, 3)))
    const reply = await c.send(aBatch(c.cabinetId, sales.slice(5)))
    expect(reply).toMatchObject({ status: 'rejected', code: 'SALE_SEQ_GAP', expectedSeq: 4, committedSeq: 3 })
    expect(await storedSeqs(fleet, c.cabinetId)).toEqual([1, 2, 3])
    // A fresh cabinet that starts anywhere but 1 is told to start at 1.
    const d = await aCabinet(fleet)
    expect(await d.send(aBatch(d.cabinetId, aChain(d.cabinetId, 2, { fromSeq: 7 })))).toMatchObject({ code: 'SALE_SEQ_GAP', expectedSeq: 1, committedSeq: 0 })
  })

  it('answers SALE_TOTAL_MISMATCH, SALE_CHAIN_BROKEN and CABINET_MISMATCH, storing nothing', async () => {
    const fleet = await startFleet()
    const c = await aCabinet(fleet)
    const good = aChain(c.cabinetId, 3)
    const wrongTotal = good.map((s, i) => (i === 1 ? rehash(c.cabinetId, { ...s, totalFen: s.totalFen + 1 }) : s))
    expect(await c.send(aBatch(c.cabinetId, wrongTotal))).toMatchObject({ status: 'rejected', code: 'SALE_TOTAL_MISMATCH' })
    const editedNoRehash = good.map((s, i) => (i === 2 ? { ...s, payment: 'cash' as const } : s))
    expect(await c.send(aBatch(c.cabinetId, editedNoRehash))).toMatchObject({ status: 'rejected', code: 'SALE_CHAIN_BROKEN' })
    const badLink = aChain(c.cabinetId, 2, { prevHash: 'f'.repeat(64) })
    expect(await c.send(aBatch(c.cabinetId, badLink))).toMatchObject({ status: 'rejected', code: 'SALE_CHAIN_BROKEN' })
    const other = aChain('341125-99999', 1)
    expect(await c.send(aBatch('341125-99999', other))).toMatchObject({ status: 'rejected', code: 'CABINET_MISMATCH' })
    expect(await storedSeqs(fleet, c.cabinetId)).toEqual([])
    expect(await c.send(aBatch(c.cabinetId, good))).toMatchObject({ status: 'committed', ackedSeq: 3 })
  })

  it('answers undecodable payloads with BAD_MESSAGE, UNSUPPORTED_VERSION and MESSAGE_TOO_LARGE and stays up', async () => {
    const fleet = await startFleet()
    const c = await aCabinet(fleet)
    expect(await c.sendRaw('{not json')).toMatchObject({ status: 'rejected', code: 'BAD_MESSAGE' })
    const v2 = { ...aBatch(c.cabinetId, aChain(c.cabinetId, 1)), v: 2 }
    expect(await c.sendRaw(JSON.stringify(v2))).toMatchObject({ status: 'rejected', code: 'UNSUPPORTED_VERSION', batchId: v2.batchId })
    const noSales = { ...aBatch(c.cabinetId, aChain(c.cabinetId, 1)), sales: [] }
    const schema = await c.sendRaw(JSON.stringify(noSales))
    expect(schema).toMatchObject({ status: 'rejected', code: 'BAD_MESSAGE', batchId: noSales.batchId })
    expect(schema.status === 'rejected' && schema.message).toMatch(/sales/)
    // Over the application limit but under the transport cap: accepted at the transport, answered.
    const big = JSON.stringify(aBatch(c.cabinetId, aChain(c.cabinetId, 1))).replace('"v":1', `"pad":"${'x'.repeat(MAX_MESSAGE_BYTES)}","v":1`)
    expect(await c.sendRaw(big)).toMatchObject({ status: 'rejected', code: 'MESSAGE_TOO_LARGE' })
    expect(c.client.connected).toBe(true)
    expect(await storedSeqs(fleet, c.cabinetId)).toEqual([])
    expect(await c.send(aBatch(c.cabinetId, aChain(c.cabinetId, 2)))).toMatchObject({ status: 'committed', ackedSeq: 2 })
    const metrics = (await fleet.http.inject({ method: 'GET', url: '/metrics' })).body
    expect(metrics).toMatch(/fleet_sale_batches_rejected_total\{code="BAD_MESSAGE"\} 2/)
    expect(metrics).toMatch(/fleet_sale_batches_rejected_total\{code="MESSAGE_TOO_LARGE"\} 1/)
  })

  it('flags implausible soldAt (far from recordedAt, or in the future) and keeps the sale', async () => {
    const now = new Date('2020-10-01T04:00:00.000Z')
    const fleet = await startFleet({}, { now: () => now })
    const c = await aCabinet(fleet)
    const sales = aChain(c.cabinetId, 3, {
      soldAt: (i) => ['2020-10-01T03:59:00.000Z', '2020-09-28T00:00:00.000Z', '2020-10-01T04:10:00.000Z'][i]!,
      recordedAt: (i) => ['2020-10-01T03:59:01.000Z', '2020-10-01T03:59:02.000Z', '2020-10-01T04:10:00.000Z'][i]!,
    })
    expect(await c.send(aBatch(c.cabinetId, sales))).toMatchObject({ status: 'committed', ackedSeq: 3 })
    expect(await rows(fleet, 'SELECT seq, skew_flag FROM sales WHERE cabinet_id = ? ORDER BY seq', c.cabinetId)).toEqual([
      { seq: 1, skew_flag: 0 },
      { seq: 2, skew_flag: 1 },
      { seq: 3, skew_flag: 2 },
    ])
  })

  it("times each committed sale from the agent's durable record (recordedAt, its 201) to the server's commit", async () => {
    // A fixed server clock 5 s after the agent recorded the sales: every delay is exactly 5 s.
    const now = new Date('2020-10-01T04:00:05.000Z')
    const fleet = await startFleet({}, { now: () => now })
    const c = await aCabinet(fleet)
    const sales = aChain(c.cabinetId, 3, { soldAt: () => '2020-10-01T04:00:00.000Z' })
    expect(await c.send(aBatch(c.cabinetId, sales))).toMatchObject({ status: 'committed', ackedSeq: 3 })
    // A replay commits nothing new and is not timed again.
    expect(await c.send(aBatch(c.cabinetId, sales))).toMatchObject({ status: 'committed', ackedSeq: 3 })
    const metrics = (await fleet.http.inject({ method: 'GET', url: '/metrics' })).body
    expect(metrics).toMatch(/fleet_sale_commit_delay_seconds_bucket\{le="2"\} 0\n/)
    expect(metrics).toMatch(/fleet_sale_commit_delay_seconds_bucket\{le="5"\} 3\n/)
    expect(metrics).toMatch(/fleet_sale_commit_delay_seconds_count 3\n/)
    expect(metrics).toMatch(/fleet_ingest_batch_wait_seconds_count 1\n/)
  })
})

describe('sale ingest: group commit and durability', () => {
  it('commits 50 cabinets × 4 batches sent concurrently, each sale exactly once', async () => {
    const fleet = await startFleet()
    const cabinets = await Promise.all(Array.from({ length: 50 }, () => aCabinet(fleet)))
    await Promise.all(
      cabinets.map(async (c) => {
        let chain: Sale[] = []
        for (let b = 0; b < 4; b++) {
          const next = aChain(c.cabinetId, 25, { after: chain })
          chain = [...chain, ...next]
          // Publish without waiting: several batches of one cabinet can land in one tick.
          void c.client.publishAsync(`cabinets/${c.cabinetId}/up/sales`, JSON.stringify(aBatch(c.cabinetId, next)), { qos: 1 })
        }
        await expect.poll(() => c.replies.some((r) => r.status === 'committed' && r.ackedSeq === 100), { timeout: 20_000 }).toBe(true)
        expect(c.replies.filter((r) => r.status === 'rejected')).toEqual([])
      }),
    )
    expect(await rows(fleet, 'SELECT count(*) AS n, count(DISTINCT cabinet_id) AS cabs FROM sales')).toEqual([{ n: 5000, cabs: 50 }])
    expect((await rows<{ c: number }>(fleet, 'SELECT CAST(sum(sales_count) AS BIGINT) AS c FROM cabinet_sales'))[0]!.c).toBe(5000)
    const metrics = (await fleet.http.inject({ method: 'GET', url: '/metrics' })).body
    expect(metrics).toMatch(/fleet_sales_ingested_total 5000/)
    // Group commit: far fewer transactions than batches.
    const ticks = Number(/fleet_ingest_tick_seconds_count (\d+)/.exec(metrics)?.[1])
    expect(ticks).toBeLessThan(200)
  })

  it('holds back reading under a small queue budget and still commits everything, over many ticks', async () => {
    const fleet = await startFleet({ FLEET_INGEST_MAX_QUEUED_BYTES: '4096', FLEET_INGEST_MAX_BATCHES_PER_TICK: '2' })
    const cabinets = await Promise.all(Array.from({ length: 10 }, () => aCabinet(fleet)))
    await Promise.all(
      cabinets.map(async (c) => {
        let chain: Sale[] = []
        for (let b = 0; b < 3; b++) {
          chain = aChain(c.cabinetId, 10, { after: chain })
          void c.client.publishAsync(`cabinets/${c.cabinetId}/up/sales`, JSON.stringify(aBatch(c.cabinetId, chain)), { qos: 1 })
        }
        await expect.poll(() => c.replies.filter((r) => r.status === 'committed').length, { timeout: 20_000 }).toBe(3)
        expect(c.replies.at(-1)).toMatchObject({ ackedSeq: 30 })
      }),
    )
    expect(await rows(fleet, 'SELECT count(*) AS n FROM sales')).toEqual([{ n: 300 }])
  })

  it('keeps sales and chain heads across a restart on the same data dir', async () => {
    const dataDir = await tempDir()
    let fleet = await startFleet({}, { dataDir, manualClose: true })
    const cab = await provision(fleet)
    let c = await connectCabinet(fleet.mqttUrl, cab)
    const first = aChain(cab.cabinetId, 5)
    await c.send(aBatch(cab.cabinetId, first))
    await c.close()
    await fleet.close()

    fleet = await startFleet({}, { dataDir })
    c = await connectCabinet(fleet.mqttUrl, cab)
    // The reloaded head knows seq 5: a replay is re-acked, a gap is caught, the continuation commits.
    expect(await c.send(aBatch(cab.cabinetId, first.slice(3)))).toMatchObject({ status: 'committed', ackedSeq: 5, ackedHash: first[4]!.hash })
    const next = aChain(cab.cabinetId, 3, { after: first })
    expect(await c.send(aBatch(cab.cabinetId, next.slice(1)))).toMatchObject({ code: 'SALE_SEQ_GAP', expectedSeq: 6 })
    expect(await c.send(aBatch(cab.cabinetId, next))).toMatchObject({ status: 'committed', ackedSeq: 8 })
    expect((await cabinetSales(fleet, cab.cabinetId)).sales).toMatchObject({ count: 8, amountFen: sumFen(first) + sumFen(next) })
  })

  it('commits and acks what was queued when it closes', async () => {
    const fleet = await startFleet({}, { manualClose: true })
    const c = await aCabinet(fleet)
    const sales = aChain(c.cabinetId, 20)
    await c.client.publishAsync(`cabinets/${c.cabinetId}/up/sales`, JSON.stringify(aBatch(c.cabinetId, sales)), { qos: 1 })
    await fleet.close()
    await fleet.close() // idempotent
    expect(c.replies).toMatchObject([{ status: 'committed', ackedSeq: 20 }])
  })
})
