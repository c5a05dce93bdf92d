// The sales store's PostgreSQL tick sends its columns as array literals it
// writes itself (textArray: one JSON.stringify, not pg's per-element escaping).
// PostgreSQL must read back exactly the strings given, whatever they hold:
// quotes and backslashes (JSON's escapes are the literal's), array syntax,
// "NULL", and characters JSON escapes in ways the literal does not (control
// characters), which must take pg's own path instead.
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { textArray } from '../../../fleet-server/src/sales/store.js'
import { startPostgres, type Postgres } from '../../helpers/postgres.js'

let server: Postgres
let client: pg.Client

beforeAll(async () => {
  server = await startPostgres()
  client = new pg.Client({ connectionString: server.url })
  await client.connect()
}, 60_000)

afterAll(async () => {
  await client?.end()
  await server?.close()
})

async function readBack(values: readonly string[]): Promise<string[]> {
  const r = await client.query<{ x: string }>('SELECT x FROM unnest($1::text[]) WITH ORDINALITY AS t (x, i) ORDER BY i', [textArray(values)])
  return r.rows.map((row) => row.x)
}

describe('textArray (PostgreSQL text[] literal for the tick insert)', () => {
  it('writes ids, times and hashes as one literal that reads back as given', async () => {
    const values = ['0190f0a0-0000-7000-8000-000000000001', '341125-00001', '2020-10-01T04:00:00.000Z', '2020-10-01', 'wechat', 'a1'.repeat(32)]
    expect(typeof textArray(values)).toBe('string')
    expect(await readBack(values)).toEqual(values)
  })

  it('reads back quotes, backslashes, array syntax, NULL, empty and non-ASCII text exactly', async () => {
    const lines = JSON.stringify([{ sku: 'a"b\\c,{d}', qty: 1, unitPriceFen: 600 }, { sku: '扶贫😀', qty: 2, unitPriceFen: 1 }])
    const values = [lines, 'NULL', 'null', '', ' spaced ', '{1,2}', 'a,b', '"', '\\', '\\\\"', '中文\u2028']
    expect(typeof textArray(values)).toBe('string')
    expect(await readBack(values)).toEqual(values)
  })

  it('leaves control characters and backslash-letter text to pg, and they read back exactly', async () => {
    const values = ['line\nbreak', 'tab\there', 'bell\u0007', 'cr\r', 'literal \\n and \\u0041', 'plain']
    for (const v of values.slice(0, 5)) expect(typeof textArray([v])).not.toBe('string')
    expect(await readBack(values)).toEqual(values)
  })

  it('reads back an empty column', async () => {
    expect(await readBack([])).toEqual([])
  })
})
