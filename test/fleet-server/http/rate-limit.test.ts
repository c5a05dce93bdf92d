// Request limits on /api/ (issue 12, finding 4): per credential and, without
// one, per client address; 429 RATE_LIMITED with Retry-After; nothing runs
// for a refused request.
import { pino } from 'pino'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createHttp } from '../../../fleet-server/src/http/index.js'
import { startFleet } from '../../helpers/fleet.js'

async function limitedHttp() {
  const app = await createHttp({ log: pino({ level: 'silent' }), logRequests: false, rateLimit: { perToken: 5, perAddress: 3 } })
  onTestFinished(() => app.close())
  let handled = 0
  app.post('/api/v1/things', async () => ({ handled: ++handled }))
  return { app, handled: () => handled }
}

describe('rate limits', () => {
  it('refuses a token past its limit with 429 RATE_LIMITED and Retry-After; other tokens go on; the handler never runs', async () => {
    const { app, handled } = await limitedHttp()
    const call = (headers: Record<string, string>) => app.inject({ method: 'POST', url: '/api/v1/things', headers: { 'content-type': 'application/json', ...headers }, payload: '{}' })
    const a = { authorization: 'Bearer token-a' }
    for (let i = 0; i < 5; i++) expect((await call(a)).statusCode).toBe(200)
    const refused = await call(a)
    expect(refused.statusCode).toBe(429)
    expect(refused.json().error.code).toBe('RATE_LIMITED')
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0)
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60)
    expect(handled()).toBe(5)
    // Another token, and a session cookie, have their own budgets; the same
    // token from another address does not.
    expect((await call({ authorization: 'Bearer token-b' })).statusCode).toBe(200)
    expect((await call({ cookie: 'fleet_session=s1' })).statusCode).toBe(200)
    expect((await app.inject({ method: 'POST', url: '/api/v1/things', headers: { ...a, 'content-type': 'application/json' }, payload: '{}', remoteAddress: '10.9.9.9' })).statusCode).toBe(429)
    expect(handled()).toBe(7)
  })

  it('limits calls without credentials per address, and leaves /healthz alone', async () => {
    const { app } = await limitedHttp()
    const anon = (remoteAddress: string) => app.inject({ method: 'POST', url: '/api/v1/things', headers: { 'content-type': 'application/json' }, payload: '{}', remoteAddress })
    for (let i = 0; i < 3; i++) expect((await anon('10.0.0.1')).statusCode).toBe(200)
    expect((await anon('10.0.0.1')).statusCode).toBe(429)
    expect((await anon('10.0.0.2')).statusCode).toBe(200)
    for (let i = 0; i < 10; i++) expect((await app.inject({ method: 'GET', url: '/healthz', remoteAddress: '10.0.0.1' })).statusCode).toBe(200)
  })

  it('counts requests that fail authentication on the fleet API', async () => {
    const fleet = await startFleet()
    const me = await fleet.http.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization: `Bearer ${fleet.adminToken}` } })
    expect(me.statusCode).toBe(200)
    expect(me.headers['x-ratelimit-limit']).toBe('300000')
    const anonymous = await fleet.http.inject({ method: 'GET', url: '/api/v1/me' })
    expect(anonymous.statusCode).toBe(401)
    expect(anonymous.headers['x-ratelimit-limit']).toBe('1200')
    expect(anonymous.headers['x-ratelimit-remaining']).toBe('1199')
  })
})
