// Issue 15: users read every error in Chinese. The error catalogue is Chinese,
// and every /api/ route, driven with bad input (wrong types, unknown fields,
// bad params, bad JSON, no or a bad token, another county's objects), answers
// 4xx with a Chinese `error.message`. The routes come from the server and the
// fields from its OpenAPI document, so a new route or field is covered too.
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { ERROR_CODES } from '../../shared/src/index.js'
import { api, startFleet } from '../helpers/fleet.js'
import { csvRow, importCsv, userToken } from '../helpers/rollout.js'
import { englishWords, hasHan } from '../helpers/zh.js'
import { routeTable } from '../property/invariants.js'


type JsonSchema = { type?: string | string[]; properties?: Record<string, JsonSchema>; enum?: unknown[]; items?: JsonSchema; anyOf?: JsonSchema[] }
interface OpenApiOperation {
  parameters?: Array<{ in: 'query' | 'path' | 'header'; name: string; schema?: JsonSchema }>
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> }
}

/** A value of the wrong JSON type for the schema, and a string no enum or pattern takes. */
function wrongValues(s: JsonSchema | undefined): unknown[] {
  const type = Array.isArray(s?.type) ? s.type[0] : s?.type
  const wrongType = type === 'string' ? 12345 : type === 'object' || type === 'array' ? 'zz' : type === undefined ? { zz: [1] } : 'zz'
  return [wrongType, 'zz_bogus_✖', true, null]
}

