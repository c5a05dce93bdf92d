// Property tests over every HTTP route the running server serves (issue 12):
// the route list comes from Fastify itself and the near-valid bodies and
// queries from its OpenAPI document, so a new route is covered without
// editing this file. Each request goes as admin, county, operator, auditor,
// a dashboard session, nobody, or with a bad token or cookie, and carries
// random, mutated or hostile bodies, queries, path params and content types.
// Invariants: never a 5xx; a rejected request changes no stored data; /api/
// errors keep the contract's shape; afterwards the server still answers
// /healthz and commits a real sale.
import fc from 'fast-check'
import type { InjectOptions } from 'fastify'
import { describe, expect, it } from 'vitest'
import { api, connectCabinet, provision } from '../helpers/fleet.js'
import { aBatch, aChain } from '../helpers/sales.js'
import {
  asText,
  badAuthorization,
  badCookie,
  fcParams,
  fromSchema,
  HOSTILE_CONTENT_TYPES,
  headerValue,
  hostileString,
  hostileValue,
  invalidUtf8,
  jsonBody,
  mutated,
  pathSegment,
  percentEncode,
  rawQuery,
  type JsonSchema,
} from '../helpers/arbitraries.js'
import { recordTrustCounts } from '../helpers/trust-counts.js'
import { aCatalog, aUscc, fleetWith } from '../fleet-server/certification.fixtures.js'
import { changedTables, routeTable, tableSnapshots, type RouteEntry } from './invariants.js'

/** Runs per route; every route also gets fast-check's own bias towards small and edge values. */
const RUNS_PER_ROUTE = Number(process.env.PROP_HTTP_RUNS ?? 24)

/** Routes this suite knew of when written; the live table must hold at least these. */
const KNOWN_ROUTES: readonly string[] = [
  'GET /healthz', 'GET /openapi.json', 'GET /metrics', 'GET /dashboard/:file',
  'POST /api/v1/users', 'POST /api/v1/session', 'DELETE /api/v1/session', 'GET /api/v1/me',
  'POST /api/v1/cabinets', 'GET /api/v1/cabinets', 'POST /api/v1/cabinets/import', 'GET /api/v1/cabinets/:id', 'PATCH /api/v1/cabinets/:id',
  'GET /api/v1/cabinets/:id/transitions', 'POST /api/v1/cabinets/:id/credentials', 'GET /api/v1/cabinets/:id/catalog', 'GET /api/v1/cabinets/:id/sales',
  'GET /api/v1/rollout', 'GET /api/v1/alerts', 'POST /api/v1/alerts/evaluate', 'POST /api/v1/alerts/:id/ack',
  'POST /api/v1/suppliers', 'GET /api/v1/suppliers', 'GET /api/v1/suppliers/:uscc', 'POST /api/v1/suppliers/:uscc/blacklist',
  'POST /api/v1/products', 'GET /api/v1/products', 'GET /api/v1/products/:sku', 'PATCH /api/v1/products/:sku',
  'POST /api/v1/certificates', 'GET /api/v1/certificates', 'GET /api/v1/certificates/:no', 'POST /api/v1/certificates/:no/renew', 'POST /api/v1/certificates/:no/revoke',
  'GET /api/v1/catalog', 'GET /api/v1/catalog/history', 'GET /api/v1/compliance',
  'GET /api/v1/forwarding', 'POST /api/v1/forwarding/run', 'POST /api/v1/forwarding/failed/:batchKey/retry',
  'POST /api/v1/reports', 'GET /api/v1/reports', 'GET /api/v1/reports/:id',
]

/**
 * Violations another engineer's branch is fixing (issue 12), or that this
 * suite found in files another engineer owns. Each is allowed only for
 * exactly its input, and its entry goes once the fix is merged.
 */
// Cases the suite found that are not fixed yet, each named with its finding; empty when none.
const KNOWN_FAILURES: ReadonlyArray<{ readonly finding: string; readonly violation: '5xx' | 'error-shape'; readonly matches: (req: HttpCase, body: string) => boolean }> = []

