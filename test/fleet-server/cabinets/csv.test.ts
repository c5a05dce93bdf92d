// The placement list's CSV reader (csv-parse underneath): records with the
// line an editor shows them on (CRLF inside a quoted field is one line), any
// mix of line ends, a quote inside an unquoted field kept as a character,
// and a file that is not CSV at all refused whole with the line to look at.
import { describe, expect, it } from 'vitest'
import { parseCsv } from '../../../fleet-server/src/cabinets/index.js'
import { startFleet } from '../../helpers/fleet.js'
import { CSV_HEADER, csvRow } from '../../helpers/rollout.js'

describe('parseCsv', () => {
  it('numbers records by the line they start on, counting a CRLF inside quotes once and skipping blank lines', () => {
    const text = '\uFEFFh1,h2\r\n"multi\r\nline, quoted",x\r\n\r\nnext,"a ""quote"""\r\n"three\nline\nfield",y\r\nlast,z'
    expect(parseCsv(text)).toEqual([
      { line: 1, fields: ['h1', 'h2'] },
      { line: 2, fields: ['multi\r\nline, quoted', 'x'] },
      { line: 5, fields: ['next', 'a "quote"'] },
      { line: 6, fields: ['three\nline\nfield', 'y'] },
      { line: 9, fields: ['last', 'z'] },
    ])
  })

  it('takes LF, CRLF and CR line ends mixed in one file, rows of any width, and a stray quote as a character', () => {
    expect(parseCsv('a,b\r\nc\nd,e,f\rg,h"i\n,,,\n')).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['c'] },
      { line: 3, fields: ['d', 'e', 'f'] },
      { line: 4, fields: ['g', 'h"i'] },
      { line: 5, fields: ['', '', '', ''] },
    ])
    expect(parseCsv('')).toEqual([])
    expect(parseCsv('\r\n\n')).toEqual([])
  })

  it('refuses a quote that is never closed with CABINET_IMPORT_INVALID and the line its record starts on', () => {
    const err = (() => {
      try {
        parseCsv('a,b\n1,2\n\n"open,\nx,y\n')
      } catch (e) {
        return e as { code: string; statusCode: number; details: { rejected: Array<{ line: number }> } }
      }
    })()
    expect(err).toMatchObject({ code: 'CABINET_IMPORT_INVALID', statusCode: 400, details: { rejected: [{ line: 4, field: null }] } })
  })

  it('refuses a record over 64 KiB (no column takes more than 300 characters) with its line', () => {
    const huge = `a,b\n1,2\n"${'x,'.repeat(35_000)}",y\n3,4\n`
    expect(() => parseCsv(huge)).toThrow(expect.objectContaining({ code: 'CABINET_IMPORT_INVALID', details: { rejected: [expect.objectContaining({ line: 3 })] } }))
    expect(parseCsv(`a\n"${'x'.repeat(60_000)}"\n`)[1]!.fields[0]).toHaveLength(60_000)
  })
})

describe('CSV import of a broken file', () => {
  it('answers 400 CABINET_IMPORT_INVALID naming the line, and imports nothing', async () => {
    const fleet = await startFleet()
    const payload = [CSV_HEADER, csvRow('341125-00007', '341125', 'planned'), '341125-00008,341125,"unclosed,,,,,,planned', csvRow('341125-00009', '341125', 'planned')].join('\r\n')
    const res = await fleet.http.inject({ method: 'POST', url: '/api/v1/cabinets/import', headers: { authorization: `Bearer ${fleet.adminToken}`, 'content-type': 'text/csv' }, payload })
    expect(res.statusCode, res.body).toBe(400)
    const error = (JSON.parse(res.body) as { error: { code: string; message: string; details: { rejected: Array<{ line: number }> } } }).error
    expect(error.code).toBe('CABINET_IMPORT_INVALID')
    expect(error.message).toContain('第 3 行')
    expect(error.details.rejected.map((r) => r.line)).toEqual([3])
    const list = await fleet.http.inject({ method: 'GET', url: '/api/v1/cabinets/341125-00007', headers: { authorization: `Bearer ${fleet.adminToken}` } })
    expect(list.statusCode).toBe(404)
  })
})
