// Issue 16 §1 on the server: bootstrap codes (who may ask, single use,
// expiry, supersession), the unauthenticated exchange (atomic claim, key
// check, failure throttle) and first contact moving an enrolled cabinet to
// installed. The whole path with real processes is test/e2e/enroll.test.ts.
import { generateKeyPairSync } from 'node:crypto'
import QRCode from 'qrcode'
import { describe, expect, it } from 'vitest'
import type { Fleet } from '../../fleet-server/src/app.js'
import { normalizeBootstrapCode } from '../../fleet-server/src/cabinets/enrollment.js'
import { api, connectCabinet, startFleet } from '../helpers/fleet.js'
import { userToken } from '../helpers/rollout.js'

const publicKey = () => generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString()

interface Setup {
  fleet: Fleet
  operator: string
  cabinetId: string
  clock: { offsetMs: number }
}

async function setup(): Promise<Setup> {
  const clock = { offsetMs: 0 }
  const fleet = await startFleet({}, { now: () => new Date(Date.now() + clock.offsetMs) })
  const operator = await userToken(fleet, { username: 'op-a', role: 'operator', operator: '滁州甲运营公司' })
  const c = await api<{ cabinetId: string }>(fleet, 'POST', '/api/v1/cabinets', { countyCode: '341126', operator: '滁州甲运营公司', siteName: '凤阳县府城镇一号点', venueType: '商场' })
  expect(c.status).toBe(201)
  return { fleet, operator, cabinetId: c.body.cabinetId, clock }
}

const codeFor = async (s: Setup, body: unknown = {}, token = s.operator) => api<{ code: string; expiresAt: string }>(s.fleet, 'POST', `/api/v1/cabinets/${s.cabinetId}/bootstrap-code`, body, token)
const enroll = (s: Setup, code: string, key = publicKey()) =>
  api<{ cabinetId: string; mqtt: { username: string; password: string }; servers: string[]; error?: { code: string; message: string } }>(s.fleet, 'POST', '/api/v1/enroll', { code, publicKey: key }, null)
const statusOf = async (s: Setup) => (await api<{ status: string }>(s.fleet, 'GET', `/api/v1/cabinets/${s.cabinetId}`)).body.status

describe('bootstrap codes', () => {
  it('the answer carries the code as a QR code (an SVG of exactly that code) for the dashboard', async () => {
    const s = await setup()
    const r = await api<{ code: string; qrSvg: string }>(s.fleet, 'POST', `/api/v1/cabinets/${s.cabinetId}/bootstrap-code`, undefined, s.operator)
    expect(r.status).toBe(201)
    expect(r.body.qrSvg).toMatch(/^<svg [^>]*viewBox="[^"]+"[^>]*>.*<path .*<\/svg>\s*$/s)
    expect(r.body.qrSvg).toBe(await QRCode.toString(r.body.code, { type: 'svg' }))
    // Only the picture: nothing in it a browser would run.
    expect(r.body.qrSvg).not.toMatch(/<script|on\w+=|href=/i)
  })

  it('the operator, the county and the admin may ask; an auditor and another county may not', async () => {
    const s = await setup()
    const r = await codeFor(s)
    expect(r.status).toBe(201)
    expect(r.body.code).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/)
    // Default validity: a day.
    expect(Date.parse(r.body.expiresAt) - Date.now()).toBeGreaterThan(23.9 * 3600_000)
    const county = await userToken(s.fleet, { username: 'fy', role: 'county', countyCode: '341126' })
    expect((await codeFor(s, {}, county)).status).toBe(201)
    // The usual call carries no body at all.
    expect((await api(s.fleet, 'POST', `/api/v1/cabinets/${s.cabinetId}/bootstrap-code`)).status).toBe(201)
    const other = await userToken(s.fleet, { username: 'dy', role: 'county', countyCode: '341125' })
    expect((await codeFor(s, {}, other)).status).toBe(404)
    const otherOperator = await userToken(s.fleet, { username: 'op-b', role: 'operator', operator: '乙公司' })
    expect((await codeFor(s, {}, otherOperator)).status).toBe(404)
    const auditor = await userToken(s.fleet, { username: 'aud', role: 'auditor' })
    const refused = await codeFor(s, {}, auditor)
    expect(refused.status).toBe(403)
    expect(JSON.stringify(refused.body)).toContain('审计账号只读')
    const bad = await codeFor(s, { ttlS: 5 })
    expect(bad.status).toBe(400)
    expect(JSON.stringify(bad.body)).toContain('有效期至少')
  })

  it('a code works once, as typed in any case, and gives the cabinet its login and key', async () => {
    const s = await setup()
    const { code } = (await codeFor(s)).body
    const typed = code.toLowerCase().replace(/-/g, ' ')
    expect(normalizeBootstrapCode(typed)).toBe(code.replace(/-/g, ''))
    const r = await enroll(s, typed)
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({ cabinetId: s.cabinetId, mqtt: { username: s.cabinetId } })
    // The new password logs in.
    await connectCabinet(s.fleet.mqttUrl, { cabinetId: s.cabinetId, mqtt: r.body.mqtt })
    const again = await enroll(s, code)
    expect(again.status).toBe(409)
    expect(again.body.error).toMatchObject({ code: 'ENROLL_CODE_USED' })
    expect(again.body.error!.message).toContain('已被使用')
    expect(JSON.stringify(again.body)).not.toContain(s.cabinetId)
  })

  it('two boards racing with one code: exactly one wins', async () => {
    const s = await setup()
    const { code } = (await codeFor(s)).body
    const results = await Promise.all([enroll(s, code), enroll(s, code), enroll(s, code)])
    expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409])
  })

  it('an expired code is refused; a new code supersedes the unused one', async () => {
    const s = await setup()
    const first = (await codeFor(s, { ttlS: 3600 })).body.code
    s.clock.offsetMs = 3601_000
    const expired = await enroll(s, first)
    expect(expired.status).toBe(410)
    expect(expired.body.error).toMatchObject({ code: 'ENROLL_CODE_EXPIRED' })
    expect(expired.body.error!.message).toContain('已过期')
    const second = (await codeFor(s)).body.code
    const third = (await codeFor(s)).body.code
    expect((await enroll(s, second)).body.error).toMatchObject({ code: 'ENROLL_CODE_UNKNOWN' })
    expect((await enroll(s, third)).status).toBe(200)
  })

  it('refuses a key that is not Ed25519, and a retired cabinet', async () => {
    const s = await setup()
    const { code } = (await codeFor(s)).body
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString()
    const r = await enroll(s, code, rsa)
    expect(r.status).toBe(400)
    expect(r.body.error).toMatchObject({ code: 'ENROLL_KEY_INVALID' })
    // The code was not spent on it.
    expect((await api(s.fleet, 'PATCH', `/api/v1/cabinets/${s.cabinetId}`, { status: 'retired' })).status).toBe(200)
    const retired = await enroll(s, code)
    expect(retired.status).toBe(409)
    expect(retired.body.error).toMatchObject({ code: 'ENROLL_CABINET_RETIRED' })
    expect((await codeFor(s)).status).toBe(409)
  })

  it('failed codes from one address are throttled, even a right code after them', async () => {
    const s = await setup()
    const { code } = (await codeFor(s)).body
    for (let i = 0; i < 10; i++) expect((await enroll(s, `WRONG-CODE-${String(i).padStart(4, '0')}`)).status).toBe(404)
    const r = await enroll(s, code)
    expect(r.status).toBe(429)
    expect(r.body.error).toMatchObject({ code: 'ENROLL_THROTTLED' })
  })
})

