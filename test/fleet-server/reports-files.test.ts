// The report files, read back the way a user's tools read them: the XLSX
// workbook with exceljs (sheets, frozen header rows, autofilters, 合计 rows
// equal to the API's totals and to the sum of the rows above, 元 and share
// formats, document properties) and the CSV with csv-parse (BOM, RFC 4180
// quoting, the formula guard, totals) — rendered from a document, and
// downloaded from a report taken over the API with real sales.
import { parse } from 'csv-parse/sync'
import ExcelJS from 'exceljs'
import { describe, expect, it } from 'vitest'
import type { Fleet } from '../../fleet-server/src/app.js'
import { renderCsv, renderXlsx } from '../../fleet-server/src/reports/index.js'
import type { ReportDocument, ReportSummary } from '../../shared/src/index.js'
import { countingTurns } from '../helpers/event-loop.js'
import { api } from '../helpers/fleet.js'
import { aCatalog, aClock, aDatedCabinet, fleetWith, line } from './certification.fixtures.js'

const aReport = (overrides: Partial<ReportDocument> = {}): ReportDocument => {
  const sales = { salesCount: 4, amountFen: 123461, certifiedAmountFen: 61728, shareBp: 4999, ratio: 0.4999, compliantCabinets: 0, judgedCabinets: 2 }
  const rollout = { quota: 415, sitesAssigned: 2, installed: 1, operating: 1, online: 0 }
  const forwarding = { sent: 1, pending: 0, held: 2, failed: 0 }
  return {
    v: 1, reportId: '0190b3c4-0000-7000-8000-000000000001', kind: 'weekly', period: '2020-W40',
    title: '定远县消费扶贫智能专柜周报（2020年第40周，2020-09-28至2020-10-04）', scope: 'county:341125', scopeName: '定远县',
    countyCode: '341125', operator: null, from: '2020-09-28', to: '2020-10-04', timeZone: 'Asia/Shanghai', dueOn: '2020-10-06', isComplete: true,
    createdAt: '2020-10-05T22:00:00.000Z', createdBy: 'system', scheduled: true,
    plan: { id: 'chuzhou-2020', name: '滁州市消费扶贫智能专柜布设计划（2020）', region: { code: '341100', name: '滁州市' } },
    threshold: { bp: 5000, ratio: 0.5, channel: 'cabinet' },
    counties: [{ code: '341125', name: '定远县', rollout, sales, forwarding }],
    totals: { rollout, sales, forwarding },
    cabinets: [
      { cabinetId: 'DY-1', countyCode: '341125', countyName: '定远县', operator: 'dy-coop', siteName: '县政府 "东门", 一楼', venueType: '机关', status: 'operating', salesCount: 3, amountFen: 123456, certifiedAmountFen: 61728, shareBp: 5000, ratio: 0.5, compliant: true },
      { cabinetId: 'DY-2', countyCode: '341125', countyName: '定远县', operator: null, siteName: '=HYPERLINK("x")', venueType: null, status: 'installed', salesCount: 0, amountFen: 0, certifiedAmountFen: 0, shareBp: 0, ratio: 0, compliant: null },
      { cabinetId: 'DY-3', countyCode: '341125', countyName: '定远县', operator: null, siteName: '<超市> & 商场\n二楼\uffff', venueType: '商场', status: 'operating', salesCount: 1, amountFen: 5, certifiedAmountFen: 0, shareBp: 0, ratio: 0, compliant: false },
    ],
    ...overrides,
  }
}

async function readXlsx(bytes: Uint8Array | ArrayBuffer): Promise<ExcelJS.Workbook> {
  const wb = new ExcelJS.Workbook()
  // A copy: a Buffer may be a view into a larger pooled ArrayBuffer.
  await wb.xlsx.load(bytes instanceof ArrayBuffer ? bytes : (new Uint8Array(bytes).buffer as ArrayBuffer))
  return wb
}

/** A worksheet's rows as arrays of cell values (column A first). */
const rowsOf = (ws: ExcelJS.Worksheet): unknown[][] => {
  const out: unknown[][] = []
  ws.eachRow({ includeEmpty: true }, (row, n) => (out[n - 1] = (row.values as unknown[]).slice(1)))
  return out
}

