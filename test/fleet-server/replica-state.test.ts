// Two fleet servers on one PostgreSQL (issue 13, replica-safe state):
// - only the leader runs triggered forwarding passes, so a catalog change made
//   through the other server must reach the leader as a pass request
//   (PASS_CHANNEL), not wait for the next scheduled pass (10 min by default);
// - alerts are evaluated in the leader, so a clock judged skewed by the server
//   a cabinet is connected to must be seen by the other (cabinet_clock_flags).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Fleet } from '../../fleet-server/src/app.js'
import { api } from '../helpers/fleet.js'
import { startPostgres, type Postgres } from '../helpers/postgres.js'
import { aCatalog, aClock, aDatedCabinet, fleetWith, ok } from './certification.fixtures.js'

let server: Postgres
beforeAll(async () => {
  server = await startPostgres({ maxConnections: 100 })
})
afterAll(() => server?.close())

const lastRunAt = async (f: Fleet) => (await api<{ lastRunAt: string | null }>(f, 'GET', '/api/v1/forwarding')).body.lastRunAt

describe('forwarding passes across two servers on one PostgreSQL', () => {
  it('a catalog change made through the server that does not lead gets a pass from the one that does', async () => {
    const env = { FLEET_DATABASE_URL: await server.newDatabase('pass_requests') }
    const deps = { forwarding: { intervalMs: 0, debounceMs: 200 } }
    const a = await fleetWith({ env, deps })
    const b = await fleetWith({ env, deps })

    // Through A: whichever server leads runs the pass (itself, or on A's request).
    await aCatalog(a, { 'SKU-A': { cert: ['2020-01-01'], supplier: 1 } })
    await expect.poll(async () => (await lastRunAt(a)) ?? (await lastRunAt(b)), { timeout: 10_000, interval: 100 }).not.toBeNull()
    const [leader, follower] = (await lastRunAt(a)) !== null ? [a, b] : [b, a]
    expect(await lastRunAt(follower)).toBeNull()
    const before = await lastRunAt(leader)

    // Through the follower: its request makes the leader run another pass.
    await new Promise((r) => setTimeout(r, 20)) // a later pass has a later lastRunAt
    await aCatalog(follower, { 'SKU-F': { cert: ['2020-01-01'], supplier: 2 } })
    await expect.poll(() => lastRunAt(leader), { timeout: 10_000, interval: 100 }).not.toBe(before)
    expect(await lastRunAt(follower)).toBeNull()
  })
})

describe('clock judgements across two servers on one PostgreSQL', () => {
  it('a clock judged skewed by one server raises the alert from the other, and clears from it', async () => {
    const NOW = '2020-10-05T02:00:00.000Z'
    const env = { FLEET_DATABASE_URL: await server.newDatabase('clock_flags') }
    const a = await fleetWith({ env, deps: { now: aClock(NOW).now } })
    const b = await fleetWith({ env, deps: { now: aClock(NOW).now } })
    const openClockAlerts = async (f: Fleet) => {
      await ok(f, 'POST', '/api/v1/alerts/evaluate', undefined, 200)
      return (await ok<{ alerts: Array<{ cabinetId: string }> }>(f, 'GET', '/api/v1/alerts?kind=clock_skew', undefined, 200)).alerts
    }
    // Connected to B, three days behind.
    const c = await aDatedCabinet(b)
    await c.heartbeat(new Date(Date.parse(NOW) - 3 * 86_400_000).toISOString())
    await expect.poll(async () => (await openClockAlerts(a)).map((x) => x.cabinetId), { timeout: 5_000, interval: 100 }).toEqual([c.cabinetId])
    // Set right: A clears it too.
    await c.heartbeat(new Date(Date.parse(NOW) - 2_000).toISOString())
    await expect.poll(async () => (await openClockAlerts(a)).length, { timeout: 5_000, interval: 100 }).toBe(0)
  })
})
