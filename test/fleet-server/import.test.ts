// CSV import of placement lists: every bad row reported, nothing imported
// unless all rows are good — or, with partial=true, the good rows only.
import { describe, expect, it } from 'vitest'
import { api, connectCabinet, startFleet } from '../helpers/fleet.js'
import { CSV_HEADER, csvRow, importCsv, rollout, userToken } from '../helpers/rollout.js'

const QUOTAS: Record<string, number> = { '341125': 415, '341126': 355, '341182': 345, '341122': 268, '341124': 275, '341102': 380, '341103': 180, '341181': 482 }
const STATUSES = ['planned', 'site_assigned', 'installed', 'operating']

/** The whole Chuzhou plan, 2,700 rows, as an operator would hand it over. */
function chuzhouRows(): string[] {
  return Object.entries(QUOTAS).flatMap(([county, quota]) =>
    Array.from({ length: quota }, (_, i) => csvRow(`CZ-${county}-${String(i + 1).padStart(4, '0')}`, county, STATUSES[i % 4]!)),
  )
}

const BAD: Record<number, string> = {
  10: 'CZ-BAD-0001,110101,,,,,,,planned', // a county outside the plan
  500: csvRow('CZ-BAD-0002', '341126', 'site_assigned').replace(/,(机关|社区|商场|高校|医院|企业|车站|机场|景区),/, ',月球,'), // unknown venue type
  1200: csvRow('CZ-341125-0001', '341125', 'planned'), // repeats an id of an earlier line
  2000: csvRow('CZ-BAD-0004', '341181', 'installed').replace(',32.5,', ',132.5,'), // latitude out of range
  2650: 'CZ-BAD-0005,341181,,,,,,,operating', // operating without a site
}

