// Targets and catalog figures in the report files (issue 15): the 目标进度
// sheet equals the report JSON's targets and GET /overview's for the same
// date; the 扶贫产品目录 sheet and the JSON's catalog figures equal what the
// catalog API shows (GET /products, /certificates, /certification/publicity);
// both read back from the XLSX with exceljs and found in the CSV.
import { parse } from 'csv-parse/sync'
import ExcelJS from 'exceljs'
import { describe, expect, it } from 'vitest'
import type { Fleet } from '../../fleet-server/src/app.js'
import { usccDivision, type OverviewReply, type ReportDocument } from '../../shared/src/index.js'
import { api } from '../helpers/fleet.js'
import { aClock, aDatedCabinet, aUscc, fleetWith, line, ok } from './certification.fixtures.js'

// Tuesday 2020-10-06 10:00 in Shanghai: week 40 (09-28..10-04) has ended.
const TUESDAY = '2020-10-06T02:00:00Z'
const AS_OF = '2020-10-04'

async function readXlsx(bytes: ArrayBuffer): Promise<ExcelJS.Workbook> {
  const wb = new ExcelJS.Workbook()
  await wb.xlsx.load(bytes)
  return wb
}

const rowsOf = (ws: ExcelJS.Worksheet): unknown[][] => {
  const out: unknown[][] = []
  ws.eachRow({ includeEmpty: true }, (row, n) => (out[n - 1] = (row.values as unknown[]).slice(1)))
  return out
}

/** Header → value objects of a sheet's table body (rows under `headerRow`, up to a 合计 row). */
function records(ws: ExcelJS.Worksheet, headerRow: number): Array<Record<string, unknown>> {
  const rows = rowsOf(ws)
  const head = rows[headerRow - 1] as string[]
  return rows.slice(headerRow).map((r) => Object.fromEntries(head.map((h, i) => [h, r[i] ?? null])))
}

/** A 元 cell back to fen (the sheet holds fen / 100). */
const fen = (v: unknown): number => Math.round(Number(v) * 100)

/** A fleet with two counties' catalogs, one application in 公示, and sales in week 40. */
async function aFleet(): Promise<Fleet> {
  const fleet = await fleetWith({ deps: { now: aClock(TUESDAY).now }, env: { FLEET_REPORTS_SCHEDULE: 'off' } })
  const dyToken = (await ok<{ token: string }>(fleet, 'POST', '/api/v1/users', { username: 'dy-official', role: 'county', countyCode: '341125' })).token
  const dy = aUscc(1)
  const fy = aUscc(2, '341126')
  const created = await api(fleet, 'POST', '/api/v1/suppliers', { uscc: dy, name: '定远县蜂业合作社' }, dyToken)
  expect(created.status).toBe(201)
  await ok(fleet, 'POST', '/api/v1/suppliers', { uscc: fy, name: '凤阳县粮油合作社' })
  const products: Array<[string, string, [string, string?] | null]> = [
    ['DY-A', dy, ['2020-01-01']],
    // In force on 10-04 and ending within 30 days: counted as expiring.
    ['DY-B', dy, ['2019-10-21', '2020-10-20']],
    ['DY-C', dy, null],
    // Not yet in force on 10-04.
    ['DY-D', dy, ['2020-10-05']],
    ['FY-A', fy, ['2020-01-01']],
  ]
  for (const [sku, uscc, cert] of products) {
    await ok(fleet, 'POST', '/api/v1/products', { sku, name: `商品${sku}`, supplierUscc: uscc, priceFen: 1000 })
    if (cert) await ok(fleet, 'POST', '/api/v1/certificates', { sku, certificateNo: `CERT-${sku}`, validFrom: cert[0], ...(cert[1] && { validTo: cert[1] }) })
  }
  const product = { name: '定远蜂蜜', priceFen: 3990, origin: '定远县', category: '农副产品', materialSource: '自养蜂群', annualOutput: '5000 公斤', supplyPeriod: '全年' }
  const filed = await api<{ applicationId: number }>(fleet, 'POST', '/api/v1/certification/applications', { kind: 'new', supplierUscc: dy, sku: 'DY-HONEY', product }, dyToken)
  expect(filed.status, JSON.stringify(filed.body)).toBe(201)
  const reviewed = await api<{ state: string }>(fleet, 'POST', `/api/v1/certification/applications/${filed.body.applicationId}/review`, { decision: 'approve' }, dyToken)
  expect(reviewed.body.state).toBe('publicity')

  const cab = await aDatedCabinet(fleet, { countyCode: '341125', operator: 'dy-coop' })
  await cab.sell('2020-09-29', [line('DY-A', 3000), line('DY-C', 1000)])
  await cab.sell('2020-10-02', [line('DY-B', 500)])
  return fleet
}

