// The cabinets API over HTTP (inject): provisioning, lifecycle, views, and
// the scope each role sees.
import { describe, expect, it } from 'vitest'
import type { Fleet } from '../../fleet-server/src/app.js'
import { api, provision, startFleet } from '../helpers/fleet.js'

async function userToken(fleet: Fleet, body: Record<string, unknown>): Promise<string> {
  const r = await api<{ token: string }>(fleet, 'POST', '/api/v1/users', body)
  expect(r.status, JSON.stringify(r.body)).toBe(201)
  return r.body.token
}

describe('cabinets API', () => {
  it('provisions with a generated per-county id and shows the cabinet', async () => {
    const fleet = await startFleet()
    const a = await provision(fleet, { countyCode: '341125', operator: 'dy-coop', siteName: '定远县人民医院', venueType: 'hospital' })
    const b = await provision(fleet, { countyCode: '341125' })
    const c = await provision(fleet, { countyCode: '341126' })
    expect([a.cabinetId, b.cabinetId, c.cabinetId]).toEqual(['341125-00001', '341125-00002', '341126-00001'])
    const r = await api(fleet, 'GET', `/api/v1/cabinets/${a.cabinetId}`)
    expect(r.status).toBe(200)
    expect(r.body).toEqual({
      cabinetId: '341125-00001',
      countyCode: '341125',
      status: 'site_assigned', // created with its site (issue 15)
      online: false,
      lastSeenAt: null,
      sales: { count: 0, amountFen: 0, certifiedAmountFen: 0, lastSeq: 0, lastSaleAt: null },
      operator: 'dy-coop',
      siteName: '定远县人民医院',
      venueType: '医院',
      chainStatus: 'ok',
      outbox: null,
      siteAddress: null,
      latitude: null,
      longitude: null,
      statusSince: expect.any(String),
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    })
  })

  it('takes a caller-chosen id once (409 CABINET_ID_TAKEN after) and refuses counties outside the plan', async () => {
    const fleet = await startFleet()
    await provision(fleet, { countyCode: '341102', cabinetId: 'SN-0001' })
    const dup = await api(fleet, 'POST', '/api/v1/cabinets', { countyCode: '341102', cabinetId: 'SN-0001' })
    expect(dup).toMatchObject({ status: 409, body: { error: { code: 'CABINET_ID_TAKEN' } } })
    const unknown = await api(fleet, 'POST', '/api/v1/cabinets', { countyCode: '110101' })
    expect(unknown).toMatchObject({ status: 400, body: { error: { code: 'CABINET_COUNTY_UNKNOWN' } } })
  })

  it('patches status, site and venue and answers the cabinet', async () => {
    const fleet = await startFleet()
    const { cabinetId } = await provision(fleet)
    const r = await api<{ status: string; cabinet: { status: string; siteName: string; venueType: string } }>(fleet, 'PATCH', `/api/v1/cabinets/${cabinetId}`, {
      status: 'site_assigned',
      siteName: '滁州学院',
      venueType: '高校',
    })
    expect(r.status).toBe(200)
    expect(r.body.status).toBe('site_assigned')
    expect(r.body.cabinet).toMatchObject({ status: 'site_assigned', siteName: '滁州学院', venueType: '高校' })
    const bad = await api(fleet, 'PATCH', `/api/v1/cabinets/${cabinetId}`, { status: 'exploded' })
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED' } } })
    const unknownVenue = await api<{ error: { message: string } }>(fleet, 'PATCH', `/api/v1/cabinets/${cabinetId}`, { venueType: 'moon' })
    expect(unknownVenue.status).toBe(400)
    expect(unknownVenue.body.error.message).toMatch(/^请求内容不符合要求：字段 “venueType”：须为 机关、社区、商场、高校、医院、企业、车站、机场、景区 之一/)
  })

  it('lists with filters and paging', async () => {
    const fleet = await startFleet()
    for (const county of ['341125', '341125', '341126']) await provision(fleet, { countyCode: county })
    // planned → site_assigned → installed → operating (lifecycle rules: no jumps).
    await api(fleet, 'PATCH', '/api/v1/cabinets/341125-00002', { status: 'site_assigned', siteName: '定远县政务中心', venueType: '机关' })
    await api(fleet, 'PATCH', '/api/v1/cabinets/341125-00002', { status: 'installed' })
    await api(fleet, 'PATCH', '/api/v1/cabinets/341125-00002', { status: 'operating' })
    const all = await api<{ cabinets: Array<{ cabinetId: string }>; total: number }>(fleet, 'GET', '/api/v1/cabinets')
    expect(all.body.cabinets.map((c) => c.cabinetId)).toEqual(['341125-00001', '341125-00002', '341126-00001'])
    const county = await api<{ cabinets: Array<{ cabinetId: string }>; total: number }>(fleet, 'GET', '/api/v1/cabinets?county=341125&limit=1&offset=1')
    expect(county.body).toMatchObject({ total: 2, limit: 1, offset: 1, cabinets: [{ cabinetId: '341125-00002' }] })
    const operating = await api<{ total: number }>(fleet, 'GET', '/api/v1/cabinets?status=operating')
    expect(operating.body.total).toBe(1)
    const badLimit = await api(fleet, 'GET', '/api/v1/cabinets?limit=0')
    expect(badLimit).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED', details: { in: 'query' } } } })
  })
})

