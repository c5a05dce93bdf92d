// Text with U+0000 is refused with a 400 on either engine (PostgreSQL's text
// cannot hold it; SQLite would store it): in a path, a query, a JSON body and
// a CSV import, and nothing is stored.
import { describe, expect, it } from 'vitest'
import { api, startFleet } from '../../helpers/fleet.js'
import { sqlRow } from '../../helpers/test-db.js'

describe('NUL in request text', () => {
  it('answers 400 VALIDATION_FAILED for %00 in the URL, U+0000 in JSON or CSV, and stores nothing', async () => {
    const fleet = await startFleet()
    const cabinets = async () => (await sqlRow<{ n: number }>(fleet.database, 'SELECT count(*) AS n FROM cabinets'))!.n
    const before = await cabinets()

    const inPath = await api(fleet, 'POST', '/api/v1/alerts/a%00b/ack', {})
    expect(inPath.status).toBe(400)
    expect(inPath.body).toMatchObject({ error: { code: 'VALIDATION_FAILED' } })
    expect((await api(fleet, 'GET', '/api/v1/cabinets?county=3411%0025')).status).toBe(400)

    const inJson = await api(fleet, 'POST', '/api/v1/cabinets', { countyCode: '341125', siteName: '站点\u0000一' })
    expect(inJson.status).toBe(400)
    expect(inJson.body).toMatchObject({ error: { code: 'VALIDATION_FAILED' } })

    const csv = await fleet.http.inject({
      method: 'POST',
      url: '/api/v1/cabinets/import',
      headers: { authorization: `Bearer ${fleet.adminToken}`, 'content-type': 'text/csv' },
      payload: 'cabinetId,countyCode,operator,siteName,siteAddress,venueType,status\n,341125,,站\u0000点,,,planned\n',
    })
    expect(csv.statusCode).toBe(400)
    expect(await cabinets()).toBe(before)
  })
})