describe('one Chinese text source (issue 15)', () => {
  it('every error code has a Chinese text with no English sentence', () => {
    for (const [code, text] of Object.entries(ERROR_CODES)) {
      expect(hasHan(text), code).toBe(true)
      expect(englishWords(text), `${code}: ${text}`).toEqual([])
    }
  })

  it('every /api/ route answers bad input with a 4xx whose message is Chinese', async () => {
    const fleet = await startFleet()
    await importCsv(fleet, [csvRow('FY-1', '341126', 'operating')])
    const county = await userToken(fleet, { username: 'dy-official', role: 'county', countyCode: '341125' })
    const doc = (await api<{ paths: Record<string, Record<string, OpenApiOperation>> }>(fleet, 'GET', '/openapi.json')).body
    const routes = routeTable(fleet.http).filter((r) => r.url.startsWith('/api/') && r.method !== 'HEAD').map((r) => `${r.method} ${r.url}`)
    expect(routes.length).toBeGreaterThan(30)

    const seen = new Map<string, number>()
    const bad: string[] = []
    const send = async (route: string, method: string, url: string, opts: { payload?: unknown; token?: string | null; contentType?: string } = {}) => {
      const token = opts.token === undefined ? fleet.adminToken : opts.token
      const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` }
      if (opts.payload !== undefined) headers['content-type'] = opts.contentType ?? 'application/json'
      const res = await fleet.http.inject({
        method: method as 'GET',
        url,
        headers,
        ...(opts.payload !== undefined && { payload: typeof opts.payload === 'string' ? opts.payload : JSON.stringify(opts.payload) }),
      })
      expect(res.statusCode, `${method} ${url} → ${res.body}`).toBeLessThan(500)
      if (res.statusCode < 400) return
      const message = (JSON.parse(res.body) as { error: { message: string } }).error.message
      seen.set(route, (seen.get(route) ?? 0) + 1)
      if (!hasHan(message) || englishWords(message).length) bad.push(`${method} ${url} ${JSON.stringify(opts.payload ?? '')} → ${res.statusCode} ${message}`)
    }

    for (const route of routes) {
      const [method, path] = route.split(' ') as [string, string]
      const op = doc.paths[path.replace(/:(\w+)/g, '{$1}')]?.[method.toLowerCase()]
      const withParams = (value: string) => path.replace(/:\w+/g, encodeURIComponent(value))
      const url = withParams('341126-00001')
      // Who: nobody, a bad token, a county official aiming at another county's objects.
      await send(route, method, url, { token: null })
      await send(route, method, url, { token: 'not-a-token' })
      await send(route, method, withParams('FY-1'), { token: county, ...(method !== 'GET' && { payload: {} }) })
      // Path params: absent objects and malformed ones.
      for (const v of ['ZZ-404', 'zz%bad✖', 'x'.repeat(200)]) await send(route, method, withParams(v))
      // Query: every documented parameter with a value it cannot take, and an unknown one.
      const query = (op?.parameters ?? []).filter((p) => p.in === 'query')
      for (const p of query) for (const v of ['zz_bogus', '-1', '2020-13-45']) await send(route, method, `${url}?${new URLSearchParams({ [p.name]: v })}`)
      await send(route, method, `${url}?zzUnknown=1`)
      if (method === 'GET') continue
      // Body: not JSON, the wrong media type, the wrong shape, an unknown field, each field wrong.
      await send(route, method, url, { payload: '{"countyCode":' })
      await send(route, method, url, { payload: 'countyCode=341125', contentType: 'text/plain' })
      for (const body of [{}, [], 'text', { zzUnknown: 1 }]) await send(route, method, url, { payload: body })
      const schema = op?.requestBody?.content?.['application/json']?.schema
      for (const [name, field] of Object.entries(schema?.properties ?? {})) {
        for (const v of wrongValues(field)) await send(route, method, url, { payload: { [name]: v } })
      }
      if (schema?.properties) {
        await send(route, method, url, { payload: Object.fromEntries(Object.entries(schema.properties).map(([k, f]) => [k, wrongValues(f)[0]])) })
      }
    }
    expect(bad).toEqual([])
    // Every route was refused at least once (the test did reach each of them).
    expect(routes.filter((r) => !seen.get(r))).toEqual([])
  })

  it('says what went wrong in Chinese: a lifecycle step, an import with bad rows, a venue type', async () => {
    const fleet = await startFleet()
    await importCsv(fleet, [csvRow('DY-1', '341125', 'site_assigned')])
    const jump = await api<{ error: { code: string; message: string } }>(fleet, 'PATCH', '/api/v1/cabinets/DY-1', { status: 'operating' })
    expect(jump.status).toBe(409)
    expect(jump.body.error.message).toBe('专柜状态变更不合法：专柜 “DY-1” 不能从“已定点”变为“运营中”；可变为：“已安装”、“规划中”、“已撤除”')

    const csv = 'cabinetId,countyCode,siteName,venueType,status\n341125-00100,341125,定远县政府,机关,installed\n341125-00101,999999,,,\n341125-00102,341125,,,operating\n'
    const res = await fleet.http.inject({ method: 'POST', url: '/api/v1/cabinets/import', headers: { authorization: `Bearer ${fleet.adminToken}`, 'content-type': 'text/csv' }, payload: csv })
    const body = JSON.parse(res.body) as { error: { code: string; message: string; details: { rejected: Array<{ line: number; message: string }> } } }
    expect(res.statusCode).toBe(400)
    expect(body.error.message).toBe(
      '导入文件有错误行，未导入任何专柜：共 3 行，第 3、4 行有错误（第 3 行：区县代码 “999999” 不在布设计划 “chuzhou-2020” 中；' +
        '第 4 行：状态为运营中的专柜需有具体点位，缺少点位名称、场所类型）。请改正后重新导入，或以 “partial=true” 只导入正确的行',
    )
    expect(body.error.details.rejected.map((r) => r.line)).toEqual([3, 4])

    const venue = await api<{ error: { code: string; message: string } }>(fleet, 'POST', '/api/v1/cabinets', { countyCode: '341125', venueType: '菜市场' })
    expect(venue.status).toBe(400)
    expect(venue.body.error.code).toBe('VALIDATION_FAILED')
    expect(venue.body.error.message).toMatch(/^请求内容不符合要求：字段 “venueType”：须为 机关、社区、商场、高校、医院、企业、车站、机场、景区 之一/)

    const types = await api<{ error: { message: string } }>(fleet, 'POST', '/api/v1/cabinets', { countyCode: 341125, colour: 'red' })
    expect(types.body.error.message).toBe('请求内容不符合要求：字段 “countyCode”：须为文本，收到的是数字；\n不接受的字段 “colour”')
  })

  it('keeps the English text for the log', async () => {
    const lines: Array<Record<string, unknown>> = []
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>)
        cb()
      },
    })
    const fleet = await startFleet({}, { logger: pino({ level: 'info' }, stream) })
    await importCsv(fleet, [csvRow('DY-1', '341125', 'site_assigned')])
    expect((await api(fleet, 'PATCH', '/api/v1/cabinets/DY-1', { status: 'operating' })).status).toBe(409)
    expect((await api(fleet, 'POST', '/api/v1/cabinets', { countyCode: 341125 })).status).toBe(400)
    const refused = lines.filter((l) => l.msg === 'request refused')
    expect(refused).toEqual([
      expect.objectContaining({ code: 'CABINET_STATUS_INVALID', reason: 'cabinet DY-1: cannot go from site_assigned to operating; allowed next: installed, planned, retired' }),
      expect.objectContaining({ code: 'VALIDATION_FAILED', reason: '✖ Invalid input: expected string, received number\n  → at countyCode' }),
    ])
  })
})
