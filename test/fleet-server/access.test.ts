// Bearer tokens, the built-in admin and users.
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { api, startFleet, tempDir } from '../helpers/fleet.js'
import { sqlRow } from '../helpers/test-db.js'

describe('access', () => {
  it('answers 401 UNAUTHORIZED without a token or with a bad one, on every /api/ route', async () => {
    const fleet = await startFleet()
    for (const [method, url] of [['GET', '/api/v1/cabinets'], ['POST', '/api/v1/cabinets'], ['GET', '/api/v1/cabinets/x'], ['POST', '/api/v1/users']] as const) {
      const none = await api(fleet, method, url, method === 'POST' ? {} : undefined, null)
      expect(none, `${method} ${url}`).toMatchObject({ status: 401, body: { error: { code: 'UNAUTHORIZED' } } })
      const bad = await api(fleet, method, url, undefined, 'not-a-token')
      expect(bad.status).toBe(401)
    }
    const wrongScheme = await fleet.http.inject({ method: 'GET', url: '/api/v1/cabinets', headers: { authorization: `Basic ${fleet.adminToken}` } })
    expect(wrongScheme.statusCode).toBe(401)
  })

  it('generates the admin token once, keeps it in a 0600 file, and reuses it on restart', async () => {
    const dataDir = await tempDir()
    const first = await startFleet({ FLEET_ADMIN_TOKEN: '' }, { dataDir, manualClose: true })
    expect(first.adminTokenIssued).toEqual({ token: first.adminToken, file: join(dataDir, 'admin-token') })
    expect(readFileSync(join(dataDir, 'admin-token'), 'utf8').trim()).toBe(first.adminToken)
    expect(statSync(join(dataDir, 'admin-token')).mode & 0o777).toBe(0o600)
    expect((await api(first, 'GET', '/api/v1/cabinets')).status).toBe(200)
    await first.close()

    const second = await startFleet({ FLEET_ADMIN_TOKEN: '' }, { dataDir })
    expect(second.adminToken).toBe(first.adminToken)
    expect(second.adminTokenIssued).toBeNull()
    expect((await api(second, 'GET', '/api/v1/cabinets', undefined, first.adminToken)).status).toBe(200)
  })

  it('FLEET_ADMIN_TOKEN replaces the admin token; the old one stops working', async () => {
    const dataDir = await tempDir()
    const first = await startFleet({ FLEET_ADMIN_TOKEN: '' }, { dataDir, manualClose: true })
    const generated = first.adminToken
    await first.close()
    const second = await startFleet({ FLEET_ADMIN_TOKEN: 'operator-chosen-token-0001' }, { dataDir })
    expect(second.adminToken).toBe('operator-chosen-token-0001')
    expect((await api(second, 'GET', '/api/v1/cabinets', undefined, 'operator-chosen-token-0001')).status).toBe(200)
    expect((await api(second, 'GET', '/api/v1/cabinets', undefined, generated)).status).toBe(401)
  })

  it('creates users with their own tokens, stored only as hashes; usernames are unique', async () => {
    const fleet = await startFleet()
    const r = await api<{ userId: string; token: string; role: string }>(fleet, 'POST', '/api/v1/users', { username: 'fengyang', role: 'county', countyCode: '341126', password: 'correct horse battery' })
    expect(r.status).toBe(201)
    expect(r.body).toMatchObject({ userId: expect.any(String), token: expect.any(String), role: 'county' })
    const stored = (await sqlRow<{ token_hash: string; password_hash: string }>(fleet.database, 'SELECT token_hash, password_hash FROM users WHERE user_id = ?', r.body.userId))!
    expect(stored.token_hash).not.toContain(r.body.token)
    expect(stored.password_hash).toMatch(/^scrypt\$/)
    expect((await api(fleet, 'GET', '/api/v1/cabinets', undefined, r.body.token)).status).toBe(200)
    expect((await api(fleet, 'POST', '/api/v1/users', { username: 'fengyang', role: 'auditor' })).body).toMatchObject({ error: { code: 'USER_EXISTS' } })
  })

  it('validates users: county users need a county of the plan, operators an operator', async () => {
    const fleet = await startFleet()
    const noCounty = await api<{ error: { code: string; message: string } }>(fleet, 'POST', '/api/v1/users', { username: 'c1', role: 'county' })
    expect(noCounty.status).toBe(400)
    expect(noCounty.body.error).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringContaining('countyCode') })
    expect((await api(fleet, 'POST', '/api/v1/users', { username: 'c2', role: 'county', countyCode: '110101' })).body).toMatchObject({ error: { code: 'CABINET_COUNTY_UNKNOWN' } })
    expect((await api(fleet, 'POST', '/api/v1/users', { username: 'o1', role: 'operator' })).status).toBe(400)
    expect((await api(fleet, 'POST', '/api/v1/users', { username: 'u', role: 'root' })).status).toBe(400)
  })
})
