// Which bodies the API takes (issue 12, finding 4): JSON routes only
// application/json in UTF-8, the CSV import only text/csv; everything else 415.
import { describe, expect, it } from 'vitest'
import { startFleet } from '../../helpers/fleet.js'
import { sqlRow } from '../../helpers/test-db.js'

describe('content types', () => {
  it('answers 415 UNSUPPORTED_MEDIA_TYPE to a JSON route sent text/plain, another charset, text/csv or no type, and stores nothing', async () => {
    const fleet = await startFleet()
    const post = (contentType: string | null, payload: string, url = '/api/v1/cabinets') =>
      fleet.http.inject({ method: 'POST', url, payload, headers: { authorization: `Bearer ${fleet.adminToken}`, ...(contentType !== null && { 'content-type': contentType }) } })
    const json = JSON.stringify({ countyCode: '341125' })
    const cabinets = async () => (await sqlRow<{ n: number }>(fleet.database, 'SELECT count(*) AS n FROM cabinets'))!.n
    for (const type of ['text/plain', 'text/plain; charset=utf-8', 'application/json; charset=latin1', 'application/json; charset=ISO-8859-1', 'application/json;charset="gbk"', 'text/csv', 'application/x-www-form-urlencoded', null]) {
      const r = await post(type, json)
      expect(r.statusCode, String(type)).toBe(415)
      expect(r.json().error.code, String(type)).toBe('UNSUPPORTED_MEDIA_TYPE')
    }
    expect(await cabinets()).toBe(0)

    for (const type of ['application/json', 'APPLICATION/JSON; Charset=UTF-8', 'application/json;charset="utf-8"']) {
      expect((await post(type, json)).statusCode, type).toBe(201)
    }
    // A POST without a body needs no type at all.
    expect((await fleet.http.inject({ method: 'POST', url: '/api/v1/forwarding/run', headers: { authorization: `Bearer ${fleet.adminToken}` } })).statusCode).toBe(200)

    // The CSV import keeps text/csv (UTF-8) and takes nothing else.
    const csv = 'countyCode\n341125\n'
    for (const type of ['application/json', 'text/plain', 'text/csv; charset=gbk']) {
      const r = await post(type, type === 'application/json' ? JSON.stringify(csv) : csv, '/api/v1/cabinets/import')
      expect(r.statusCode, type).toBe(415)
      expect(r.json().error.code).toBe('UNSUPPORTED_MEDIA_TYPE')
    }
    expect(await cabinets()).toBe(3)
    expect((await post('text/csv; charset=UTF-8', csv, '/api/v1/cabinets/import')).statusCode).toBe(201)
    expect(await cabinets()).toBe(4)
  })
})
