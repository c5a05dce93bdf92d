// Two fleet-server processes on one PostgreSQL (issue 13): `npm start` twice,
// each with its own data dir and embedded broker, cabinets split between
// them, driven only through HTTP and MQTT as a user's scripts would:
//   - a revocation made through one changes the other's certified figures within 1 s;
//   - a cabinet retired through one can log in to neither (and is cut off where it was);
//   - login failures count across both;
//   - GET /rollout `online` is the same from both;
//   - forwarding run through both at once sends each batch to the platform once;
//   - a scheduled report runs exactly once (both run the schedule every second).
import mqtt from 'mqtt'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { BUNDLED_PLANS, shanghaiDate, usccCheckChar } from '../../shared/src/index.js'
import { dueReports } from '../../fleet-server/src/reports/index.js'
import { buildPlatform } from '../../simulators/src/platform/app.js'
import { apiClient, provisionCabinet, type ApiClient } from '../helpers/api.js'
import { connectCabinet, TEST_ADMIN_TOKEN, tempDir } from '../helpers/fleet.js'
import { startPostgres, type Postgres } from '../helpers/postgres.js'
import { startNpmScript } from '../helpers/process-group.js'
import { aBatch, aChain } from '../helpers/sales.js'

let pg: Postgres
beforeAll(async () => {
  pg = await startPostgres({ maxConnections: 100 })
})
afterAll(() => pg?.close())

interface Server {
  readonly api: ApiClient
  readonly http: string
  readonly mqttUrl: string
  /** The process's stdout lines so far (pino JSON). */
  readonly lines: readonly string[]
}

async function startServer(url: string, env: Record<string, string> = {}): Promise<Server> {
  const s = await startNpmScript('start', [], {
    FLEET_DATABASE_URL: url,
    FLEET_DATA_DIR: await tempDir(),
    FLEET_HTTP_PORT: '0',
    FLEET_MQTT_PORT: '0',
    FLEET_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    FLEET_REPORTS_SCHEDULE: 'false',
    LOG_LEVEL: 'warn',
    ...env,
  })
  onTestFinished(async () => {
    if (s.signalGroup('SIGTERM')) await s.exited
  })
  const http = `http://127.0.0.1:${s.ready.http as number}`
  return { api: apiClient(http, TEST_ADMIN_TOKEN), http, mqttUrl: `mqtt://127.0.0.1:${s.ready.mqtt as number}`, lines: s.lines }
}

/** A one-year certificate covering the last three months (the sales below are dated in them). */
const certifiedFrom = shanghaiDate(new Date(Date.now() - 90 * 86_400_000))

const uscc = (() => {
  const first17 = `93341125${'00000001'}X`
  return first17 + usccCheckChar(first17)!
})()