/** The frozen header, the autofilter, the 合计 row and the integer sums of a table's columns. */
function tableOf(ws: ExcelJS.Worksheet, headerRow: number) {
  const rows = rowsOf(ws)
  const head = rows[headerRow - 1] as string[]
  const total = rows.findIndex((r, i) => i >= headerRow && r.includes('合计'))
  const body = rows.slice(headerRow, total)
  const col = (name: string) => head.indexOf(name)
  const sumOf = (name: string) => body.reduce((n: number, r) => n + Number(r[col(name)] ?? 0), 0)
  return { head, body, totals: rows[total]!, col, sumOf, totalRowNumber: total + 1 }
}

function expectTableLayout(ws: ExcelJS.Worksheet, headerRow: number, lastFiltered: number, columns: string) {
  expect(ws.views[0], ws.name).toMatchObject({ state: 'frozen', ySplit: headerRow, xSplit: 0 })
  expect(ws.autoFilter, ws.name).toBe(`A${headerRow}:${columns}${lastFiltered}`)
  expect(ws.getRow(headerRow).getCell(1).font?.bold, ws.name).toBe(true)
}

describe('XLSX report (exceljs)', () => {
  it('has 汇总, 专柜明细 and 说明, each with its header row frozen and an autofilter over header and body', async () => {
    const wb = await readXlsx(await renderXlsx(aReport()))
    expect(wb.worksheets.map((ws) => ws.name)).toEqual(['汇总', '专柜明细', '说明'])
    const [summary, cabinets, notes] = wb.worksheets as [ExcelJS.Worksheet, ExcelJS.Worksheet, ExcelJS.Worksheet]
    // 汇总: the title on row 1 (merged over the table), the header on row 2, one county, 合计 on row 4 outside the filter.
    expect(summary.getCell('A1').value).toBe(aReport().title)
    expect(summary.getCell('S1').isMergedTo(summary.getCell('A1'))).toBe(true)
    expect(summary.getCell('A2').value).toBe('区县代码')
    expectTableLayout(summary, 2, 3, 'S')
    expect(summary.getCell('B4').value).toBe('合计')
    expectTableLayout(cabinets, 1, 4, 'N')
    expect(cabinets.getCell('A5').value).toBe('合计')
    expectTableLayout(notes, 1, 11, 'B')
    expect(rowsOf(notes)).toContainEqual(['统计期间', '2020-09-28 至 2020-10-04（北京时间）'])
    expect(rowsOf(notes)).toContainEqual(['报送期限', '2020-10-06'])
  })

  it('writes numbers as numbers, 元 as 0.00 and shares as 0.00%, and text (even "=…") as plain strings', async () => {
    const wb = await readXlsx(await renderXlsx(aReport()))
    const ws = wb.getWorksheet('专柜明细')!
    expect(rowsOf(ws)[1]).toEqual(['DY-1', '341125', '定远县', 'dy-coop', '县政府 "东门", 一楼', '机关', '运营中', 3, 123456, 1234.56, 61728, 617.28, 0.5, '达标'])
    expect([ws.getCell('J2').numFmt, ws.getCell('L2').numFmt, ws.getCell('M2').numFmt, ws.getCell('I2').numFmt]).toEqual(['0.00', '0.00', '0.00%', undefined])
    expect(ws.getCell('J4').value).toBe(0.05)
    // A site name that looks like a formula stays text: no formula cell.
    expect(ws.getCell('E3').type).toBe(ExcelJS.ValueType.String)
    expect(ws.getCell('E3').value).toBe('=HYPERLINK("x")')
    // XML-special characters and a line break survive; U+FFFF (not allowed in XML) is dropped.
    expect(ws.getCell('E4').value).toBe('<超市> & 商场\n二楼')
    expect(ws.getCell('N3').value).toBe('无销售')
  })

  it('ends the tables with 合计 rows equal to the document’s totals and to the sum of the rows above', async () => {
    const doc = aReport()
    const wb = await readXlsx(await renderXlsx(doc))
    const summary = tableOf(wb.getWorksheet('汇总')!, 2)
    expect(summary.totals[summary.col('销售笔数')]).toBe(doc.totals.sales.salesCount)
    expect(summary.totals[summary.col('销售额(分)')]).toBe(doc.totals.sales.amountFen)
    expect(summary.totals[summary.col('扶贫产品销售额(分)')]).toBe(doc.totals.sales.certifiedAmountFen)
    expect(summary.totals[summary.col('销售额(元)')]).toBe(1234.61)
    expect(summary.totals[summary.col('扶贫产品占比')]).toBe(0.4999)
    expect(summary.totals[summary.col('任务数')]).toBe(415)
    const cabinets = tableOf(wb.getWorksheet('专柜明细')!, 1)
    expect(cabinets.body).toHaveLength(3)
    for (const [name, total] of [['销售笔数', 4], ['销售额(分)', 123461], ['扶贫产品销售额(分)', 61728]] as const) {
      expect(cabinets.totals[cabinets.col(name)], name).toBe(total)
      expect(cabinets.sumOf(name), name).toBe(total)
    }
    expect(cabinets.totals[cabinets.col('销售额(元)')]).toBe(1234.61)
    expect(cabinets.totals[cabinets.col('扶贫产品销售额(元)')]).toBe(617.28)
    // The share of the sums (61728 / 123461 = 49.998…%, rounded down to bp), not an average of shares.
    expect(cabinets.totals[cabinets.col('扶贫产品占比')]).toBe(0.4999)
    expect(cabinets.totals[cabinets.col('是否达标')]).toBe('达标 1/2')
    expect(wb.getWorksheet('专柜明细')!.getRow(cabinets.totalRowNumber).getCell(1).font?.bold).toBe(true)
  })

  it('sums 元 totals in integer fen: 0.10 + 0.20 is 0.30, not 0.30000000000000004', async () => {
    const cab = aReport().cabinets[0]!
    const cabinets = [10, 20].map((amountFen, i) => ({ ...cab, cabinetId: `DY-${i}`, amountFen, certifiedAmountFen: 0, salesCount: 1 }))
    const wb = await readXlsx(await renderXlsx(aReport({ cabinets })))
    const t = tableOf(wb.getWorksheet('专柜明细')!, 1)
    expect(t.totals[t.col('销售额(元)')]).toBe(0.3)
    expect(t.totals[t.col('销售额(分)')]).toBe(30)
  })

  it('lets the event loop turn while it writes a large workbook (rows are streamed, not built in one go)', async () => {
    const cab = aReport().cabinets[0]!
    const cabinets = Array.from({ length: 5000 }, (_, i) => ({ ...cab, cabinetId: `DY-${String(i).padStart(5, '0')}` }))
    const { value, turns, longestGapMs, elapsedMs } = await countingTurns(() => renderXlsx(aReport({ cabinets })))
    // A turn per 500 rows built, and the ZIP deflated by zlib off the main
    // thread. The number of turns is no measure: most are idle ones while zlib
    // works, and a loaded machine gives fewer (80 under two busy loops, against
    // 25,000 idle). The longest stretch without a turn is: 18-32% of the render
    // here, loaded or not; exceljs's in-memory Workbook, which serializes and
    // deflates (pure JS) each part in one go, blocked for 68-77% of it.
    expect(turns).toBeGreaterThanOrEqual(cabinets.length / 500)
    expect(longestGapMs).toBeLessThan(elapsedMs / 2)
    expect((await readXlsx(value)).getWorksheet('专柜明细')!.rowCount).toBe(5002)
  })

  it('sets the document properties: title, creator fupin-fleet, created at the report’s creation, subject and keywords', async () => {
    const doc = aReport()
    const wb = await readXlsx(await renderXlsx(doc))
    expect(wb.title).toBe(doc.title)
    expect(wb.creator).toBe('fupin-fleet')
    expect(wb.lastModifiedBy).toBe('fupin-fleet')
    expect(wb.created.toISOString()).toBe(doc.createdAt)
    expect(wb.subject).toBe('消费扶贫智能专柜周报（2020-W40，定远县）')
    expect(wb.keywords).toBe('消费扶贫 智能专柜 周报 2020-W40 滁州市')
    expect(wb.description).toContain(doc.reportId)
  })
})

