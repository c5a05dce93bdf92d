// A report as CSV (RFC 4180, written by csv-stringify): CRLF line ends,
// fields with a comma, quote or line break quoted and quotes doubled, every
// record the same number of fields; UTF-8 with a byte order mark so Excel
// reads the Chinese correctly. The 汇总 table comes first, then for each
// further table a blank record, its name, and the table.
import { stringify } from 'csv-stringify/sync'
import type { ReportDocument } from '../../../shared/src/index.js'
import { isPercent, isYuan, bpPercent, reportSheets, yuanText, type Cell } from './tables.js'

export const CSV_CONTENT_TYPE = 'text/csv; charset=utf-8'

// A text cell starting with = + - @ (or a tab/CR, or their full-width forms,
// which some spreadsheets fold to ASCII) would run as a formula when the file
// is opened in Excel (CSV injection, OWASP); site names are typed by users.
// Guarded here rather than with csv-stringify's escape_formulas because that
// also prefixes our own formatted amounts and shares when they are negative.
const FORMULA_START = /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/

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
  const padded = records.map((r) => [...r, ...Array<string>(width - r.length).fill('')])
  // quote_record_delimiter: with an explicit CRLF delimiter csv-stringify
  // would otherwise leave a field holding a lone LF (a site name) unquoted.
  return Buffer.from(stringify(padded, { bom: true, record_delimiter: 'windows', quote_record_delimiter: true }), 'utf8')
}
