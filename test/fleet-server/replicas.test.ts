// Two fleet-server processes on one PostgreSQL (issue 13 item 4), each with
// its own embedded broker, cabinets split between them: a login change made
// through one ends the cabinet's session on the other and is refused by both;
// GET /rollout's online figures are the same from both and follow connects,
// disconnects and a server closing. In one test process: two buildFleet
// handles, real brokers and mqtt.js cabinets on real sockets. Runs under both
// `npm test` and `npm run test:pg` (the database is this file's own server).
import mqtt from 'mqtt'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Fleet } from '../../fleet-server/src/app.js'
import { topics } from '../../shared/src/index.js'
import { api, connectCabinet, expectDisconnected, provision, startFleet, type Provisioned } from '../helpers/fleet.js'
import { startPostgres, type Postgres } from '../helpers/postgres.js'
import { aBatch, aChain } from '../helpers/sales.js'

// allowRetries=false: a refused CONNACK rejects instead of retrying.
const refused = (url: string, cab: Provisioned, password = cab.mqtt.password) =>
  mqtt.connectAsync(url, { clientId: cab.cabinetId, username: cab.cabinetId, password, reconnectPeriod: 0, connectTimeout: 5000 }, false)

interface Rollout {
  counties: Array<{ code: string; online: number; onlineNotInstalled: number }>
  totals: { online: number; onlineNotInstalled: number }
}

/**
 * City total and the per-county connected cabinets a server reports (counties
 * with none left out): `online` counts them installed or not (the planned
 * cabinets these tests provision are also in `onlineNotInstalled`).
 */
async function online(fleet: Fleet): Promise<{ total: number; counties: Record<string, number> }> {
  const r = await api<Rollout>(fleet, 'GET', '/api/v1/rollout')
  expect(r.status).toBe(200)
  const connected = (c: { online: number }) => c.online
  return { total: connected(r.body.totals), counties: Object.fromEntries(r.body.counties.filter((c) => connected(c) > 0).map((c) => [c.code, connected(c)])) }
}

const metric = async (f: Fleet, name: string): Promise<string | undefined> =>
  new RegExp(`^${name} (\\d+)$`, 'm').exec((await f.http.inject({ method: 'GET', url: '/metrics' })).body)?.[1]

const heartbeat = (cabinetId: string, pending: number) => JSON.stringify({
  v: 1, type: 'heartbeat', cabinetId, sentAt: new Date().toISOString(), lastSeq: pending, lastAckedSeq: 0, pending,
  oldestPendingAgeS: 60, catalogVersion: null, uptimeS: 1, agentVersion: 'test',
})

let server: Postgres
let n = 0

beforeAll(async () => {
  server = await startPostgres({ database: 'replicas' })
}, 60_000)
afterAll(() => server?.close())

/** Two servers on one fresh database; B is closed by the test when `manualCloseB`. */
async function twoServers(manualCloseB = false): Promise<{ a: Fleet; b: Fleet }> {
  const env = { FLEET_DATABASE_URL: await server.newDatabase(`replicas_${++n}`) }
  const a = await startFleet(env)
  const b = await startFleet(env, { manualClose: manualCloseB })
  return { a, b }
}