describe('POST /api/v1/cabinets/import', () => {
  it('reports exactly the 5 bad rows of 2,700 and imports nothing; the fixed file imports all', async () => {
    const fleet = await startFleet()
    const rows = chuzhouRows()
    expect(rows).toHaveLength(2700)
    const withBad = rows.map((r, i) => BAD[i] ?? r)

    const refused = await importCsv(fleet, withBad)
    expect(refused.status).toBe(400)
    const error = (refused.body as { error: { code: string; message: string; details: { rows: number; rejected: Array<{ line: number; field: string; message: string }> } } }).error
    expect(error.code).toBe('CABINET_IMPORT_INVALID')
    expect(error.message).toMatch(/^导入文件有错误行，未导入任何专柜：共 2700 行，第 12、502、1202、2002、2652 行有错误（第 12 行：.+）。请改正后重新导入，或以 “partial=true” 只导入正确的行$/)
    // Line numbers count the header as line 1.
    expect(error.details.rejected.map((r) => [r.line, r.field])).toEqual([
      [12, 'countyCode'],
      [502, 'venueType'],
      [1202, 'cabinetId'],
      [2002, 'latitude'],
      [2652, 'siteName'],
    ])
    const original = rows.findIndex((r) => r.startsWith('CZ-341125-0001,')) + 2
    expect(error.details.rejected[2]!.message).toBe(`专柜编号 “CZ-341125-0001” 与第 ${original} 行重复`)
    expect(error.details.rejected[4]!.message).toBe('状态为运营中的专柜需有具体点位，缺少点位名称、场所类型')
    expect((await api<{ total: number }>(fleet, 'GET', '/api/v1/cabinets')).body.total).toBe(0)

    const fixed = await importCsv(fleet, rows)
    expect(fixed.status).toBe(201)
    expect(fixed.body).toMatchObject({ rows: 2700, imported: 2700, rejected: [] })
    const r = await rollout(fleet)
    const n = (...st: string[]) => rows.filter((row) => st.includes(row.split(',').at(-1)!)).length
    expect(r.totals).toEqual({ quota: 2700, sitesAssigned: n('site_assigned', 'installed', 'operating'), installed: n('installed', 'operating'), operating: n('operating'), online: 0, onlineNotInstalled: 0 })
    expect(r.totals.sitesAssigned).toBe(2023)

    // The credentials returned are the cabinets' MQTT logins.
    const first = fixed.body.cabinets!.find((c) => c.cabinetId === 'CZ-341125-0004')!
    await connectCabinet(fleet.mqttUrl, first)
    await expect.poll(async () => (await rollout(fleet)).totals.online).toBe(1)

    // Importing the same file again: every row is now a duplicate id.
    const again = await importCsv(fleet, rows.slice(0, 3))
    expect(again.status).toBe(400)
  })

  it('imports only the good rows with partial=true and reports the rest', async () => {
    const fleet = await startFleet()
    const withBad = chuzhouRows().map((r, i) => BAD[i] ?? r)
    const partial = await importCsv(fleet, withBad, { partial: true })
    expect(partial.status).toBe(201)
    expect(partial.body).toMatchObject({ rows: 2700, imported: 2695 })
    expect((partial.body.rejected as Array<{ line: number }>).map((r) => r.line)).toEqual([12, 502, 1202, 2002, 2652])
    expect((await api<{ total: number }>(fleet, 'GET', '/api/v1/cabinets')).body.total).toBe(2695)
  })

  it('reads Chinese headers, quoted fields with commas and line breaks, a BOM and CRLF; generates ids when blank', async () => {
    const fleet = await startFleet()
    const csv = '\uFEFF专柜编号,区县代码,运营企业,点位名称,地址,场所类型,纬度,经度,状态\r\n' +
      ',341125,定远供销社,"定远县人民医院，门诊楼","定远县城南路 1 号\r\n一楼大厅",医院,32.53,117.68,已安装\r\n' +
      ',341125,,,,,,,\r\n'
    const res = await fleet.http.inject({ method: 'POST', url: '/api/v1/cabinets/import', headers: { authorization: `Bearer ${fleet.adminToken}`, 'content-type': 'text/csv' }, payload: csv })
    expect(res.statusCode, res.body).toBe(201)
    const body = JSON.parse(res.body) as { cabinets: Array<{ cabinetId: string; line: number }> }
    expect(body.cabinets.map((c) => [c.cabinetId, c.line])).toEqual([['341125-00001', 2], ['341125-00002', 4]])
    const c = await api(fleet, 'GET', '/api/v1/cabinets/341125-00001')
    expect(c.body).toMatchObject({ status: 'installed', operator: '定远供销社', siteName: '定远县人民医院，门诊楼', siteAddress: '定远县城南路 1 号\r\n一楼大厅', venueType: '医院' })
    expect((await api(fleet, 'GET', '/api/v1/cabinets/341125-00002')).body).toMatchObject({ status: 'planned', siteName: null })
  })

  it('rejects a file with a bad header whole, and county users import only into their county', async () => {
    const fleet = await startFleet()
    const badHeader = await fleet.http.inject({ method: 'POST', url: '/api/v1/cabinets/import', headers: { authorization: `Bearer ${fleet.adminToken}`, 'content-type': 'text/csv' }, payload: 'cabinetId,county,colour\nA,341125,red\n' })
    expect(badHeader.statusCode).toBe(400)
    expect(JSON.parse(badHeader.body).error).toMatchObject({ code: 'CABINET_IMPORT_INVALID', message: expect.stringContaining('表头有误：不认识的列 “county”') })

    const token = await userToken(fleet, { username: 'dy', role: 'county', countyCode: '341125' })
    const mixed = await importCsv(fleet, [csvRow('341125-DY-1', '341125', 'planned'), csvRow('341126-FY-1', '341126', 'planned')], { token })
    expect(mixed.status).toBe(400)
    expect((mixed.body as { error: { details: { rejected: Array<{ line: number; message: string }> } } }).error.details.rejected).toEqual([
      { line: 3, field: 'countyCode', message: '县区不能在区县 “341126” 新建专柜' },
    ])
    expect((await importCsv(fleet, [csvRow('341125-DY-1', '341125', 'planned')], { token })).status).toBe(201)
    const auditor = await userToken(fleet, { username: 'au', role: 'auditor' })
    expect((await importCsv(fleet, [csvRow('341125-DY-2', '341125', 'planned')], { token: auditor })).status).toBe(403)
    expect(CSV_HEADER.split(',')).toHaveLength(9)
  })
})