describe('first contact', () => {
  it('moves an enrolled site_assigned cabinet to installed (by system); the operator confirms operating', async () => {
    const s = await setup()
    expect(await statusOf(s)).toBe('site_assigned')
    const r = await enroll(s, (await codeFor(s)).body.code)
    expect(await statusOf(s)).toBe('site_assigned')
    await connectCabinet(s.fleet.mqttUrl, { cabinetId: s.cabinetId, mqtt: r.body.mqtt })
    await expect.poll(() => statusOf(s), { timeout: 5000 }).toBe('installed')
    const t = await api<{ transitions: Array<{ from: string | null; to: string; by: string }> }>(s.fleet, 'GET', `/api/v1/cabinets/${s.cabinetId}/transitions`)
    expect(t.body.transitions.at(-1)).toMatchObject({ from: 'site_assigned', to: 'installed', by: 'system' })
    const p = await api(s.fleet, 'PATCH', `/api/v1/cabinets/${s.cabinetId}`, { status: 'operating' }, s.operator)
    expect(p.status).toBe(200)
    expect(await statusOf(s)).toBe('operating')
  })

  it('a cabinet enrolled while still planned is installed on its first contact after the site is assigned', async () => {
    const s = await setup()
    const planned = await api<{ cabinetId: string }>(s.fleet, 'POST', '/api/v1/cabinets', { countyCode: '341126', operator: '滁州甲运营公司' })
    const p: Setup = { ...s, cabinetId: planned.body.cabinetId }
    expect(await statusOf(p)).toBe('planned')
    const r = await enroll(p, (await codeFor(p)).body.code)
    const first = await connectCabinet(s.fleet.mqttUrl, { cabinetId: p.cabinetId, mqtt: r.body.mqtt })
    await new Promise((res) => setTimeout(res, 300))
    expect(await statusOf(p)).toBe('planned')
    await first.close()
    expect((await api(s.fleet, 'PATCH', `/api/v1/cabinets/${p.cabinetId}`, { status: 'site_assigned', siteName: '凤阳县二号点', venueType: '社区' }, s.operator)).status).toBe(200)
    await connectCabinet(s.fleet.mqttUrl, { cabinetId: p.cabinetId, mqtt: r.body.mqtt })
    await expect.poll(() => statusOf(p), { timeout: 5000 }).toBe('installed')
  })

  it('leaves a cabinet that never enrolled where it is', async () => {
    const s = await setup()
    const rotated = await api<{ mqtt: { username: string; password: string } }>(s.fleet, 'POST', `/api/v1/cabinets/${s.cabinetId}/credentials`)
    await connectCabinet(s.fleet.mqttUrl, { cabinetId: s.cabinetId, mqtt: rotated.body.mqtt })
    await new Promise((r) => setTimeout(r, 300))
    expect(await statusOf(s)).toBe('site_assigned')
  })
})
