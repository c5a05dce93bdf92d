// A report as an Office Open XML workbook (ECMA-376, SpreadsheetML), written
// by hand: one worksheet per table, inline strings (t="inlineStr"), numbers as
// numbers, a bold header style, 0.00 for 元 and 0.00% for shares. The parts a
// minimal package needs: [Content_Types].xml, _rels/.rels, xl/workbook.xml,
// xl/_rels/workbook.xml.rels, xl/worksheets/sheetN.xml, xl/styles.xml.
import { SHANGHAI_OFFSET_MS, type ReportDocument } from '../../../shared/src/index.js'
import { bpDecimal, isPercent, isYuan, reportSheets, yuanText, type Cell, type Sheet } from './tables.js'
import { zip } from './zip.js'

export const XLSX_CONTENT_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'

const XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
const NS_MAIN = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main'
const NS_REL = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships'
const NS_PKG_REL = 'http://schemas.openxmlformats.org/package/2006/relationships'

// Style indexes into cellXfs below.
const STYLE_HEADER = 1
const STYLE_YUAN = 2 // built-in numFmt 2: 0.00
const STYLE_PERCENT = 3 // built-in numFmt 10: 0.00%

/** Escapes text for XML and drops the control characters XML 1.0 forbids. */
export function xmlText(s: string): string {
  return s
    // eslint-disable-next-line no-control-regex -- these are exactly the characters XML 1.0 forbids
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
}

/** 0 → A, 25 → Z, 26 → AA. */
export function columnName(i: number): string {
  let n = i + 1
  let s = ''
  while (n > 0) {
    const r = (n - 1) % 26
    s = String.fromCharCode(65 + r) + s
    n = Math.floor((n - 1) / 26)
  }
  return s
}

function cellXml(c: Cell, ref: string, isHeader: boolean): string {
  if (c === null || c === '') return ''
  const s = isHeader ? ` s="${STYLE_HEADER}"` : ''
  if (typeof c === 'number') return `<c r="${ref}"${s}><v>${c}</v></c>`
  if (isYuan(c)) return `<c r="${ref}" s="${STYLE_YUAN}"><v>${yuanText(c.yuanOfFen)}</v></c>`
  if (isPercent(c)) return `<c r="${ref}" s="${STYLE_PERCENT}"><v>${bpDecimal(c.pctOfBp)}</v></c>`
  const space = /^\s|\s$/.test(c) ? ' xml:space="preserve"' : ''
  return `<c r="${ref}" t="inlineStr"${s}><is><t${space}>${xmlText(c)}</t></is></c>`
}

function sheetXml(sheet: Sheet): string {
  const rows = sheet.rows
    .map((row, r) => {
      const cells = row.cells.map((c, i) => cellXml(c, `${columnName(i)}${r + 1}`, row.isHeader === true)).join('')
      return `<row r="${r + 1}">${cells}</row>`
    })
    .join('')
  const frozen = sheet.frozenRows
    ? `<sheetViews><sheetView workbookViewId="0"><pane ySplit="${sheet.frozenRows}" topLeftCell="A${sheet.frozenRows + 1}" activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>`
    : ''
  const cols = sheet.widths.map((w, i) => `<col min="${i + 1}" max="${i + 1}" width="${w}" customWidth="1"/>`).join('')
  return `${XML_HEAD}<worksheet xmlns="${NS_MAIN}">${frozen}<cols>${cols}</cols><sheetData>${rows}</sheetData></worksheet>`
}

const STYLES = `${XML_HEAD}<styleSheet xmlns="${NS_MAIN}">\
<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font></fonts>\
<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>\
<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>\
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>\
<cellXfs count="4">\
<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>\
<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>\
<xf numFmtId="2" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>\
<xf numFmtId="10" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>\
</cellXfs>\
<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>\
</styleSheet>`

export function renderXlsx(doc: ReportDocument): Buffer {
  const sheets = reportSheets(doc)
  const n = sheets.length
  const contentTypes = `${XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">\
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>\
<Default Extension="xml" ContentType="application/xml"/>\
<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>\
${sheets.map((_, i) => `<Override PartName="/xl/worksheets/sheet${i + 1}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>`).join('')}\
<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>\
</Types>`
  const rootRels = `${XML_HEAD}<Relationships xmlns="${NS_PKG_REL}">\
<Relationship Id="rId1" Type="${NS_REL}/officeDocument" Target="xl/workbook.xml"/>\
</Relationships>`
  const workbook = `${XML_HEAD}<workbook xmlns="${NS_MAIN}" xmlns:r="${NS_REL}"><sheets>\
${sheets.map((s, i) => `<sheet name="${xmlText(s.name)}" sheetId="${i + 1}" r:id="rId${i + 1}"/>`).join('')}\
</sheets></workbook>`
  const workbookRels = `${XML_HEAD}<Relationships xmlns="${NS_PKG_REL}">\
${sheets.map((_, i) => `<Relationship Id="rId${i + 1}" Type="${NS_REL}/worksheet" Target="worksheets/sheet${i + 1}.xml"/>`).join('')}\
<Relationship Id="rId${n + 1}" Type="${NS_REL}/styles" Target="styles.xml"/>\
</Relationships>`
  // ZIP times are local wall-clock times: the report's creation, Beijing time.
  const modified = new Date(Date.parse(doc.createdAt) + SHANGHAI_OFFSET_MS)
  return zip(
    [
      { name: '[Content_Types].xml', data: contentTypes },
      { name: '_rels/.rels', data: rootRels },
      { name: 'xl/workbook.xml', data: workbook },
      { name: 'xl/_rels/workbook.xml.rels', data: workbookRels },
      ...sheets.map((s, i) => ({ name: `xl/worksheets/sheet${i + 1}.xml`, data: sheetXml(s) })),
      { name: 'xl/styles.xml', data: STYLES },
    ],
    modified,
  )
}