const isKnown = (violation: '5xx' | 'error-shape', req: HttpCase, body: string): boolean =>
  KNOWN_FAILURES.some((k) => k.violation === violation && k.matches(req, body))

interface HttpCase {
  readonly method: RouteEntry['method']
  readonly url: string
  readonly headers: Record<string, string>
  readonly payload?: string | Buffer
  /** Who the request claims to be, for the failure message. */
  readonly as: string
}

interface OpenApiOperation {
  parameters?: Array<{ in: 'query' | 'path' | 'header'; name: string; required?: boolean; schema?: JsonSchema }>
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> }
}
type OpenApi = { paths: Record<string, Record<string, OpenApiOperation>> }

interface Seeded {
  readonly tokens: Readonly<Record<'admin' | 'county' | 'operator' | 'auditor', string>>
  readonly sessionCookie: string
  /** Ids that exist, by path-param name: near-valid params reach the handlers, not just the validators. */
  readonly ids: Readonly<Record<string, readonly string[]>>
}

const BODY_METHODS = new Set(['POST', 'PATCH', 'PUT', 'DELETE'])

function requestFor(route: RouteEntry, op: OpenApiOperation | undefined, seeded: Seeded): fc.Arbitrary<HttpCase> {
  const params = op?.parameters ?? []
  const allIds = Object.values(seeded.ids).flat()

  // Path: each :name from existing ids, schema-valid values or hostile segments.
  const names = [...route.url.matchAll(/:(\w+)/g)].map((m) => m[1]!)
  const segment = (name: string): fc.Arbitrary<string> => {
    const schema = params.find((p) => p.in === 'path' && p.name === name)?.schema
    const known = seeded.ids[name] ?? allIds
    return fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...(known.length ? known : ['x'])).map(percentEncode) },
      { weight: 2, arbitrary: fromSchema(schema).map((v) => percentEncode(asText(v))) },
      { weight: 3, arbitrary: pathSegment },
    )
  }
  const path = fc.tuple(...names.map(segment)).map((values) => {
    let i = 0
    return route.url.replace(/:(\w+)/g, () => values[i++]!)
  })

  // Query: none, the documented parameters (valid or mutated once), or raw hostile text.
  const queryParams = params.filter((p) => p.in === 'query')
  const queryObject: JsonSchema = {
    type: 'object',
    properties: Object.fromEntries(queryParams.map((p) => [p.name, p.schema ?? {}])),
    required: queryParams.filter((p) => p.required).map((p) => p.name),
  }
  const toQuery = (o: unknown): string => {
    if (!o || typeof o !== 'object' || Array.isArray(o)) return percentEncode(JSON.stringify(o) ?? '')
    return new URLSearchParams(Object.entries(o).map(([k, v]): [string, string] => [k, asText(v)])).toString()
  }
  const query = fc.oneof(
    { weight: 2, arbitrary: fc.constant('') },
    { weight: queryParams.length ? 4 : 0, arbitrary: fromSchema(queryObject).chain((o) => fc.oneof(fc.constant(o), mutated(o))).map(toQuery) },
    { weight: 2, arbitrary: rawQuery },
  )

  // Who: every role, a dashboard session, nobody, or a bad token or cookie.
  const who = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('admin', 'county', 'operator', 'auditor').map((r) => ({ as: r, headers: { authorization: `Bearer ${seeded.tokens[r as keyof Seeded['tokens']]}` } })) },
    { weight: 1, arbitrary: fc.constant({ as: 'session', headers: { cookie: seeded.sessionCookie } }) },
    { weight: 1, arbitrary: fc.constant({ as: 'nobody', headers: {} }) },
    { weight: 1, arbitrary: badAuthorization.map((a) => ({ as: 'bad token', headers: { authorization: a } })) },
    { weight: 1, arbitrary: badCookie.map((c) => ({ as: 'bad cookie', headers: { cookie: c } })) },
  )

  // Body: near-valid JSON from the route's schema, hostile JSON, bytes that are not UTF-8.
  const bodySchema = op?.requestBody?.content?.['application/json']?.schema
  const valid = bodySchema ? fromSchema(bodySchema) : hostileValue
  const hasBody = BODY_METHODS.has(route.method)
  const body: fc.Arbitrary<string | Buffer | undefined> = fc.oneof(
    { weight: hasBody ? 8 : 0, arbitrary: jsonBody(valid) },
    { weight: hasBody ? 1 : 0, arbitrary: invalidUtf8 },
    { weight: hasBody ? 1 : 4, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: hostileString },
  )
  const contentType = fc.oneof(
    { weight: 6, arbitrary: fc.constant<string | undefined>('application/json') },
    { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_CONTENT_TYPES) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  )
  const extra = fc.option(fc.record({ accept: headerValue }, { requiredKeys: [] }), { nil: undefined, freq: 3 })

  return fc.record({ path, query, who, body, contentType, extra }).map(({ path, query, who, body, contentType, extra }) => {
    const headers: Record<string, string> = { ...who.headers, ...extra }
    if (body !== undefined && contentType !== undefined) headers['content-type'] = contentType
    return { method: route.method, url: query ? `${path}?${query}` : path, headers, ...(body !== undefined && { payload: body }), as: who.as }
  })
}

