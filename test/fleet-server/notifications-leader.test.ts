// Two fleet servers on one PostgreSQL (issue 13's replicas) with notifications
// (issue 16 §6): the outbox rows are written once, by whichever server
// evaluates, and each is sent once, by the jobs leader — not once per server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api } from '../helpers/fleet.js'
import { startPostgres, type Postgres } from '../helpers/postgres.js'
import { clockAt, csvRow, importCsv, userToken } from '../helpers/rollout.js'
import { notifyingFleet, settled, startReceiver, subscribe } from './notifications.fixtures.js'

let server: Postgres
beforeAll(async () => {
  server = await startPostgres({ maxConnections: 100 })
})
afterAll(() => server?.close())

describe('notifications with two servers on one PostgreSQL', () => {
  it('delivers each transition once, not once per server', async () => {
    const env = { FLEET_DATABASE_URL: await server.newDatabase('notify_once') }
    const clock = clockAt('2020-10-10T00:00:00.000Z')
    const a = await notifyingFleet(clock, {}, env)
    const b = await notifyingFleet(clock, {}, env)
    const rx = await startReceiver()
    await importCsv(a, [1, 2, 3].map((n) => csvRow(`DY-${n}`, '341125', 'operating')))
    const dy = await userToken(a, { username: 'dy', role: 'county', countyCode: '341125' })
    await subscribe(b, dy, { url: `${rx.url}/dy`, format: 'json', kinds: ['offline'] })
    await subscribe(a, a.adminToken, { url: `${rx.url}/city`, format: 'wecom', kinds: ['offline'] })

    clock.set('2020-10-11T00:00:01.000Z')
    // Both evaluate (as on request): the alerts, and so the outbox rows, are written once.
    await Promise.all([api(a, 'POST', '/api/v1/alerts/evaluate'), api(b, 'POST', '/api/v1/alerts/evaluate')])
    clock.set('2020-10-11T00:00:02.000Z')
    for (const n of [1, 2]) expect((await api(a, 'PATCH', `/api/v1/cabinets/DY-${n}`, { status: 'suspended', reason: '维修' })).status).toBe(200)
    await api(b, 'POST', '/api/v1/alerts/evaluate')
    await settled(a)

    const events = (path: string) => rx.at(path).map((r) => `${String(r.body.event)} ${String((r.body.alert as { cabinetId: string }).cabinetId)}`).sort()
    expect(events('/dy')).toEqual(['cleared DY-1', 'cleared DY-2', 'raised DY-1', 'raised DY-2', 'raised DY-3'])
    expect(rx.at('/city')).toHaveLength(5)
  })
})
