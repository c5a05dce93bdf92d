// Session cookies through @fastify/cookie (issue 12, finding 4): a malformed
// cookie is an unknown session, and the cookie's flags follow the transport.
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { createHttp } from '../../../fleet-server/src/http/index.js'
import { startFleet } from '../../helpers/fleet.js'
import { userToken } from '../../helpers/rollout.js'

describe('session cookies', () => {
  it('answers 401 UNAUTHORIZED, not 500, to a malformed percent-encoded session cookie', async () => {
    const fleet = await startFleet()
    for (const cookie of ['fleet_session=%E0%A4%A', 'fleet_session=%', 'fleet_session=%ZZ; other=1', 'other=%E0%A4%A; fleet_session=%E0%A4%A']) {
      const me = await fleet.http.inject({ method: 'GET', url: '/api/v1/me', headers: { cookie } })
      expect(me.statusCode, cookie).toBe(401)
      expect(me.json().error.code).toBe('UNAUTHORIZED')
      const out = await fleet.http.inject({ method: 'DELETE', url: '/api/v1/session', headers: { cookie } })
      expect(out.statusCode, cookie).toBe(401)
    }
  })

  it('sets HttpOnly, SameSite=Strict cookies, Secure when the request came over HTTPS', async () => {
    const fleet = await startFleet({ FLEET_TRUST_PROXY: '127.0.0.1' })
    await userToken(fleet, { username: 'dingyuan', role: 'county', countyCode: '341125', password: 'dingyuan-2020!' })
    const login = (proto: string) =>
      fleet.http.inject({ method: 'POST', url: '/api/v1/session', payload: { username: 'dingyuan', password: 'dingyuan-2020!' }, headers: { 'x-forwarded-proto': proto } })
    const plain = (await login('http')).headers['set-cookie'] as string
    expect(plain).toMatch(/^fleet_session=[A-Za-z0-9_-]{43};/)
    expect(plain.split('; ').slice(1).sort()).toEqual(['HttpOnly', 'Max-Age=43200', 'Path=/', 'SameSite=Strict'])
    const tls = (await login('https')).headers['set-cookie'] as string
    expect(tls.split('; ')).toEqual(expect.arrayContaining(['HttpOnly', 'SameSite=Strict', 'Secure']))
  })

  it('marks cookies Secure on every answer when configured (behind a TLS terminator)', async () => {
    const app = await createHttp({ log: pino({ level: 'silent' }), logRequests: false, secureCookies: true })
    app.get('/c', async (_req, reply) => reply.setCookie('k', 'v', { path: '/' }).send({}))
    const res = await app.inject({ method: 'GET', url: '/c' })
    expect((res.headers['set-cookie'] as string).split('; ')).toContain('Secure')
    await app.close()
  })
})
