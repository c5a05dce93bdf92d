// The restock (pick) list as CSV (csv-stringify, UTF-8 with BOM, as the
// reports) and XLSX (exceljs): one row per slot to fill, then the sku totals
// to load. Headers in Chinese (LABELS_ZH.stockField). Same rows in both, from
// the JSON list, so the three formats agree.
import { stringify } from 'csv-stringify/sync'
// Types only: exceljs loads on the first XLSX list (reports/render-xlsx.ts says why).
import type ExcelJS from 'exceljs'
import { LABELS_ZH, type RestockList } from '../../../shared/src/index.js'

/** exceljs is CommonJS: under ESM its exports are the namespace's default. */
const loadExcel = async (): Promise<typeof ExcelJS> => ((await import('exceljs')) as unknown as { default: typeof ExcelJS }).default

const F = LABELS_ZH.stockField
export const PICK_HEADER = [F.countyName, F.siteName, F.cabinetId, F.slot, F.sku, F.productName, F.par, F.qty, F.need] as const
export const TOTALS_HEADER = [F.countyName, F.sku, F.productName, F.need] as const
/** The county column of an overall total row. */
export const ALL_COUNTIES = '全部'

// A user-typed site name starting like a formula must stay inert in Excel (CSV injection).
const FORMULA_START = /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/
const inert = (s: string) => (FORMULA_START.test(s) ? `'${s}` : s)

type Row = Array<string | number>

export function pickRows(list: RestockList): { lines: Row[]; totals: Row[] } {
  const lines: Row[] = []
  const totals: Row[] = []
  for (const c of list.counties) {
    for (const s of c.sites) {
      for (const cab of s.cabinets) {
        for (const l of cab.lines) lines.push([c.countyName, s.siteName ?? '', cab.cabinetId, l.slot, l.sku, l.productName ?? '', l.par, l.qty, l.need])
      }
    }
    for (const t of c.totals) totals.push([c.countyName, t.sku, t.productName ?? '', t.need])
  }
  if (list.counties.length > 1) for (const t of list.totals) totals.push([ALL_COUNTIES, t.sku, t.productName ?? '', t.need])
  return { lines, totals }
}

export const CSV_CONTENT_TYPE = 'text/csv; charset=utf-8'
export const XLSX_CONTENT_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'

/** The pick list, a blank record, 装车合计 and the totals. */
export function pickListCsv(list: RestockList): Buffer {
  const { lines, totals } = pickRows(list)
  const text = (r: Row) => r.map((c) => (typeof c === 'number' ? String(c) : inert(c)))
  const records: string[][] = [[...PICK_HEADER], ...lines.map(text), [], ['装车合计'], [...TOTALS_HEADER], ...totals.map(text)]
  const width = PICK_HEADER.length
  const padded = records.map((r) => [...r, ...Array<string>(width - r.length).fill('')])
  return Buffer.from(stringify(padded, { bom: true, record_delimiter: 'windows', quote_record_delimiter: true }), 'utf8')
}

/** Two sheets: 补货单 (slots) and 装车合计 (sku totals). */
export async function pickListXlsx(list: RestockList): Promise<Buffer> {
  const { lines, totals } = pickRows(list)
  const Excel = await loadExcel()
  const wb = new Excel.Workbook()
  wb.creator = 'fupin-fleet'
  const sheet = (name: string, header: readonly string[], rows: Row[]) => {
    const ws = wb.addWorksheet(name, { views: [{ state: 'frozen', ySplit: 1 }] })
    ws.addRow([...header]).font = { bold: true }
    for (const r of rows) ws.addRow(r.map((c) => (typeof c === 'string' ? c.replace(/[\ufffe\uffff]/g, '') : c)))
    ws.columns.forEach((col) => (col.width = 14))
  }
  sheet('补货单', PICK_HEADER, lines)
  sheet('装车合计', TOTALS_HEADER, totals)
  return Buffer.from(await wb.xlsx.writeBuffer())
}