async function aReport(fleet: Fleet, body: Record<string, unknown>): Promise<{ doc: ReportDocument; file: (format: string) => Promise<Response> }> {
  const { reportId } = await ok<{ reportId: string }>(fleet, 'POST', '/api/v1/reports', body)
  const doc = await ok<ReportDocument>(fleet, 'GET', `/api/v1/reports/${reportId}`)
  const file = (format: string) => fetch(`${fleet.httpUrl}/api/v1/reports/${reportId}?format=${format}`, { headers: { authorization: `Bearer ${fleet.adminToken}` } })
  return { doc, file }
}

/** The catalog API's figures per county as of a date, counted here from its lists. */
async function catalogApiFigures(fleet: Fleet, asOf: string) {
  const products = (await ok<{ products: Array<{ supplierUscc: string; isCertified: boolean }> }>(fleet, 'GET', `/api/v1/products?asOf=${asOf}`)).products
  const certs = (await ok<{ certificates: Array<{ supplierUscc: string; validTo: string; sku: string }> }>(fleet, 'GET', `/api/v1/certificates?asOf=${asOf}&status=valid`)).certificates
  const notices = (await ok<{ notices: Array<{ countyCode: string | null }> }>(fleet, 'GET', '/api/v1/certification/publicity')).notices
  const in30 = new Date(Date.parse(`${asOf}T00:00:00Z`) + 30 * 86_400_000).toISOString().slice(0, 10)
  return (code: string) => ({
    certifiedProducts: products.filter((p) => p.isCertified && usccDivision(p.supplierUscc) === code).length,
    expiringCertificates: certs.filter((c) => c.validTo <= in30 && usccDivision(c.supplierUscc) === code).length,
    inPublicity: notices.filter((n) => n.countyCode === code).length,
  })
}

