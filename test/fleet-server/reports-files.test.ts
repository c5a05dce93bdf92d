// The report files: the ZIP writer (read back by our own central-directory
// parser and by Python's zipfile), the XLSX workbook inside it (well-formed
// XML with the expected cells), and the CSV (BOM, RFC 4180 quoting, 元 from
// integer fen).
import { execFileSync } from 'node:child_process'
import { inflateRawSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { crc32, renderCsv, renderXlsx, zip } from '../../fleet-server/src/reports/index.js'
import type { ReportDocument } from '../../shared/src/index.js'

interface Entry { name: string; data: Buffer; method: number; crc: number; flags: number }

/** Reads a ZIP through its central directory (not the local headers), checking every CRC. */
function unzip(buf: Buffer): Entry[] {
  const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]))
  expect(eocd, 'end of central directory').toBe(buf.length - 22)
  const count = buf.readUInt16LE(eocd + 10)
  let p = buf.readUInt32LE(eocd + 16)
  expect(p + buf.readUInt32LE(eocd + 12)).toBe(eocd)
  const out: Entry[] = []
  for (let i = 0; i < count; i++) {
    expect(buf.readUInt32LE(p)).toBe(0x02014b50)
    const flags = buf.readUInt16LE(p + 8)
    const method = buf.readUInt16LE(p + 10)
    const crc = buf.readUInt32LE(p + 16)
    const csize = buf.readUInt32LE(p + 20)
    const usize = buf.readUInt32LE(p + 24)
    const nameLen = buf.readUInt16LE(p + 28)
    const extraLen = buf.readUInt16LE(p + 30)
    const commentLen = buf.readUInt16LE(p + 32)
    const local = buf.readUInt32LE(p + 42)
    const name = buf.subarray(p + 46, p + 46 + nameLen).toString('utf8')
    expect(buf.readUInt32LE(local)).toBe(0x04034b50)
    const dataAt = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28)
    const packed = buf.subarray(dataAt, dataAt + csize)
    const data = method === 8 ? inflateRawSync(packed) : Buffer.from(packed)
    expect(data.length, name).toBe(usize)
    expect(crc32(data), name).toBe(crc)
    out.push({ name, data, method, crc, flags })
    p += 46 + nameLen + extraLen + commentLen
  }
  return out
}

/** Python's zipfile and ElementTree on the bytes: CRCs, and every part parsed as XML; cells per sheet. */
function pythonReads(xlsx: Buffer): { bad: string | null; names: string[]; sheets: Record<string, Array<[string, string, string | null]>> } {
  const script = `
import io, json, sys, zipfile, xml.etree.ElementTree as ET
z = zipfile.ZipFile(io.BytesIO(sys.stdin.buffer.read()))
bad = z.testzip()
ns = {'m': 'http://schemas.openxmlformats.org/spreadsheetml/2006/main'}
sheets = {}
for n in z.namelist():
    root = ET.fromstring(z.read(n))
    if n.startswith('xl/worksheets/'):
        cells = []
        for c in root.iter('{%s}c' % ns['m']):
            t = c.get('t')
            v = ''.join(c.itertext())
            cells.append([c.get('r'), v, t])
        sheets[n] = cells
print(json.dumps({'bad': bad, 'names': z.namelist(), 'sheets': sheets}))
`
  return JSON.parse(execFileSync('python3', ['-c', script], { input: xlsx }).toString('utf8')) as ReturnType<typeof pythonReads>
}

const aReport = (overrides: Partial<ReportDocument> = {}): ReportDocument => {
  const sales = { salesCount: 3, amountFen: 123456, certifiedAmountFen: 61728, shareBp: 5000, ratio: 0.5, compliantCabinets: 1, judgedCabinets: 1 }
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
      { cabinetId: 'DY-3', countyCode: '341125', countyName: '定远县', operator: null, siteName: '<超市> & 商场', venueType: '商场', status: 'operating', salesCount: 1, amountFen: 5, certifiedAmountFen: 0, shareBp: 0, ratio: 0, compliant: false },
    ],
    ...overrides,
  }
}

describe('zip writer', () => {
  it('computes the standard CRC-32', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926)
    expect(crc32(Buffer.alloc(0))).toBe(0)
  })

  it('writes an archive whose entries inflate back to their bytes, readable by Python’s zipfile', () => {
    const big = Buffer.from(Array.from({ length: 5000 }, (_, i) => `行${i},`).join(''))
    const bytes = zip([{ name: 'a.txt', data: 'hello' }, { name: 'dir/中文.xml', data: '<x>专柜</x>' }, { name: 'empty', data: '' }, { name: 'big.csv', data: big }], new Date(Date.UTC(2020, 9, 6, 6, 0, 0)))
    const entries = unzip(bytes)
    expect(entries.map((e) => e.name)).toEqual(['a.txt', 'dir/中文.xml', 'empty', 'big.csv'])
    expect(entries[0]!.data.toString()).toBe('hello')
    expect(entries[1]!.data.toString()).toBe('<x>专柜</x>')
    expect(entries[3]!.data.equals(big)).toBe(true)
    expect(entries.every((e) => e.method === 8 && e.flags & 0x0800)).toBe(true)
    const py = execFileSync('python3', ['-c', 'import io,sys,zipfile,json; z=zipfile.ZipFile(io.BytesIO(sys.stdin.buffer.read())); print(json.dumps([z.testzip(), [(i.filename, i.file_size, list(i.date_time)) for i in z.infolist()]]))'], { input: bytes })
    expect(JSON.parse(py.toString())).toEqual([null, [['a.txt', 5, [2020, 10, 6, 6, 0, 0]], ['dir/中文.xml', Buffer.byteLength('<x>专柜</x>'), [2020, 10, 6, 6, 0, 0]], ['empty', 0, [2020, 10, 6, 6, 0, 0]], ['big.csv', big.length, [2020, 10, 6, 6, 0, 0]]]])
    // Same input, same bytes.
    expect(zip([{ name: 'a.txt', data: 'hello' }]).equals(zip([{ name: 'a.txt', data: 'hello' }]))).toBe(true)
  })
})