describe('two fleet-server processes on one PostgreSQL', () => {
  it('share certified figures, credentials, login failures and who is online', async () => {
    const url = await pg.newDatabase('replicas')
    const a = await startServer(url)
    const b = await startServer(url)

    // The catalog through A; a cabinet on B sells the certified product today.
    expect((await a.api.post('/api/v1/suppliers', { uscc, name: '合作社' })).status).toBe(201)
    expect((await a.api.post('/api/v1/products', { sku: 'CERT', name: '蜂蜜', supplierUscc: uscc, priceFen: 1000 })).status).toBe(201)
    expect((await a.api.post('/api/v1/certificates', { sku: 'CERT', certificateNo: 'C-CERT', validFrom: certifiedFrom })).status).toBe(201)
    const onB = await provisionCabinet(b.api)
    const onA = await provisionCabinet(a.api)
    const cabB = await connectCabinet(b.mqttUrl, onB)
    const cabA = await connectCabinet(a.mqttUrl, onA)
    const sale = aChain(onB.cabinetId, 1, { lines: () => [{ sku: 'CERT', qty: 1, unitPriceFen: 1000 }] })
    expect(await cabB.send(aBatch(onB.cabinetId, sale))).toMatchObject({ status: 'committed', ackedSeq: 1 })

    const today = shanghaiDate(new Date())
    const certifiedOn = async (s: Server) => {
      const r = await s.api.get<{ cabinets: Array<{ cabinetId: string; certifiedAmountFen: number }> }>(`/api/v1/compliance?from=${today}&to=${today}`)
      return r.body.cabinets.find((c) => c.cabinetId === onB.cabinetId)?.certifiedAmountFen
    }
    expect(await certifiedOn(b)).toBe(1000)
    expect((await a.api.post('/api/v1/certificates/C-CERT/revoke', { reason: '抽检不合格' })).status).toBe(200)
    const revokedAt = Date.now()
    await expect.poll(() => certifiedOn(b), { timeout: 1000, interval: 20 }).toBe(0)
    expect(Date.now() - revokedAt).toBeLessThan(1000)

    // Online: the same from both, and the truth (one cabinet on each).
    // Planned cabinets: connected, counted apart from the installed ones (issue 15).
    const online = async (s: Server) => (await s.api.get<{ totals: { online: number; onlineNotInstalled: number }; counties: Array<{ code: string; online: number }> }>('/api/v1/rollout')).body
    await expect.poll(async () => [(await online(a)).totals.onlineNotInstalled, (await online(b)).totals.onlineNotInstalled], { timeout: 5000 }).toEqual([2, 2])
    expect((await online(a)).counties).toEqual((await online(b)).counties)

    // Retired through A: cut off on B, and refused by both.
    const cutOff = new Promise<void>((resolve) => cabB.client.once('close', () => resolve()))
    expect((await a.api.patch(`/api/v1/cabinets/${onB.cabinetId}`, { status: 'retired', reason: '撤柜' })).status).toBe(200)
    await cutOff
    for (const s of [a, b]) {
      const refused = await mqtt
        .connectAsync(s.mqttUrl, { clientId: onB.cabinetId, username: onB.mqtt.username, password: onB.mqtt.password, reconnectPeriod: 0 }, false)
        .then((c) => (c.end(true), 'connected'), (err: Error) => err.message)
      expect(refused).toMatch(/Not authorized|Bad username or password/i)
    }
    await expect.poll(async () => [(await online(a)).totals.onlineNotInstalled, (await online(b)).totals.onlineNotInstalled], { timeout: 5000 }).toEqual([1, 1])

    // Login failures count across both servers: five guesses spread over them lock the user on both.
    expect((await a.api.post('/api/v1/users', { username: 'dingyuan', role: 'county', countyCode: '341125', password: 'correct horse battery' })).status).toBe(201)
    const login = (s: Server, password: string) =>
      fetch(`${s.http}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'dingyuan', password }) })
    for (let i = 0; i < 5; i++) expect((await login(i % 2 ? b : a, `guess-${i}`)).status).toBe(401)
    for (const s of [a, b]) expect((await login(s, 'correct horse battery')).status).toBe(429)

    await cabA.close()
  })

  it('sends each forwarded batch to the platform once when both servers run a pass at the same moment', async () => {
    const platform = await buildPlatform({ failRate: 0, latencyMs: 100, secret: null, storePath: null, logger: pino({ level: 'silent' }) })
    await platform.app.listen({ port: 0, host: '127.0.0.1' })
    onTestFinished(() => platform.app.close())
    const addr = platform.app.server.address()
    const platformUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/intake`
    const url = await pg.newDatabase('replicas_forwarding')
    const a = await startServer(url, { PLATFORM_URL: platformUrl })
    const b = await startServer(url, { PLATFORM_URL: platformUrl })
    expect((await a.api.post('/api/v1/suppliers', { uscc, name: '合作社' })).status).toBe(201)
    expect((await a.api.post('/api/v1/products', { sku: 'CERT', name: '蜂蜜', supplierUscc: uscc, priceFen: 1000 })).status).toBe(201)
    expect((await a.api.post('/api/v1/certificates', { sku: 'CERT', certificateNo: 'C-CERT', validFrom: certifiedFrom })).status).toBe(201)
    // Cabinets on both sell certified goods in an ended month (two months ago) and today, so that month is complete.
    const monthAgo = new Date(Date.now() - 62 * 86_400_000).toISOString()
    for (const [i, s] of [a, b, a, b].entries()) {
      const cab = await provisionCabinet(s.api)
      const c = await connectCabinet(s.mqttUrl, cab)
      const sales = aChain(cab.cabinetId, 2, { soldAt: (k) => (k === 0 ? monthAgo : new Date().toISOString()), lines: () => [{ sku: 'CERT', qty: 1, unitPriceFen: 1000 + i }] })
      expect(await c.send(aBatch(cab.cabinetId, sales))).toMatchObject({ status: 'committed', ackedSeq: 2 })
    }
    const [ra, rb] = await Promise.all([a.api.post<{ queued: number }>('/api/v1/forwarding/run', {}), b.api.post<{ queued: number }>('/api/v1/forwarding/run', {})])
    expect([ra.status, rb.status]).toEqual([200, 200])
    const received = async () => platform.received()
    await expect.poll(async () => (await received()).batches, { timeout: 15_000 }).toBeGreaterThanOrEqual(4)
    await new Promise((r) => setTimeout(r, 500))
    const got = await received()
    expect(got.duplicatesRejected).toBe(0)
    const sent = (await a.api.get<{ sent: number; pending: number }>('/api/v1/forwarding')).body
    expect(sent.sent).toBe(got.batches)
    expect(sent.pending).toBe(0)
  })

  it('runs each scheduled report once, in one server, when both run the schedule every second', async () => {
    const url = await pg.newDatabase('replicas_reports')
    const every = { FLEET_REPORTS_SCHEDULE: 'on', FLEET_REPORTS_CRON: '* * * * * *', LOG_LEVEL: 'info', FLEET_LOG_REQUESTS: 'false' }
    const servers = [await startServer(url, every), await startServer(url, every)]
    // The runs themselves are counted, not only the rows: the scheduled-once
    // index would keep a second server's copies out of the database anyway.
    const logged = (s: Server, msg: string) =>
      s.lines.flatMap((l) => {
        try {
          const o = JSON.parse(l) as { msg?: string; stored?: number }
          return o.msg === msg ? [o] : []
        } catch {
          return []
        }
      })
    const runs = () => servers.map((s) => logged(s, 'scheduled reports run').length)
    // A few seconds of ticks once both are up (the first ran alone while the second started).
    const before = runs()
    await expect.poll(() => Math.max(...runs().map((n, i) => n - before[i]!)), { timeout: 15_000, interval: 100 }).toBeGreaterThanOrEqual(3)
    const [runsA, runsB] = runs()
    expect(Math.min(runsA!, runsB!), `runs per server: ${runsA}, ${runsB}`).toBe(0)
    const leader = servers[runsA! > 0 ? 0 : 1]!
    const follower = servers[runsA! > 0 ? 1 : 0]!
    expect(logged(follower, 'scheduled reports generated')).toEqual([])

    const { reports } = (await follower.api.get<{ reports: Array<{ kind: string; period: string; scope: string; scheduled: boolean }> }>('/api/v1/reports')).body
    const keys = reports.filter((r) => r.scheduled).map((r) => `${r.kind}:${r.period}:${r.scope}`)
    expect(new Set(keys).size).toBe(keys.length)
    // Every report due now, for the city and each county, is there (once, above).
    const plan = BUNDLED_PLANS['chuzhou-2020']!
    const scopes = ['city', ...plan.counties.map((c) => `county:${c.code}`)]
    const due = dueReports(new Date(), plan.policy.reports).flatMap((d) => scopes.map((scope) => `${d.kind}:${d.period.id}:${scope}`))
    expect(keys).toEqual(expect.arrayContaining(due))
    // …and every one of them was stored by the leader's runs.
    expect(logged(leader, 'scheduled reports generated').reduce((n, o) => n + (o.stored ?? 0), 0)).toBe(keys.length)
  })
})
