// Planogram and stock on the fleet server (issue 16 §3): a planogram set
// through the API reaches a real agent and its stock report comes back; a
// restock goes out as a command; older reports are ignored; stock_out and
// stock_low raise and clear by county; the restock list groups and totals,
// and its CSV and XLSX say what its JSON says.
import { parse } from 'csv-parse/sync'
import ExcelJS from 'exceljs'
import { pino } from 'pino'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createAgent, makeConfig, type Agent } from '../../edge-agent/src/index.js'
import type { Fleet } from '../../fleet-server/src/app.js'
import { topics, type AlertList, type CabinetStockReply, type RestockList, type StockMsg } from '../../shared/src/index.js'
import { createStockStore } from '../../fleet-server/src/stock/store.js'
import { api, connectCabinet, provision, startFleet, tempDir, type Provisioned } from '../helpers/fleet.js'
import { userToken } from '../helpers/rollout.js'
import { aUscc } from './certification.fixtures.js'

const silent = pino({ level: 'silent' })

async function fleetWithProducts() {
  const fleet = await startFleet()
  expect((await api(fleet, 'POST', '/api/v1/suppliers', { uscc: aUscc(1), name: '定远县合作社' })).status).toBe(201)
  for (const [sku, name] of [['DY-RICE', '定远大米'], ['DY-OIL', '定远菜籽油']] as const) {
    expect((await api(fleet, 'POST', '/api/v1/products', { sku, name, supplierUscc: aUscc(1), priceFen: 3_990 })).status).toBe(201)
  }
  return fleet
}

async function startAgentFor(fleet: Fleet, cab: Provisioned, dataDir?: string): Promise<Agent> {
  const agent = await createAgent(makeConfig({
    cabinetId: cab.cabinetId, dataDir: dataDir ?? (await tempDir('agent-')), serverUrl: fleet.mqttUrl, username: cab.mqtt.username, password: cab.mqtt.password, apiPort: 0,
    logLevel: 'silent', backoffMinMs: 20, backoffMaxMs: 200, ackTimeoutMs: 2_000,
  }), { logger: silent })
  onTestFinished(() => agent.close())
  await expect.poll(() => agent.status().connected, { timeout: 10_000 }).toBe(true)
  return agent
}

const stockOf = async (fleet: Fleet, id: string, token?: string) => api<CabinetStockReply>(fleet, 'GET', `/api/v1/cabinets/${id}/stock`, undefined, token ?? fleet.adminToken)
const qtys = async (fleet: Fleet, id: string) => Object.fromEntries((await stockOf(fleet, id)).body.slots.map((s) => [s.slot, s.qty]))

/** Publishes a stock report as the cabinet would. */
async function report(fleet: Fleet, cab: Provisioned, rev: number, slots: Array<[string, string, number, number, number]>) {
  const c = await connectCabinet(fleet.mqttUrl, cab)
  const msg: StockMsg = {
    v: 1, type: 'stock', cabinetId: cab.cabinetId, sentAt: new Date().toISOString(), rev,
    slots: slots.map(([slot, sku, capacity, par, qty]) => ({ slot, sku, capacity, par, qty, oversold: 0 })),
  }
  await c.client.publishAsync(topics.stock(cab.cabinetId), JSON.stringify(msg), { qos: 1 })
  await c.close()
}

