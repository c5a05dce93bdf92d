// The dashboard's HTTP side: static files served by the fleet server (no
// CDN), password login with scrypt, and the session cookie's rules.
import { gunzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import type { Fleet } from '../../fleet-server/src/app.js'
import { api, startFleet } from '../helpers/fleet.js'
import { sqlRows } from '../helpers/test-db.js'
import { clockAt, userToken } from '../helpers/rollout.js'

describe('dashboard', () => {
  it('serves the zh-CN page, its script and ECharts itself, with caching and security headers', async () => {
    const fleet = await startFleet()
    const root = await fleet.http.inject({ method: 'GET', url: '/' })
    expect(root.statusCode).toBe(302)
    expect(root.headers.location).toBe('/dashboard/')

    const page = await fleet.http.inject({ method: 'GET', url: '/dashboard/' })
    expect(page.statusCode).toBe(200)
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(page.body).toContain('<html lang="zh-CN">')
    expect(page.body).toContain('name="viewport"')
    expect(page.body).not.toMatch(/https?:\/\//) // nothing from the internet
    expect(page.headers['content-security-policy']).toContain("default-src 'self'")
    expect(page.headers['x-frame-options']).toBe('DENY')

    const echarts = await fleet.http.inject({ method: 'GET', url: '/dashboard/echarts.min.js', headers: { 'accept-encoding': 'gzip' } })
    expect(echarts.statusCode).toBe(200)
    expect(echarts.headers['content-encoding']).toBe('gzip')
    expect(echarts.rawPayload.length).toBeLessThan(500_000)
    expect(gunzipSync(echarts.rawPayload).toString('utf8')).toContain('echarts')
    expect(echarts.headers['cache-control']).toContain('max-age=')
    const again = await fleet.http.inject({ method: 'GET', url: '/dashboard/app.js', headers: { 'if-none-match': (await fleet.http.inject({ method: 'GET', url: '/dashboard/app.js' })).headers.etag as string } })
    expect(again.statusCode).toBe(304)
    expect((await fleet.http.inject({ method: 'GET', url: '/dashboard/../../package.json' })).statusCode).toBe(404)
    expect((await fleet.http.inject({ method: 'GET', url: '/dashboard/secret.txt' })).statusCode).toBe(404)
  })

  it('refuses logins with 429 and Retry-After after five wrong passwords of one user from one address, for 15 minutes', async () => {
    const clock = clockAt('2020-10-10T00:00:00.000Z')
    const fleet = await startFleet({}, { now: clock.now })
    await userToken(fleet, { username: 'dingyuan', role: 'county', countyCode: '341125', password: 'dingyuan-2020!' })
    await userToken(fleet, { username: 'fengyang', role: 'county', countyCode: '341126', password: 'fengyang-2020!' })
    const login = (username: string, password: string, remoteAddress = '10.0.0.7') =>
      fleet.http.inject({ method: 'POST', url: '/api/v1/session', payload: { username, password }, remoteAddress })

    for (let i = 0; i < 5; i++) expect((await login('dingyuan', `guess-${i}`)).statusCode).toBe(401)
    // Locked: even the right password is refused, before it is checked.
    const refused = await login('dingyuan', 'dingyuan-2020!')
    expect(refused.statusCode).toBe(429)
    expect(JSON.parse(refused.body).error).toEqual({ code: 'LOGIN_THROTTLED', message: '登录失败次数过多，请稍后再试：请 900 秒后再试', details: { retryAfterS: 900 } })
    expect(refused.headers['retry-after']).toBe('900')
    expect(refused.headers['set-cookie']).toBeUndefined()
    // Another user at that address, and the same user at another address, log in.
    expect((await login('fengyang', 'fengyang-2020!')).statusCode).toBe(200)
    expect((await login('dingyuan', 'dingyuan-2020!', '10.0.0.8')).statusCode).toBe(200)

    clock.set('2020-10-10T00:14:00.000Z')
    expect((await login('dingyuan', 'dingyuan-2020!')).headers['retry-after']).toBe('60')
    clock.set('2020-10-10T00:15:00.000Z')
    expect((await login('dingyuan', 'dingyuan-2020!')).statusCode).toBe(200)
    // The success cleared the count: four more failures do not lock.
    for (let i = 0; i < 4; i++) expect((await login('dingyuan', `guess-${i}`)).statusCode).toBe(401)
    expect((await login('dingyuan', 'dingyuan-2020!')).statusCode).toBe(200)
  })

  it('behind a trusted reverse proxy (FLEET_TRUST_PROXY), throttles the client X-Forwarded-For names, not the proxy', async () => {
    const login = (fleet: Fleet, client: string) =>
      fleet.http.inject({ method: 'POST', url: '/api/v1/session', payload: { username: 'dingyuan', password: 'wrong' }, remoteAddress: '10.0.0.1', headers: { 'x-forwarded-for': client } })
    const trusting = await startFleet({ FLEET_TRUST_PROXY: '10.0.0.1' })
    const plain = await startFleet()
    for (const fleet of [trusting, plain]) {
      await userToken(fleet, { username: 'dingyuan', role: 'county', countyCode: '341125', password: 'dingyuan-2020!' })
      for (let i = 0; i < 5; i++) expect((await login(fleet, '203.0.113.5')).statusCode).toBe(401)
      expect((await login(fleet, '203.0.113.5')).statusCode).toBe(429)
    }
    // Another client through the same proxy: its own count when the proxy is trusted, the proxy's otherwise.
    expect((await login(trusting, '203.0.113.6')).statusCode).toBe(401)
    expect((await login(plain, '203.0.113.6')).statusCode).toBe(429)
  })

  it('refuses an address that fails fifty logins across usernames', async () => {
    const fleet = await startFleet()
    await userToken(fleet, { username: 'dingyuan', role: 'county', countyCode: '341125', password: 'dingyuan-2020!' })
    const login = (username: string, password: string, remoteAddress: string) =>
      fleet.http.inject({ method: 'POST', url: '/api/v1/session', payload: { username, password }, remoteAddress })
    const failures = await Promise.all(Array.from({ length: 50 }, (_, i) => login(`user-${i}`, 'x', '10.0.0.9')))
    expect(failures.map((r) => r.statusCode)).toEqual(Array(50).fill(401))
    expect((await login('dingyuan', 'dingyuan-2020!', '10.0.0.9')).statusCode).toBe(429)
    expect((await login('dingyuan', 'dingyuan-2020!', '10.0.0.10')).statusCode).toBe(200)
  })

  it('logs in with a scrypt password and a HttpOnly, SameSite=Strict cookie the API accepts; logout and expiry end it', async () => {
    const clock = clockAt('2020-10-10T00:00:00.000Z')
    const fleet = await startFleet({}, { now: clock.now })
    await userToken(fleet, { username: 'dingyuan', role: 'county', countyCode: '341125', password: 'dingyuan-2020!' })
    await userToken(fleet, { username: 'nopass', role: 'auditor' })
    const login = (username: string, password: string) => fleet.http.inject({ method: 'POST', url: '/api/v1/session', payload: { username, password } })

    for (const [u, p] of [['dingyuan', 'wrong-password'], ['nobody', 'dingyuan-2020!'], ['nopass', 'anything-at-all']]) {
      const bad = await login(u!, p!)
      expect(bad.statusCode).toBe(401)
      expect(JSON.parse(bad.body).error).toEqual({ code: 'LOGIN_FAILED', message: '用户名或密码错误' })
      expect(bad.headers['set-cookie']).toBeUndefined()
    }

    const ok = await login('dingyuan', 'dingyuan-2020!')
    expect(ok.statusCode).toBe(200)
    expect(JSON.parse(ok.body)).toMatchObject({ username: 'dingyuan', role: 'county', countyCode: '341125', countyName: '定远县', expiresAt: '2020-10-10T12:00:00.000Z' })
    const setCookie = ok.headers['set-cookie'] as string
    expect(setCookie).toMatch(/^fleet_session=[A-Za-z0-9_-]{43};/)
    expect(setCookie.split('; ').slice(1).sort()).toEqual(['HttpOnly', 'Max-Age=43200', 'Path=/', 'SameSite=Strict'])
    const cookie = setCookie.split(';')[0]!
    const stored = await sqlRows<{ session_hash: string }>(fleet.database, 'SELECT session_hash FROM sessions')
    expect(stored).toHaveLength(1)
    expect(stored[0]!.session_hash).not.toContain(cookie.split('=')[1]!)

    const withCookie = (url: string, method: 'GET' | 'DELETE' = 'GET') => fleet.http.inject({ method, url, headers: { cookie } })
    expect(JSON.parse((await withCookie('/api/v1/me')).body)).toMatchObject({ username: 'dingyuan', countyName: '定远县' })
    const rollout = JSON.parse((await withCookie('/api/v1/rollout')).body) as { counties: Array<{ code: string }> }
    expect(rollout.counties.map((c) => c.code)).toEqual(['341125'])

    clock.set('2020-10-10T11:59:59.000Z')
    expect((await withCookie('/api/v1/me')).statusCode).toBe(200)
    clock.set('2020-10-10T12:00:00.000Z')
    expect((await withCookie('/api/v1/me')).statusCode).toBe(401)

    clock.set('2020-10-11T00:00:00.000Z')
    const second = (await login('dingyuan', 'dingyuan-2020!')).headers['set-cookie'] as string
    const c2 = second.split(';')[0]!
    expect((await fleet.http.inject({ method: 'GET', url: '/api/v1/me', headers: { cookie: c2 } })).statusCode).toBe(200)
    const out = await fleet.http.inject({ method: 'DELETE', url: '/api/v1/session', headers: { cookie: c2 } })
    expect(out.statusCode).toBe(204)
    expect(out.headers['set-cookie']).toContain('Max-Age=0')
    expect((await fleet.http.inject({ method: 'GET', url: '/api/v1/me', headers: { cookie: c2 } })).statusCode).toBe(401)
    // A forged cookie is refused; bearer tokens work as before.
    expect((await fleet.http.inject({ method: 'GET', url: '/api/v1/me', headers: { cookie: 'fleet_session=forged' } })).statusCode).toBe(401)
    expect((await api(fleet, 'GET', '/api/v1/me')).body).toMatchObject({ role: 'admin' })
  })
})