const describeCase = (c: HttpCase): string => {
  const cut = (s: string): string => (s.length > 300 ? `${s.slice(0, 300)}… (${s.length} chars)` : s)
  const payload = c.payload === undefined ? '' : Buffer.isBuffer(c.payload) ? ` bytes ${c.payload.toString('hex').slice(0, 120)}` : ` body ${cut(c.payload)}`
  return `${c.method} ${cut(c.url)} as ${c.as} headers ${cut(JSON.stringify(c.headers))}${payload}`
}

async function seed(fleet: Awaited<ReturnType<typeof fleetWith>>): Promise<Seeded> {
  const user = async (body: Record<string, unknown>): Promise<string> => {
    const r = await api<{ token: string }>(fleet, 'POST', '/api/v1/users', body)
    expect(r.status, JSON.stringify(r.body)).toBe(201)
    return r.body.token
  }
  const tokens = {
    admin: fleet.adminToken,
    county: await user({ username: 'county-341125', role: 'county', countyCode: '341125', password: 'county-pass-1' }),
    operator: await user({ username: 'op-a', role: 'operator', operator: 'op-a' }),
    auditor: await user({ username: 'auditor', role: 'auditor' }),
  }
  const login = await fleet.http.inject({ method: 'POST', url: '/api/v1/session', payload: { username: 'county-341125', password: 'county-pass-1' } })
  expect(login.statusCode, login.body).toBe(200)
  const setCookie = String(login.headers['set-cookie'] ?? '')
  const sessionCookie = setCookie.split(';')[0]!
  expect(sessionCookie).toMatch(/^fleet_session=./)

  const cabA = await provision(fleet, { countyCode: '341125', operator: 'op-a', siteName: '定远县人民医院', venueType: '医院' })
  const cabB = await provision(fleet, { countyCode: '341126' })
  await aCatalog(fleet, { 'DY-RICE-5KG': { cert: ['2020-01-01'] } })
  const report = await api<{ reportId: string }>(fleet, 'POST', '/api/v1/reports', { kind: 'monthly', period: '2020-09' })
  expect(report.status, JSON.stringify(report.body)).toBe(201)
  return {
    tokens,
    sessionCookie,
    ids: {
      id: [cabA.cabinetId, cabB.cabinetId, report.body.reportId],
      uscc: [aUscc(1)],
      sku: ['DY-RICE-5KG'],
      no: ['CERT-DY-RICE-5KG'],
      file: ['index.html', 'app.js', 'app.css'],
    },
  }
}

