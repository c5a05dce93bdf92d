// RFC 4180 CSV (csv-parse): quoted fields may hold commas, quotes ("") and
// line breaks. Spreadsheet exports add a UTF-8 BOM and CRLF; both are
// accepted. Rows of any width come back as they are (the import judges
// them per line); a quote inside an unquoted field is a plain character.
// A file that cannot be read as CSV at all (a quote never closed) is
// refused whole, with the line of the record that breaks it.
import { CsvError, parse } from 'csv-parse/sync'
import { AppError } from '../../../shared/src/index.js'

export interface CsvRecord {
  /** 1-based line the record starts on. */
  readonly line: number
  readonly fields: string[]
}

// A field longer than any column allows (siteAddress ≤ 300 characters) by far:
// a stray quote that swallows the rest of a 16 MiB file stops here, early.
const MAX_RECORD_CHARS = 64 * 1024

const CR = 0x0d
const LF = 0x0a

/**
 * Line numbers as an editor shows them (CR, LF and CRLF each end one line,
 * inside quoted fields too), from the byte offsets csv-parse reports: its own
 * line count takes a CRLF inside a quoted field as two lines.
 */
function lineCounter(bytes: Buffer) {
  let pos = 0
  let line = 1
  const breaksUntil = (end: number): void => {
    while (pos < end) {
      const b = bytes[pos++]
      if (b === LF || (b === CR && bytes[pos] !== LF)) line++
    }
  }
  return {
    /** The line the next record starts on: past blank lines from where the last one ended. */
    nextStart(): number {
      let end = pos
      while (end < bytes.length && (bytes[end] === CR || bytes[end] === LF)) end++
      breaksUntil(end)
      return line
    },
    /** The last record ended at this byte offset (after its line break). */
    endAt(offset: number): void {
      breaksUntil(offset)
    },
  }
}

export function parseCsv(text: string): CsvRecord[] {
  const bytes = Buffer.from(text, 'utf8')
  const lines = lineCounter(bytes)
  const records: CsvRecord[] = []
  try {
    parse(bytes, {
      bom: true,
      // Any of the three line ends, also mixed in one file (hand-edited lists).
      record_delimiter: ['\r\n', '\n', '\r'],
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
      max_record_size: MAX_RECORD_CHARS,
      on_record: (fields: string[], context) => {
        records.push({ line: lines.nextStart(), fields })
        lines.endAt(context.bytes)
        return null
      },
    })
  } catch (err) {
    if (!(err instanceof CsvError)) throw err
    const line = lines.nextStart()
    const message = `the file is not readable as CSV from line ${line}: ${err.message}`
    const zh = `第 ${line} 行起无法按 CSV 读取（引号未闭合或单行过长）`
    throw new AppError('CABINET_IMPORT_INVALID', message, 400, { rejected: [{ line, field: null, message: zh }] }, zh)
  }
  return records
}