describe('CSV report (csv-stringify)', () => {
  const records = (csv: Buffer): string[][] => parse(csv, { bom: true, relax_column_count: false }) as string[][]

  it('starts with a BOM, has CRLF records of one width, and reads back field for field with csv-parse', () => {
    const csv = renderCsv(aReport())
    expect([...csv.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf])
    const text = csv.subarray(3).toString('utf8')
    expect(text.endsWith('\r\n')).toBe(true)
    // The title's comma is the full-width one: no quoting needed.
    expect(text.startsWith(`${aReport().title}${','.repeat(18)}\r\n`)).toBe(true)
    const rows = records(csv)
    expect(new Set(rows.map((r) => r.length))).toEqual(new Set([19]))
    const at = (first: string) => rows.find((r) => r[0] === first)!
    expect(at('341125').slice(0, 13)).toEqual(['341125', '定远县', '415', '2', '1', '1', '0', '4', '123461', '1234.61', '61728', '617.28', '49.99%'])
    expect(at('DY-1').slice(0, 14)).toEqual(['DY-1', '341125', '定远县', 'dy-coop', '县政府 "东门", 一楼', '机关', '运营中', '3', '123456', '1234.56', '61728', '617.28', '50.00%', '达标'])
    expect(text).toContain('DY-1,341125,定远县,dy-coop,"县政府 ""东门"", 一楼",机关,运营中,3,123456,1234.56,61728,617.28,50.00%,达标')
    // A line break inside a field is quoted (Excel ends a record at a bare LF), so the record stays one record.
    expect(text).toContain('DY-3,341125,定远县,,"<超市> & 商场\n二楼\uffff",商场,')
    expect(at('DY-3').slice(4, 5)).toEqual(['<超市> & 商场\n二楼\uffff'])
    expect(at('统计期间').slice(0, 2)).toEqual(['统计期间', '2020-09-28 至 2020-10-04（北京时间）'])
  })

  it('defuses formula injection in text cells (= + - @ tab, and full-width ＝) but not in numbers', () => {
    const cab = aReport().cabinets[1]!
    const names = ['=1+1', '+1', '-1', '@SUM(A1)', '\tx', '＝1', '县政府']
    const csv = renderCsv(aReport({ cabinets: names.map((siteName, i) => ({ ...cab, cabinetId: `DY-${i}`, siteName })) }))
    const rows = records(csv).filter((r) => r[0]!.startsWith('DY-'))
    expect(rows.map((r) => r[4])).toEqual(["'=1+1", "'+1", "'-1", "'@SUM(A1)", "'\tx", "'＝1", '县政府'])
    expect(csv.toString('utf8')).toContain(`DY-0,341125,定远县,,'=1+1,,已安装,0,0,0.00,0,0.00,0.00%,无销售`)
  })

  it('ends 汇总 and 专柜明细 with 合计 rows equal to the totals', () => {
    const rows = records(renderCsv(aReport()))
    expect(rows.find((r) => r[1] === '合计')!.slice(7, 13)).toEqual(['4', '123461', '1234.61', '61728', '617.28', '49.99%'])
    expect(rows.find((r) => r[0] === '合计')!.slice(7, 14)).toEqual(['4', '123461', '1234.61', '61728', '617.28', '49.99%', '达标 1/2'])
  })
})

