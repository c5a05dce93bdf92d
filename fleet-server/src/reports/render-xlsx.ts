// A report as an Excel workbook (exceljs): one worksheet per table of
// tables.ts, each with its header row frozen in view and an autofilter over
// the header and body (the 合计 row stays below the filter, so sorting keeps
// it last). Numbers are numbers; 元 cells hold fen / 100 shown as 0.00 and
// shares bp / 10,000 shown as 0.00% — the totals themselves are summed in
// integer fen by tables.ts, never from these floats. Text is always a string
// cell (never a formula), so a site name like "=1+1" stays inert.
// Known gap: exceljs writes no _xlnm._FilterDatabase name, which LibreOffice
// needs to show the filter buttons (exceljs#2778); Excel shows them.
import { Writable } from 'node:stream'
import { finished } from 'node:stream/promises'
// Types only: exceljs and its ZIP stack (~30 MiB resident) load on the first export, not at startup.
import type ExcelJS from 'exceljs'
import { labelZh, type ReportDocument } from '../../../shared/src/index.js'
import { isPercent, isYuan, reportSheets, type Cell, type Sheet } from './tables.js'

/** exceljs is CommonJS: under ESM its exports are the namespace's default. */
const loadExcel = async (): Promise<typeof ExcelJS> => ((await import('exceljs')) as unknown as { default: typeof ExcelJS }).default

export const XLSX_CONTENT_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'

/** The document properties' creator and last author. */
export const XLSX_CREATOR = 'fupin-fleet'

const YUAN_FORMAT = '0.00'
const PERCENT_FORMAT = '0.00%'
const HEADER_FILL: ExcelJS.Fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFDDEBF7' } }
const THIN: ExcelJS.Border = { style: 'thin', color: { argb: 'FF8EA9C1' } }

// exceljs drops the C0 controls XML 1.0 forbids but not U+FFFE/U+FFFF, which
// would make the part unreadable; a user-typed site name may hold anything.
const NOT_XML = /[\ufffe\uffff]/g

function setCell(cell: ExcelJS.Cell, c: Cell): void {
  if (c === null || c === '') return
  if (typeof c === 'number') cell.value = c
  else if (isYuan(c)) {
    cell.value = c.yuanOfFen / 100
    cell.numFmt = YUAN_FORMAT
  } else if (isPercent(c)) {
    cell.value = c.pctOfBp / 10_000
    cell.numFmt = PERCENT_FORMAT
  } else cell.value = c.replace(NOT_XML, '')
}

/** 1-based number of the last row the autofilter covers: the row before the first totals row after the header. */
function lastFilteredRow(sheet: Sheet): number {
  const total = sheet.rows.findIndex((r, i) => i > sheet.headerRow && r.isTotal === true)
  return total === -1 ? sheet.rows.length : total
}

// Rows serialized between yields to the event loop: a city-wide report of
// 20,000 cabinets otherwise holds the loop for seconds (sales keep flowing).
const ROWS_PER_TURN = 500

async function addSheet(wb: ExcelJS.stream.xlsx.WorkbookWriter, sheet: Sheet, title: string): Promise<void> {
  const frozen = sheet.frozenRows ?? sheet.headerRow + 1
  const ws = wb.addWorksheet(sheet.name, {
    views: [{ state: 'frozen', xSplit: 0, ySplit: frozen, topLeftCell: `A${frozen + 1}`, activeCell: `A${frozen + 1}` }],
    // Printed pages repeat the frozen rows and carry the title and page number.
    pageSetup: { orientation: 'landscape', fitToPage: true, fitToWidth: 1, fitToHeight: 0, paperSize: 9, printTitlesRow: `1:${frozen}` },
    headerFooter: { oddHeader: `&C${title.replace(/&/g, '&&')}`, oddFooter: '&C第 &P 页，共 &N 页' },
  })
  ws.columns = sheet.widths.map((width) => ({ width }))
  const width = Math.max(...sheet.rows.map((r) => r.cells.length))
  // The filter is written when the sheet is committed, so it is set first.
  ws.autoFilter = { from: { row: sheet.headerRow + 1, column: 1 }, to: { row: lastFilteredRow(sheet), column: width } }
  for (const [r, row] of sheet.rows.entries()) {
    if (r > 0 && r % ROWS_PER_TURN === 0) await new Promise<void>((resolve) => setImmediate(resolve))
    const xr = ws.getRow(r + 1)
    for (const [i, c] of row.cells.entries()) setCell(xr.getCell(i + 1), c)
    if (row.isTitle) {
      // The title spans the table's width above its header.
      ws.mergeCells(r + 1, 1, r + 1, width)
      xr.getCell(1).font = { bold: true, size: 14 }
      xr.height = 24
    } else if (row.isHeader || row.isTotal) {
      for (let i = 1; i <= width; i++) {
        const cell = xr.getCell(i)
        cell.font = { bold: true }
        if (row.isHeader) {
          cell.fill = HEADER_FILL
          cell.alignment = { vertical: 'middle', horizontal: 'center', wrapText: true }
          cell.border = { bottom: THIN }
        } else cell.border = { top: THIN }
      }
    }
    xr.commit()
  }
  ws.commit()
}

export async function renderXlsx(doc: ReportDocument): Promise<Buffer> {
  const Excel = await loadExcel()
  const chunks: Buffer[] = []
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk)
      done()
    },
  })
  // The streaming writer: rows are serialized as they are committed and the
  // ZIP is deflated by Node's zlib off the main thread, where the in-memory
  // Workbook builds and compresses everything in one synchronous go.
  const wb = new Excel.stream.xlsx.WorkbookWriter({
    stream: out,
    useStyles: true,
    useSharedStrings: true,
  })
  wb.creator = XLSX_CREATOR
  wb.lastModifiedBy = XLSX_CREATOR
  wb.created = new Date(doc.createdAt)
  wb.modified = new Date(doc.createdAt)
  wb.title = doc.title
  wb.subject = `消费扶贫智能专柜${labelZh('reportKind', doc.kind)}（${doc.period}，${doc.scopeName}）`
  wb.category = '消费扶贫'
  wb.keywords = `消费扶贫 智能专柜 ${labelZh('reportKind', doc.kind)} ${doc.period} ${doc.plan.region.name}`
  wb.description = `${doc.plan.name}；报表编号 ${doc.reportId}`
  for (const sheet of reportSheets(doc)) await addSheet(wb, sheet, doc.title)
  await wb.commit()
  await finished(out)
  return Buffer.concat(chunks)
}