describe('two fleet servers on one PostgreSQL', () => {
  it('a cabinet retired through A is disconnected from B within a second and can log in to neither', async () => {
    const { a, b } = await twoServers()
    const cab = await provision(a)
    const other = await provision(a)
    const c = await connectCabinet(b.mqttUrl, cab)
    const kept = await connectCabinet(b.mqttUrl, other)
    // Its outbox reports sales waiting: lag on B until the cabinet is retired.
    await c.client.publishAsync(topics.heartbeat(cab.cabinetId), heartbeat(cab.cabinetId, 5), { qos: 1 })
    await expect.poll(() => metric(b, 'fleet_outbox_pending_sales')).toBe('5')
    expect((await api(a, 'PATCH', `/api/v1/cabinets/${cab.cabinetId}`, { status: 'retired' })).status).toBe(200)
    await expect.poll(() => c.client.connected, { timeout: 1_000, interval: 20 }).toBe(false)
    await expect.poll(() => metric(b, 'fleet_outbox_pending_sales'), { timeout: 1_000, interval: 20 }).toBe('0')
    await expect(refused(b.mqttUrl, cab)).rejects.toThrow(/Bad username or password/i)
    await expect(refused(a.mqttUrl, cab)).rejects.toThrow(/Bad username or password/i)
    // Only the retired cabinet's session ended.
    expect(kept.client.connected).toBe(true)
  })

  it('a retirement made while B was not listening still ends its session on B once B listens again', async () => {
    const { a, b } = await twoServers()
    const cab = await provision(a)
    const c = await connectCabinet(b.mqttUrl, cab)
    // Both servers' notice connections fail (they reconnect after ~1 s): the notice of the retirement is lost.
    const admin = new pg.Client({ connectionString: (b.config.database as { url: string }).url })
    await admin.connect()
    try {
      const killed = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'")
      expect(killed.rowCount).toBeGreaterThanOrEqual(2)
    } finally {
      await admin.end()
    }
    expect((await api(a, 'PATCH', `/api/v1/cabinets/${cab.cabinetId}`, { status: 'retired' })).status).toBe(200)
    await expect.poll(() => c.client.connected, { timeout: 5_000, interval: 50 }).toBe(false)
    await expect(refused(b.mqttUrl, cab)).rejects.toThrow(/Bad username or password/i)
  })

  it('credentials rotated through A end the session on B; B refuses the old password and takes the new one', async () => {
    const { a, b } = await twoServers()
    const cab = await provision(a)
    const c = await connectCabinet(b.mqttUrl, cab)
    const r = await api<Provisioned>(a, 'POST', `/api/v1/cabinets/${cab.cabinetId}/credentials`)
    expect(r.status).toBe(200)
    await expectDisconnected(c.client)
    await expect(refused(b.mqttUrl, cab)).rejects.toThrow(/Bad username or password/i)
    const again = await connectCabinet(b.mqttUrl, r.body)
    expect(again.client.connected).toBe(true)
  })

  it('GET /rollout online is the same from both servers, per county and in total, and follows a disconnect on B', async () => {
    const { a, b } = await twoServers()
    const dy1 = await provision(a)
    const dy2 = await provision(a)
    const dy3 = await provision(b)
    const fy1 = await provision(b, { countyCode: '341126' })
    await connectCabinet(a.mqttUrl, dy1)
    await connectCabinet(a.mqttUrl, dy2)
    await connectCabinet(b.mqttUrl, fy1)
    const leaving = await connectCabinet(b.mqttUrl, dy3)
    const truth = { total: 4, counties: { '341125': 3, '341126': 1 } }
    await expect.poll(() => online(a), { timeout: 3_000 }).toEqual(truth)
    await expect.poll(() => online(b), { timeout: 3_000 }).toEqual(truth)
    const view = await api<{ online: boolean }>(a, 'GET', `/api/v1/cabinets/${fy1.cabinetId}`)
    expect(view.body.online).toBe(true)
    // The metric stays each process's own broker sessions.
    expect(await metric(a, 'fleet_cabinets_connected')).toBe('2')
    expect(await metric(b, 'fleet_cabinets_connected')).toBe('2')

    await leaving.close()
    const after = { total: 3, counties: { '341125': 2, '341126': 1 } }
    await expect.poll(() => online(b), { timeout: 2_000, interval: 50 }).toEqual(after)
    await expect.poll(() => online(a), { timeout: 2_000, interval: 50 }).toEqual(after)
  })

  it('a cabinet that moves from B to A is counted once, on A', async () => {
    const { a, b } = await twoServers()
    const cab = await provision(a)
    const onB = await connectCabinet(b.mqttUrl, cab)
    await expect.poll(() => online(a), { timeout: 3_000 }).toEqual({ total: 1, counties: { '341125': 1 } })
    await onB.close()
    await connectCabinet(a.mqttUrl, cab)
    await expect.poll(() => online(b), { timeout: 3_000 }).toEqual({ total: 1, counties: { '341125': 1 } })
    // Stays right after B's disconnect is written (it must not delete A's row).
    await new Promise((r) => setTimeout(r, 1_500))
    expect(await online(a)).toEqual({ total: 1, counties: { '341125': 1 } })
    expect(await online(b)).toEqual({ total: 1, counties: { '341125': 1 } })
  })

  it('a cabinet that sold through B and comes back to A carries on its chain on A (no gap against a stale head)', async () => {
    const { a, b } = await twoServers()
    const cab = await provision(a)
    const first = aChain(cab.cabinetId, 2)
    const onA = await connectCabinet(a.mqttUrl, cab)
    expect(await onA.send(aBatch(cab.cabinetId, first))).toMatchObject({ status: 'committed', ackedSeq: 2 })
    await onA.close()
    const onB = await connectCabinet(b.mqttUrl, cab)
    const second = aChain(cab.cabinetId, 2, { after: first })
    expect(await onB.send(aBatch(cab.cabinetId, second))).toMatchObject({ status: 'committed', ackedSeq: 4 })
    await onB.close()
    // Back on A, whose own head for the cabinet still says seq 2.
    const again = await connectCabinet(a.mqttUrl, cab)
    expect(await again.send(aBatch(cab.cabinetId, aChain(cab.cabinetId, 1, { after: second })))).toMatchObject({ status: 'committed', ackedSeq: 5 })
  })

  it("a server closed cleanly drops its cabinets from the other's online count", async () => {
    const { a, b } = await twoServers(true)
    const dy1 = await provision(a)
    const dy2 = await provision(a)
    await connectCabinet(a.mqttUrl, dy1)
    await connectCabinet(b.mqttUrl, dy2)
    await expect.poll(() => online(a), { timeout: 3_000 }).toEqual({ total: 2, counties: { '341125': 2 } })
    await b.close()
    await expect.poll(() => online(a), { timeout: 2_000, interval: 50 }).toEqual({ total: 1, counties: { '341125': 1 } })
  })
})