describe('cabinets API: scope', () => {
  it('a county official sees and changes only its county; others look absent', async () => {
    const fleet = await startFleet()
    const own = await provision(fleet, { countyCode: '341125' })
    const other = await provision(fleet, { countyCode: '341126' })
    const token = await userToken(fleet, { username: 'dingyuan', role: 'county', countyCode: '341125' })

    expect((await api(fleet, 'GET', `/api/v1/cabinets/${own.cabinetId}`, undefined, token)).status).toBe(200)
    const hidden = await api(fleet, 'GET', `/api/v1/cabinets/${other.cabinetId}`, undefined, token)
    const absent = await api(fleet, 'GET', '/api/v1/cabinets/341126-09999', undefined, token)
    expect(hidden).toEqual({ status: 404, body: { error: { code: 'NOT_FOUND', message: `对象不存在或无权查看：专柜 “${other.cabinetId}”` } } })
    expect(absent.body).toEqual({ error: { code: 'NOT_FOUND', message: '对象不存在或无权查看：专柜 “341126-09999”' } })
    expect((await api(fleet, 'PATCH', `/api/v1/cabinets/${other.cabinetId}`, { status: 'retired' }, token)).status).toBe(404)
    expect((await api(fleet, 'GET', `/api/v1/cabinets/${other.cabinetId}/sales`, undefined, token)).status).toBe(404)

    const list = await api<{ cabinets: Array<{ cabinetId: string }>; total: number }>(fleet, 'GET', '/api/v1/cabinets', undefined, token)
    expect(list.body.cabinets.map((c) => c.cabinetId)).toEqual([own.cabinetId])
    const widened = await api<{ total: number }>(fleet, 'GET', '/api/v1/cabinets?county=341126', undefined, token)
    expect(widened.body.total).toBe(0)

    expect((await api(fleet, 'PATCH', `/api/v1/cabinets/${own.cabinetId}`, { status: 'site_assigned', siteName: '定远县第一中学', venueType: '高校' }, token)).status).toBe(200)
    expect((await api(fleet, 'POST', '/api/v1/cabinets', { countyCode: '341125' }, token)).status).toBe(201)
    const elsewhere = await api(fleet, 'POST', '/api/v1/cabinets', { countyCode: '341126' }, token)
    expect(elsewhere).toMatchObject({ status: 403, body: { error: { code: 'ACCESS_OUT_OF_SCOPE' } } })
    const users = await api(fleet, 'POST', '/api/v1/users', { username: 'x1', role: 'admin' }, token)
    expect(users).toMatchObject({ status: 403, body: { error: { code: 'ACCESS_OUT_OF_SCOPE' } } })
  })

  it("an operator sees only its operator's cabinets", async () => {
    const fleet = await startFleet()
    const mine = await provision(fleet, { countyCode: '341125', operator: 'anhui-supply' })
    const theirs = await provision(fleet, { countyCode: '341125', operator: 'other-co' })
    await provision(fleet, { countyCode: '341126' })
    const token = await userToken(fleet, { username: 'op1', role: 'operator', operator: 'anhui-supply' })
    const list = await api<{ cabinets: Array<{ cabinetId: string }> }>(fleet, 'GET', '/api/v1/cabinets', undefined, token)
    expect(list.body.cabinets.map((c) => c.cabinetId)).toEqual([mine.cabinetId])
    expect((await api(fleet, 'GET', `/api/v1/cabinets/${theirs.cabinetId}`, undefined, token)).status).toBe(404)
    expect((await api(fleet, 'POST', '/api/v1/cabinets', { countyCode: '341125' }, token)).status).toBe(403)
  })

  it('an auditor reads city-wide and changes nothing', async () => {
    const fleet = await startFleet()
    const cab = await provision(fleet)
    const token = await userToken(fleet, { username: 'audit', role: 'auditor' })
    expect((await api(fleet, 'GET', `/api/v1/cabinets/${cab.cabinetId}`, undefined, token)).status).toBe(200)
    expect((await api(fleet, 'GET', '/api/v1/cabinets/none-such', undefined, token)).body).toMatchObject({ error: { code: 'CABINET_NOT_FOUND' } })
    expect((await api(fleet, 'PATCH', `/api/v1/cabinets/${cab.cabinetId}`, { siteName: 'x' }, token)).status).toBe(403)
    expect((await api(fleet, 'POST', `/api/v1/cabinets/${cab.cabinetId}/credentials`, undefined, token)).status).toBe(403)
  })
})
