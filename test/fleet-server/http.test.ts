// HTTP plumbing: error bodies, health, metrics, OpenAPI.
import { describe, expect, it } from 'vitest'
import { api, provision, startFleet } from '../helpers/fleet.js'
import { onPostgres, sqlRun } from '../helpers/test-db.js'

describe('http', () => {
  it('serves /healthz without auth', async () => {
    const fleet = await startFleet()
    const res = await fetch(`${fleet.httpUrl}/healthz`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ status: 'ok' })
  })

  it('answers errors as {error:{code,message}}: validation, unknown route, bad JSON, body too large, bad URL, overlong path parameter', async () => {
    const fleet = await startFleet()
    const v = await api<{ error: { code: string; message: string } }>(fleet, 'POST', '/api/v1/cabinets', { countyCode: 341125 })
    expect(v.status).toBe(400)
    expect(v.body.error.code).toBe('VALIDATION_FAILED')
    expect(v.body.error.message).toBe('请求内容不符合要求：字段 “countyCode”：须为文本，收到的是数字')
    const extra = await api<{ error: { message: string } }>(fleet, 'POST', '/api/v1/cabinets', { countyCode: '341125', colour: 'red' })
    expect(extra.body.error.message).toBe('请求内容不符合要求：不接受的字段 “colour”')

    expect(await api(fleet, 'GET', '/api/v1/nothing-here')).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } })
    expect(await api(fleet, 'GET', '/nowhere', undefined, null)).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } })

    const auth = { authorization: `Bearer ${fleet.adminToken}`, 'content-type': 'application/json' }
    const badJson = await fleet.http.inject({ method: 'POST', url: '/api/v1/cabinets', headers: auth, payload: '{"countyCode":' })
    expect(badJson.statusCode).toBe(400)
    expect(badJson.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED' } })
    const huge = await fleet.http.inject({ method: 'POST', url: '/api/v1/cabinets', headers: auth, payload: JSON.stringify({ countyCode: '341125', siteName: 'x'.repeat(2 * 1024 * 1024) }) })
    expect(huge.statusCode).toBe(413)
    expect(huge.json()).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } })

    // Errors Fastify raises before routing (found by test/property/http-routes.test.ts).
    const badUrl = await fleet.http.inject({ method: 'GET', url: '/api/v1/suppliers/%zz', headers: auth })
    expect(badUrl.statusCode).toBe(400)
    expect(badUrl.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED', message: '请求内容不符合要求：网址不是合法的百分号编码' } })
    const longParam = await fleet.http.inject({ method: 'GET', url: `/api/v1/suppliers/${'x'.repeat(5000)}`, headers: auth })
    expect(longParam.statusCode).toBe(414)
    expect(longParam.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED' } })
  })

  it('answers INTERNAL without leaking driver errors', async () => {
    const fleet = await startFleet()
    // The view's totals query now fails inside the database (CASCADE: PostgreSQL's views on it).
    await sqlRun(fleet.database, onPostgres ? 'DROP TABLE cabinet_sales CASCADE' : 'DROP TABLE cabinet_sales')
    const cab = await provision(fleet)
    const r = await api<{ error: { code: string; message: string } }>(fleet, 'GET', `/api/v1/cabinets/${cab.cabinetId}`)
    expect(r.status).toBe(500)
    expect(r.body.error.code).toBe('INTERNAL')
    expect(r.body.error.message).not.toMatch(/cabinet_sales|sqlite|no such table/i)
  })

  it('exports Prometheus metrics from its own registry', async () => {
    const fleet = await startFleet()
    const other = await startFleet()
    const text = (await fleet.http.inject({ method: 'GET', url: '/metrics' })).body
    for (const name of ['fleet_cabinets_connected', 'fleet_sales_ingested_total', 'fleet_sale_batches_committed_total', 'fleet_ingest_tick_seconds_bucket', 'fleet_outbox_pending_sales', 'fleet_outbox_oldest_pending_age_seconds']) {
      expect(text).toContain(name)
    }
    expect((await other.http.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200)
  })

  it('describes the API in OpenAPI generated from the zod schemas', async () => {
    const fleet = await startFleet()
    const doc = (await fleet.http.inject({ method: 'GET', url: '/openapi.json' })).json<{
      openapi: string
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties: Record<string, unknown>; required?: string[] } }> } }>>
    }>()
    expect(doc.openapi).toMatch(/^3\./)
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/healthz', '/api/v1/cabinets', '/api/v1/cabinets/{id}', '/api/v1/cabinets/{id}/credentials', '/api/v1/cabinets/{id}/sales', '/api/v1/users']))
    const create = doc.paths['/api/v1/cabinets']!.post!.requestBody!.content['application/json']!.schema
    expect(create.required).toEqual(['countyCode'])
    expect(Object.keys(create.properties)).toEqual(expect.arrayContaining(['countyCode', 'operator', 'siteName', 'venueType', 'cabinetId']))
  })
})
