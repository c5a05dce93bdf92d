// Two fleet servers on one PostgreSQL database (issue 13, replica-safe
// state): scheduled forwarding passes run in one of them only, and move to
// the other when it stops; login failures count across both. Each server is a
// full buildFleet with its own embedded broker and data dir.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Fleet } from '../../fleet-server/src/app.js'
import { api } from '../helpers/fleet.js'
import { startPostgres, type Postgres } from '../helpers/postgres.js'
import { fleetWith } from './certification.fixtures.js'

let server: Postgres
beforeAll(async () => {
  server = await startPostgres({ maxConnections: 100 })
})
afterAll(() => server?.close())

const lastRunAt = async (f: Fleet) => (await api<{ lastRunAt: string | null }>(f, 'GET', '/api/v1/forwarding')).body.lastRunAt

describe('two servers on one PostgreSQL', () => {
  it('runs the scheduled forwarding passes in one server, and in the other once that one stops', async () => {
    const url = await server.newDatabase('leader_passes')
    const env = { FLEET_DATABASE_URL: url }
    // Passes every 100 ms: whichever server leads runs dozens in the window below.
    const a = await fleetWith({ env, deps: { forwarding: { intervalMs: 100 } }, manualClose: true })
    const b = await fleetWith({ env, deps: { forwarding: { intervalMs: 100 } } })
    try {
      await expect.poll(async () => (await lastRunAt(a)) ?? (await lastRunAt(b)), { timeout: 10_000 }).not.toBeNull()
      await new Promise((r) => setTimeout(r, 1000))
      const ran = [await lastRunAt(a), await lastRunAt(b)].map((t) => t !== null)
      expect(ran.filter(Boolean)).toHaveLength(1)
      const [leader, follower] = ran[0] ? [a, b] : [b, a]
      expect(await lastRunAt(follower)).toBeNull()
      await leader.close()
      // The follower takes the lock at its next try (every 5 s) and runs the passes.
      await expect.poll(() => lastRunAt(follower), { timeout: 15_000, interval: 200 }).not.toBeNull()
    } finally {
      await a.close()
    }
  })

  it('counts login failures across both: guesses spread over the two are locked out as soon as on one', async () => {
    const url = await server.newDatabase('throttle')
    const env = { FLEET_DATABASE_URL: url }
    const a = await fleetWith({ env })
    const b = await fleetWith({ env })
    expect((await api(a, 'POST', '/api/v1/users', { username: 'dingyuan', role: 'county', countyCode: '341125', password: 'correct horse battery' })).status).toBe(201)
    const login = (f: Fleet, password: string) =>
      f.http.inject({ method: 'POST', url: '/api/v1/session', payload: { username: 'dingyuan', password }, remoteAddress: '192.0.2.7' })
    // Five wrong guesses, alternating servers: the per-user limit of one server.
    for (let i = 0; i < 5; i++) expect((await login(i % 2 ? b : a, `guess-${i}`)).statusCode).toBe(401)
    for (const f of [a, b]) {
      const r = await login(f, 'correct horse battery')
      expect(r.statusCode).toBe(429)
      expect(r.json()).toMatchObject({ error: { code: 'LOGIN_THROTTLED' } })
    }
  })
})