describe('every HTTP route under hostile input', () => {
  it('never answers 5xx, and a rejected request leaves every table unchanged, as any role or none', async () => {
    // No timer may write while a request is judged: forwarding passes run only on demand (fleetWith), reports not on schedule.
    const fleet = await fleetWith({ env: { FLEET_REPORTS_SCHEDULE: 'false' } })
    const routes = routeTable(fleet.http)
    const listed = new Set(routes.map((r) => `${r.method} ${r.url}`))
    expect(routes.length).toBeGreaterThanOrEqual(KNOWN_ROUTES.length)
    for (const known of KNOWN_ROUTES) expect(listed, `route table lacks ${known}`).toContain(known)
    // What the API documents is served and so fuzzed (hidden routes are fuzzed too, without a schema).
    const spec = fleet.http.swagger() as unknown as OpenApi
    const opOf = (r: RouteEntry): OpenApiOperation | undefined =>
      spec.paths[r.url.replace(/:(\w+)/g, '{$1}')]?.[r.method === 'HEAD' ? 'get' : r.method.toLowerCase()]
    for (const [p, ops] of Object.entries(spec.paths)) {
      for (const m of Object.keys(ops)) expect(listed).toContain(`${m.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`)
    }

    const seeded = await seed(fleet)
    // login_failures is the login throttle's count of rejected logins: a rejected request is meant to write it.
    // fleet_servers and cabinet_presence are written on a timer on PostgreSQL (this server's heartbeat), not by requests.
    const unrelated = new Set(['login_failures', 'fleet_servers', 'cabinet_presence'])
    const snapshot = tableSnapshots(fleet.database, (table) => !unrelated.has(table))
    let requests = 0
    let rejected = 0
    let knownFailures = 0
    for (const route of routes) {
      await fc.assert(
        fc.asyncProperty(requestFor(route, opOf(route), seeded), async (c) => {
          const before = await snapshot()
          const res = await fleet.http.inject({ method: c.method, url: c.url, headers: c.headers, ...(c.payload !== undefined && { payload: c.payload }) } as InjectOptions)
          requests++
          const where = `${describeCase(c)}\n→ ${res.statusCode} ${res.body.slice(0, 300)}`
          if (res.statusCode >= 500 && isKnown('5xx', c, res.body)) {
            knownFailures++
            return
          }
          expect(res.statusCode, `5xx for ${where}`).toBeLessThan(500)
          if (res.statusCode >= 200 && res.statusCode < 300) {
            // Writes a 2xx started may land a moment later; let them, so the next run's snapshot is settled.
            if (c.method !== 'GET' && c.method !== 'HEAD') await new Promise((r) => setTimeout(r, 5))
            return
          }
          rejected++
          expect(changedTables(before, await snapshot()), `stored data changed by a rejected request: ${where}`).toEqual([])
          if (c.url.startsWith('/api/') && c.method !== 'HEAD' && !isKnown('error-shape', c, res.body)) {
            const parsed = JSON.parse(res.body) as { error?: { code?: unknown; message?: unknown } }
            expect(typeof parsed.error?.code, `error body shape for ${where}`).toBe('string')
            expect(typeof parsed.error?.message, `error body shape for ${where}`).toBe('string')
          }
        }),
        fcParams(RUNS_PER_ROUTE),
      )
    }
    expect(requests).toBeGreaterThanOrEqual(routes.length * RUNS_PER_ROUTE)

    // Still up, and still doing its job: a new cabinet commits a real sale.
    expect((await fleet.http.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
    const cab = await provision(fleet, { countyCode: '341125' })
    const mqtt = await connectCabinet(fleet.mqttUrl, cab)
    const reply = await mqtt.send(aBatch(cab.cabinetId, aChain(cab.cabinetId, 2)))
    expect(reply).toMatchObject({ status: 'committed', ackedSeq: 2 })
    recordTrustCounts('property', { httpRoutes: routes.length, httpRequests: requests, httpRejected: rejected, httpKnownFailures: knownFailures, hostileInputs: requests })
  })
})