describe('planogram and stock', () => {
  it('a planogram set through the API reaches the agent, its stock report comes back; a restock and sales follow', async () => {
    const fleet = await fleetWithProducts()
    const cab = await provision(fleet, { countyCode: '341125', operator: 'dy-coop', siteName: '定远县政府' })
    const agent = await startAgentFor(fleet, cab)
    const operator = await userToken(fleet, { username: 'dy-op', role: 'operator', operator: 'dy-coop' })
    const slots = [{ slot: 'A1', sku: 'DY-RICE', capacity: 10, par: 8 }, { slot: 'A2', sku: 'DY-OIL', capacity: 6, par: 5 }]

    const put = await fleet.http.inject({ method: 'PUT', url: `/api/v1/cabinets/${cab.cabinetId}/planogram`, headers: { authorization: `Bearer ${operator}` }, payload: { slots } })
    expect(put.statusCode, put.body).toBe(200)
    await expect.poll(async () => (await stockOf(fleet, cab.cabinetId)).body.slots.length, { timeout: 10_000 }).toBe(2)
    const first = (await stockOf(fleet, cab.cabinetId, operator)).body
    expect(first.planogram).toMatchObject({ slots, state: 'done', setBy: 'dy-op' })
    expect(first.slots).toEqual([
      { slot: 'A1', sku: 'DY-RICE', productName: '定远大米', capacity: 10, par: 8, qty: 0, oversold: 0, level: 'out' },
      { slot: 'A2', sku: 'DY-OIL', productName: '定远菜籽油', capacity: 6, par: 5, qty: 0, oversold: 0, level: 'out' },
    ])

    const restock = await api<{ commandId: string; restockId: string }>(fleet, 'POST', `/api/v1/cabinets/${cab.cabinetId}/restocks`, { fill: true }, operator)
    expect(restock.status).toBe(201)
    await expect.poll(() => qtys(fleet, cab.cabinetId), { timeout: 10_000 }).toEqual({ A1: 8, A2: 5 })
    const sale = await fetch(`http://127.0.0.1:${agent.apiPort}/sales`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ items: [{ sku: 'DY-RICE', qty: 7, unitPriceFen: 3_990 }], payment: 'cash' }) })
    expect(sale.status).toBe(201)
    await expect.poll(() => qtys(fleet, cab.cabinetId), { timeout: 10_000 }).toEqual({ A1: 1, A2: 5 })
    expect((await stockOf(fleet, cab.cabinetId)).body.slots[0]!.level).toBe('low')

    // Bad input: 400 with a code, never 5xx.
    const bad = await fleet.http.inject({ method: 'PUT', url: `/api/v1/cabinets/${cab.cabinetId}/planogram`, headers: { authorization: `Bearer ${operator}` }, payload: { slots: [{ slot: 'A1', sku: 'DY-RICE', capacity: 1, par: 5 }] } })
    expect(bad.statusCode).toBe(400)
    expect((await api(fleet, 'POST', `/api/v1/cabinets/${cab.cabinetId}/restocks`, { slots: [] })).status).toBe(400)
    // An auditor reads but may not restock.
    const auditor = await userToken(fleet, { username: 'aud', role: 'auditor' })
    expect((await stockOf(fleet, cab.cabinetId, auditor)).status).toBe(200)
    expect((await api(fleet, 'POST', `/api/v1/cabinets/${cab.cabinetId}/restocks`, { fill: true }, auditor)).status).toBe(403)
  })

  it('keeps the newest report: an older rev arriving late is ignored', async () => {
    const fleet = await fleetWithProducts()
    const cab = await provision(fleet, { countyCode: '341125' })
    await report(fleet, cab, 5, [['A1', 'DY-RICE', 10, 8, 6]])
    await expect.poll(() => qtys(fleet, cab.cabinetId)).toEqual({ A1: 6 })
    await report(fleet, cab, 6, [['A1', 'DY-RICE', 10, 8, 3]])
    await expect.poll(() => qtys(fleet, cab.cabinetId)).toEqual({ A1: 3 })
    // Late and older, through the store the module writes with (deterministic: no wait for a message that changes nothing).
    const store = createStockStore(fleet.database)
    const older: StockMsg = { v: 1, type: 'stock', cabinetId: cab.cabinetId, sentAt: new Date().toISOString(), rev: 4, slots: [{ slot: 'A1', sku: 'DY-RICE', capacity: 10, par: 8, qty: 9, oversold: 0 }] }
    expect(await store.putReport(older, new Date().toISOString())).toBe(false)
    expect(await qtys(fleet, cab.cabinetId)).toEqual({ A1: 3 })
    expect((await stockOf(fleet, cab.cabinetId)).body.rev).toBe(6)
    // The same rev again (a reconnect's report) is taken; a newer one replaces the slots.
    expect(await store.putReport({ ...older, rev: 6, slots: [{ ...older.slots[0]!, qty: 3 }] }, new Date().toISOString())).toBe(true)
    expect(await store.putReport({ ...older, rev: 7, slots: [] }, new Date().toISOString())).toBe(true)
    expect(await qtys(fleet, cab.cabinetId)).toEqual({})
  })

  it('raises stock_out and stock_low by slot, clears them when restocked, and a county sees only its own', async () => {
    const fleet = await fleetWithProducts()
    const dy = await provision(fleet, { countyCode: '341125' })
    const fy = await provision(fleet, { countyCode: '341126' })
    await report(fleet, dy, 1, [['A1', 'DY-RICE', 10, 10, 0], ['A2', 'DY-OIL', 10, 10, 2], ['A3', 'DY-OIL', 10, 10, 3]])
    await report(fleet, fy, 1, [['B1', 'DY-RICE', 10, 10, 0]])
    await expect.poll(async () => (await stockOf(fleet, fy.cabinetId)).body.slots.length).toBe(1)
    await expect.poll(async () => (await stockOf(fleet, dy.cabinetId)).body.slots.length).toBe(3)
    expect((await api(fleet, 'POST', '/api/v1/alerts/evaluate')).status).toBe(200)
    const open = async (token: string, kind: string) =>
      (await api<AlertList>(fleet, 'GET', `/api/v1/alerts?kind=${kind}`, undefined, token)).body.alerts.map((a) => a.subject).sort()
    expect(await open(fleet.adminToken, 'stock_out')).toEqual([`${dy.cabinetId}:A1`, `${fy.cabinetId}:B1`].sort())
    expect(await open(fleet.adminToken, 'stock_low')).toEqual([`${dy.cabinetId}:A2`]) // 3 of 10 is above 20%
    const dyOfficial = await userToken(fleet, { username: 'dy-county', role: 'county', countyCode: '341125' })
    expect(await open(dyOfficial, 'stock_out')).toEqual([`${dy.cabinetId}:A1`])

    await report(fleet, dy, 2, [['A1', 'DY-RICE', 10, 10, 10], ['A2', 'DY-OIL', 10, 10, 10], ['A3', 'DY-OIL', 10, 10, 3]])
    await expect.poll(() => qtys(fleet, dy.cabinetId)).toMatchObject({ A1: 10 })
    await api(fleet, 'POST', '/api/v1/alerts/evaluate')
    expect(await open(fleet.adminToken, 'stock_out')).toEqual([`${fy.cabinetId}:B1`])
    expect(await open(fleet.adminToken, 'stock_low')).toEqual([])
  })

  it('restock list: below-par slots by county and site with sku totals, scoped; CSV and XLSX read back equal the JSON', async () => {
    const fleet = await fleetWithProducts()
    const a = await provision(fleet, { countyCode: '341125', operator: 'dy-coop', siteName: '定远县政府' })
    const b = await provision(fleet, { countyCode: '341125', operator: 'other', siteName: '=定远站' })
    const c = await provision(fleet, { countyCode: '341126', operator: 'dy-coop', siteName: '凤阳县医院' })
    await report(fleet, a, 1, [['A1', 'DY-RICE', 10, 8, 3], ['A2', 'DY-OIL', 10, 8, 8]])
    await report(fleet, b, 1, [['A1', 'DY-RICE', 10, 8, 6], ['A2', 'DY-OIL', 6, 4, 0]])
    await report(fleet, c, 1, [['C1', 'DY-RICE', 10, 10, 1]])
    for (const cab of [a, b, c]) await expect.poll(async () => (await stockOf(fleet, cab.cabinetId)).body.slots.length).toBeGreaterThan(0)

    const all = await api<RestockList>(fleet, 'GET', '/api/v1/restock-list')
    expect(all.status).toBe(200)
    expect(all.body.counties.map((x) => [x.countyName, x.sites.map((s) => s.siteName)])).toEqual([['定远县', ['=定远站', '定远县政府']], ['凤阳县', ['凤阳县医院']]])
    expect(all.body.counties[0]!.totals).toEqual([{ sku: 'DY-OIL', productName: '定远菜籽油', need: 4 }, { sku: 'DY-RICE', productName: '定远大米', need: 7 }])
    expect(all.body.totals).toEqual([{ sku: 'DY-OIL', productName: '定远菜籽油', need: 4 }, { sku: 'DY-RICE', productName: '定远大米', need: 16 }])

    // Scope: a county official its county only (another county's is refused); an operator its own cabinets in every county.
    const dyOfficial = await userToken(fleet, { username: 'dy-county', role: 'county', countyCode: '341125' })
    const own = await api<RestockList>(fleet, 'GET', '/api/v1/restock-list', undefined, dyOfficial)
    expect(own.body.counties.map((x) => x.countyCode)).toEqual(['341125'])
    expect((await api(fleet, 'GET', '/api/v1/restock-list?county=341126', undefined, dyOfficial)).status).toBe(403)
    const operator = await userToken(fleet, { username: 'dy-op', role: 'operator', operator: 'dy-coop' })
    const mine = await api<RestockList>(fleet, 'GET', '/api/v1/restock-list', undefined, operator)
    expect(mine.body.counties.flatMap((x) => x.sites.flatMap((s) => s.cabinets.map((k) => k.cabinetId)))).toEqual([a.cabinetId, c.cabinetId])
    expect((await api(fleet, 'GET', '/api/v1/restock-list?format=pdf')).status).toBe(400)

    // The files: the same lines and totals as the JSON.
    const expectedLines = all.body.counties.flatMap((co) => co.sites.flatMap((s) => s.cabinets.flatMap((k) => k.lines.map((l) => [co.countyName, s.siteName ?? '', k.cabinetId, l.slot, l.sku, l.productName ?? '', l.par, l.qty, l.need]))))
    const expectedTotals = [
      ...all.body.counties.flatMap((co) => co.totals.map((t) => [co.countyName, t.sku, t.productName ?? '', t.need])),
      ...all.body.totals.map((t) => ['全部', t.sku, t.productName ?? '', t.need]),
    ]
    const csv = await fleet.http.inject({ method: 'GET', url: '/api/v1/restock-list?format=csv', headers: { authorization: `Bearer ${fleet.adminToken}` } })
    expect(csv.statusCode).toBe(200)
    expect(csv.headers['content-type']).toMatch(/^text\/csv/)
    expect(csv.rawPayload.subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]))
    const records = parse(csv.rawPayload, { bom: true, relax_column_count: true }) as string[][]
    expect(records[0]).toEqual(['区县', '点位名称', '专柜编号', '货道', '商品编码', '商品名称', '标准库存', '现有库存', '需补数量'])
    const blank = records.findIndex((r) => r.every((x) => x === ''))
    const asText = (rows: Array<Array<string | number>>) => rows.map((r) => r.map((x) => (typeof x === 'number' ? String(x) : x.startsWith('=') ? `'${x}` : x)))
    expect(records.slice(1, blank)).toEqual(asText(expectedLines))
    expect(records[blank + 1]![0]).toBe('装车合计')
    expect(records.slice(blank + 3).map((r) => r.slice(0, 4))).toEqual(asText(expectedTotals))

    const xlsx = await fleet.http.inject({ method: 'GET', url: '/api/v1/restock-list?format=xlsx', headers: { authorization: `Bearer ${fleet.adminToken}` } })
    expect(xlsx.statusCode).toBe(200)
    const wb = new ExcelJS.Workbook()
    await wb.xlsx.load(xlsx.rawPayload as unknown as ArrayBuffer)
    const rows = (name: string) => {
      const out: Array<Array<string | number>> = []
      wb.getWorksheet(name)!.eachRow((row, n) => {
        if (n > 1) out.push((row.values as Array<string | number | null>).slice(1).map((v) => v ?? ''))
      })
      return out
    }
    expect(rows('补货单')).toEqual(expectedLines)
    expect(rows('装车合计')).toEqual(expectedTotals)
  })
})