describe('report files', () => {
  it('renders a workbook with the Office Open XML parts, inline strings, numbers as numbers', () => {
    const xlsx = renderXlsx(aReport())
    const names = unzip(xlsx).map((e) => e.name)
    expect(names).toEqual(expect.arrayContaining(['[Content_Types].xml', '_rels/.rels', 'xl/workbook.xml', 'xl/_rels/workbook.xml.rels', 'xl/worksheets/sheet1.xml', 'xl/worksheets/sheet2.xml', 'xl/styles.xml']))
    const py = pythonReads(xlsx)
    expect(py.bad).toBeNull()
    const summary = new Map(py.sheets['xl/worksheets/sheet1.xml']!.map(([ref, v, t]) => [ref, { v, t }]))
    expect(summary.get('A1')).toEqual({ v: aReport().title, t: 'inlineStr' })
    expect(summary.get('A12')).toEqual({ v: '区县代码', t: 'inlineStr' })
    // County row 13: code, name, quota 415 (number), … amount fen, 元, certified fen, 元, share.
    expect(summary.get('A13')).toEqual({ v: '341125', t: 'inlineStr' })
    expect(summary.get('C13')).toEqual({ v: '415', t: null })
    expect(summary.get('I13')).toEqual({ v: '123456', t: null })
    expect(summary.get('J13')).toEqual({ v: '1234.56', t: null })
    expect(summary.get('L13')).toEqual({ v: '617.28', t: null })
    expect(summary.get('M13')).toEqual({ v: '0.5000', t: null })
    expect(summary.get('B14')).toEqual({ v: '合计', t: 'inlineStr' })
    const cabinets = new Map(py.sheets['xl/worksheets/sheet2.xml']!.map(([ref, v, t]) => [ref, { v, t }]))
    expect(cabinets.get('A1')).toEqual({ v: '专柜编号', t: 'inlineStr' })
    expect(cabinets.get('E2')).toEqual({ v: '县政府 "东门", 一楼', t: 'inlineStr' })
    expect(cabinets.get('N2')).toEqual({ v: '达标', t: 'inlineStr' })
    expect(cabinets.get('N3')).toEqual({ v: '无销售', t: 'inlineStr' })
    expect(cabinets.get('E4')).toEqual({ v: '<超市> & 商场', t: 'inlineStr' })
    expect(cabinets.get('J4')).toEqual({ v: '0.05', t: null })
    // A site name that looks like a formula stays text in a workbook (inline string, no <f>).
    expect(cabinets.get('E3')).toEqual({ v: '=HYPERLINK("x")', t: 'inlineStr' })
    const workbook = unzip(xlsx).find((e) => e.name === 'xl/workbook.xml')!.data.toString()
    expect(workbook).toContain('<sheet name="汇总" sheetId="1" r:id="rId1"/>')
    expect(workbook).toContain('<sheet name="专柜明细" sheetId="2" r:id="rId2"/>')
  })

  it('renders CSV with a BOM, CRLF records of one width, RFC 4180 quoting and 元 from integer fen', () => {
    const csv = renderCsv(aReport())
    expect([...csv.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf])
    const text = csv.subarray(3).toString('utf8')
    expect(text.endsWith('\r\n')).toBe(true)
    const records = text.slice(0, -2).split('\r\n')
    // One width for every record: 19 fields, the 汇总 table's (records with quoted commas aside).
    const widths = new Set(records.filter((r) => !r.includes('"')).map((r) => r.split(',').length))
    expect([...widths]).toEqual([19])
    // The title's comma is the full-width one: no quoting needed.
    expect(records[0]).toBe(`${aReport().title}${','.repeat(18)}`)
    const county = records.find((r) => r.startsWith('341125,定远县,'))!
    expect(county.split(',').slice(0, 13)).toEqual(['341125', '定远县', '415', '2', '1', '1', '0', '3', '123456', '1234.56', '61728', '617.28', '50.00%'])
    expect(text).toContain('DY-1,341125,定远县,dy-coop,"县政府 ""东门"", 一楼",机关,运营中,3,123456,1234.56,61728,617.28,50.00%,达标')
    // Formula injection is defused; amounts below one 元 keep their leading zero.
    expect(text).toContain(`DY-2,341125,定远县,,"'=HYPERLINK(""x"")",,已安装,0,0,0.00,0,0.00,0.00%,无销售`)
    expect(text).toContain('DY-3,341125,定远县,,<超市> & 商场,商场,运营中,1,5,0.05,0,0.00,0.00%,未达标')
  })
})
