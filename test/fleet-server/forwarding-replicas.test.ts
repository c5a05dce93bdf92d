// Two fleet servers on one PostgreSQL (issue 13, replica-safe state): only the
// leader runs triggered forwarding passes, so a catalog change made through
// the other server must reach the leader as a pass request (PASS_CHANNEL) —
// not wait for the next scheduled pass (10 min by default). Scheduled passes
// are off here, so any pass seen is a triggered one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Fleet } from '../../fleet-server/src/app.js'
import { api } from '../helpers/fleet.js'
import { startPostgres, type Postgres } from '../helpers/postgres.js'
import { aCatalog, fleetWith } from './certification.fixtures.js'

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