// Tuesday 2020-10-06 10:00 in Shanghai: week 40 (09-28..10-04) has ended.
const TUESDAY = '2020-10-06T02:00:00Z'

describe('report files over the API', () => {
  async function aCityReport(): Promise<{ fleet: Fleet; doc: ReportDocument; get: (format: string) => Promise<Response> }> {
    const fleet = await fleetWith({ deps: { now: aClock(TUESDAY).now }, env: { FLEET_REPORTS_SCHEDULE: 'off' } })
    await aCatalog(fleet, { CERT: { cert: ['2020-01-01'] }, PLAIN: {} })
    const dy1 = await aDatedCabinet(fleet, { countyCode: '341125', operator: 'dy-coop', siteName: '=1+1', venueType: '机关' })
    await aDatedCabinet(fleet, { countyCode: '341125' })
    const fy1 = await aDatedCabinet(fleet, { countyCode: '341126', operator: 'fy-coop', siteName: '凤阳火车站', venueType: '车站' })
    await dy1.sell('2020-09-29', [line('CERT', 3010), line('PLAIN', 1001)])
    await dy1.sell('2020-10-04', [line('PLAIN', 1999)])
    await fy1.sell('2020-09-30', [line('PLAIN', 5003), line('CERT', 7)])
    const created = await api<ReportSummary>(fleet, 'POST', '/api/v1/reports', { kind: 'weekly', period: '2020-W40' })
    expect(created.status, JSON.stringify(created.body)).toBe(201)
    const doc = (await api<ReportDocument>(fleet, 'GET', `/api/v1/reports/${created.body.reportId}`)).body
    const get = (format: string) => fetch(`${fleet.httpUrl}/api/v1/reports/${created.body.reportId}?format=${format}`, { headers: { authorization: `Bearer ${fleet.adminToken}` } })
    return { fleet, doc, get }
  }

  it('serves an XLSX whose 合计 rows equal the JSON totals and the sum of its detail rows', async () => {
    const { fleet, doc, get } = await aCityReport()
    expect(doc.totals.sales).toMatchObject({ salesCount: 3, amountFen: 11020, certifiedAmountFen: 3017 })
    const res = await get('xlsx')
    expect(res.status).toBe(200)
    const wb = await readXlsx(await res.arrayBuffer())
    expect(wb.worksheets.map((ws) => ws.name)).toEqual(['汇总', '目标进度', '扶贫产品目录', '专柜明细', '说明'])
    expect(wb.worksheets.map((ws) => ws.views[0]?.state)).toEqual(['frozen', 'frozen', 'frozen', 'frozen', 'frozen'])
    expect(wb.worksheets.every((ws) => typeof ws.autoFilter === 'string' && ws.autoFilter.length > 0)).toBe(true)
    expect(wb.title).toBe(doc.title)
    expect(wb.created.toISOString()).toBe(doc.createdAt)

    const summary = tableOf(wb.getWorksheet('汇总')!, 2)
    expect(summary.body).toHaveLength(fleet.plan.counties.length)
    expectTableLayout(wb.getWorksheet('汇总')!, 2, 2 + fleet.plan.counties.length, 'S')
    const cabinets = tableOf(wb.getWorksheet('专柜明细')!, 1)
    expect(cabinets.body).toHaveLength(doc.cabinets.length)
    expectTableLayout(wb.getWorksheet('专柜明细')!, 1, 1 + doc.cabinets.length, 'N')
    for (const t of [summary, cabinets]) {
      for (const [name, key] of [['销售笔数', 'salesCount'], ['销售额(分)', 'amountFen'], ['扶贫产品销售额(分)', 'certifiedAmountFen']] as const) {
        expect(t.totals[t.col(name)], name).toBe(doc.totals.sales[key])
        expect(t.sumOf(name), name).toBe(doc.totals.sales[key])
      }
      expect(t.totals[t.col('销售额(元)')]).toBe(110.2)
      expect(t.totals[t.col('扶贫产品销售额(元)')]).toBe(30.17)
      expect(t.totals[t.col('扶贫产品占比')]).toBe(doc.totals.sales.shareBp / 10_000)
    }
    expect(wb.getWorksheet('专柜明细')!.getCell(`E${1 + doc.cabinets.findIndex((c) => c.siteName === '=1+1') + 1}`).value).toBe('=1+1')
  })

  it('serves a CSV with a BOM, the formula guard on a site name "=1+1", and totals equal to the JSON', async () => {
    const { doc, get } = await aCityReport()
    const res = await get('csv')
    const bytes = Buffer.from(await res.arrayBuffer())
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf])
    const rows = parse(bytes, { bom: true }) as string[][]
    const cabinet = rows.find((r) => r[4] === "'=1+1")
    expect(cabinet?.slice(7, 13)).toEqual(['2', '6010', '60.10', '3010', '30.10', '50.08%'])
    const totals = [doc.totals.sales.salesCount, doc.totals.sales.amountFen, '110.20', doc.totals.sales.certifiedAmountFen, '30.17'].map(String)
    expect(rows.find((r) => r[1] === '合计')!.slice(7, 12)).toEqual(totals)
    expect(rows.find((r) => r[0] === '合计')!.slice(7, 12)).toEqual(totals)
  })
})