describe('report targets and catalog figures', () => {
  it('puts the targets in a 目标进度 sheet equal to the report JSON and to GET /overview for the same date', async () => {
    const fleet = await aFleet()
    const { doc, file } = await aReport(fleet, { kind: 'weekly', period: '2020-W40' })
    expect(doc.targetsAsOf).toBe(AS_OF)
    const overview = await ok<OverviewReply>(fleet, 'GET', `/api/v1/overview?date=${AS_OF}`)
    expect(doc.targets).toEqual(overview.targets)
    expect(doc.targets!.length).toBeGreaterThan(0)

    const wb = await readXlsx(await (await file('xlsx')).arrayBuffer())
    const ws = wb.getWorksheet('目标进度')!
    expect(ws.views[0]).toMatchObject({ state: 'frozen', ySplit: 1 })
    expect(ws.autoFilter).toBe(`A1:N${1 + doc.targets!.length}`)
    const rows = records(ws, 1)
    expect(rows.map((r) => r['目标编号'])).toEqual(doc.targets!.map((t) => t.id))
    for (const [i, t] of doc.targets!.entries()) {
      const r = rows[i]!
      const back = (v: unknown) => (t.unit === 'fen' ? fen(v) : v)
      expect({ target: back(r['目标值']), actual: back(r['完成']), expectedByNow: back(r['按进度应完成']), projected: back(r['预计到期完成']) }, t.id).toEqual({
        target: t.target,
        actual: t.actual,
        expectedByNow: t.expectedByNow,
        projected: t.projected,
      })
      expect(r['单位']).toBe(t.unit === 'fen' ? '元' : '个')
      expect(r['是否按期']).toBe(t.onTrack ? '按期' : '落后')
      expect(r['状态']).toBe({ met: '已完成', due: '进行中', missed: '已逾期' }[t.state])
      expect([r['开始日期'], r['截止日期']]).toEqual([t.startDate, t.dueDate])
    }
    // The city's certified sales in September and October to date: 3000 + 500 fen.
    const city = rows.find((r) => r['目标编号'] === 'city-sales-2020')!
    expect(fen(city['完成'])).toBe(3500)

    const csv = parse(Buffer.from(await (await file('csv')).arrayBuffer()), { bom: true, relax_column_count: true }) as string[][]
    const at = csv.findIndex((r) => r[0] === '目标进度')
    expect(at).toBeGreaterThan(0)
    expect(csv[at + 1]!.slice(0, 3)).toEqual(['目标编号', '目标', '范围'])
    expect(csv.slice(at + 2, at + 2 + doc.targets!.length).map((r) => r[0])).toEqual(doc.targets!.map((t) => t.id))
    expect(csv.find((r) => r[0] === 'city-sales-2020')![6]).toBe('35.00')
  })

  it('carries catalog figures per county equal to the catalog API, with the plan\'s certified-product targets', async () => {
    const fleet = await aFleet()
    const { doc, file } = await aReport(fleet, { kind: 'weekly', period: '2020-W40' })
    const c = doc.catalog!
    expect(c).toMatchObject({ asOf: AS_OF, expiringWithinDays: 30 })
    expect(c.counties.map((x) => x.code)).toEqual(fleet.plan.counties.map((x) => x.code))
    const fromApi = await catalogApiFigures(fleet, AS_OF)
    for (const x of c.counties) {
      expect({ certifiedProducts: x.certifiedProducts, expiringCertificates: x.expiringCertificates, inPublicity: x.inPublicity }, x.code).toEqual(fromApi(x.code))
      const target = fleet.plan.targets.find((t) => t.kind === 'certified_products' && t.scope.kind === 'county' && t.scope.code === x.code)
      expect(x.certifiedProductsTarget).toBe(target?.kind === 'certified_products' ? target.count : null)
    }
    // The fixture's own figures, so the comparison above is not vacuous.
    expect(c.counties.find((x) => x.code === '341125')).toMatchObject({ certifiedProducts: 2, certifiedProductsTarget: 60, expiringCertificates: 1, inPublicity: 1 })
    expect(c.counties.find((x) => x.code === '341126')).toMatchObject({ certifiedProducts: 1, expiringCertificates: 0, inPublicity: 0 })
    expect(c.totals).toMatchObject({ certifiedProducts: 3, expiringCertificates: 1, inPublicity: 1 })
    // The same count as the target's progress (actual) of that date.
    expect(doc.targets!.find((t) => t.id === 'certified-products-341125')!.actual).toBe(2)

    const wb = await readXlsx(await (await file('xlsx')).arrayBuffer())
    const ws = wb.getWorksheet('扶贫产品目录')!
    expect(ws.views[0]).toMatchObject({ state: 'frozen', ySplit: 2 })
    expect(ws.autoFilter).toBe(`A2:G${2 + c.counties.length}`)
    const rows = records(ws, 2)
    for (const [i, x] of c.counties.entries()) {
      expect(rows[i]).toMatchObject({ 区县代码: x.code, 区县: x.name, 认定扶贫产品数: x.certifiedProducts, 计划目标: x.certifiedProductsTarget, '30日内到期证书': x.expiringCertificates, 公示中申请: x.inPublicity })
    }
    expect(rows[c.counties.length]).toMatchObject({ 区县: '合计', 认定扶贫产品数: 3, '30日内到期证书': 1, 公示中申请: 1 })
    expect(rows[0]!['完成率']).toBeCloseTo(2 / 60, 4)

    // A county's report: its own county only.
    const county = await aReport(fleet, { kind: 'weekly', period: '2020-W40', county: '341126' })
    expect(county.doc.catalog!.counties.map((x) => x.code)).toEqual(['341126'])
    expect(county.doc.catalog!.totals).toMatchObject({ certifiedProducts: 1, inPublicity: 0 })
  })
})
