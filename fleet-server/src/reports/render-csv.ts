// A report as CSV (RFC 4180): CRLF line ends, fields with a comma, quote or
// line break quoted and quotes doubled, every record the same number of
// fields; UTF-8 with a byte order mark so Excel reads the Chinese correctly.
// The 汇总 table comes first, then a blank record and the 专柜明细 table.
import type { ReportDocument } from '../../../shared/src/index.js'
import { isPercent, isYuan, bpPercent, reportSheets, yuanText, type Cell } from './tables.js'

export const CSV_CONTENT_TYPE = 'text/csv; charset=utf-8'
const BOM = '\uFEFF'

/** RFC 4180 field quoting. */
export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

// A text cell starting with = + - @ (or a tab/CR) would run as a formula when
// the file is opened in Excel (CSV injection); site names are typed by users.
const FORMULA_START = /^[=+\-@\t\r]/

function text(c: Cell): string {
  if (c === null) return ''
  if (typeof c === 'number') return String(c)
  if (isYuan(c)) return yuanText(c.yuanOfFen)
  if (isPercent(c)) return bpPercent(c.pctOfBp)
  return FORMULA_START.test(c) ? `'${c}` : c
}

export function renderCsv(doc: ReportDocument): Buffer {
  const sheets = reportSheets(doc)
  const records: string[][] = []
  for (const [i, sheet] of sheets.entries()) {
    if (i > 0) records.push([], [sheet.name])
    for (const row of sheet.rows) records.push(row.cells.map(text))
  }
  const width = Math.max(...records.map((r) => r.length))
  const lines = records.map((r) => [...r, ...Array<string>(width - r.length).fill('')].map(csvField).join(','))
  return Buffer.from(BOM + lines.join('\r\n') + '\r\n', 'utf8')
}
