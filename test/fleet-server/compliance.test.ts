// Compliance over real sales (real MQTT cabinets, real SQLite): certification
// judged per sale date, mid-month expiry and revocation, the 50% boundary in
// integer fen, scope, the threshold as plan data, and certifiedAmountFen.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { BUNDLED_PLANS } from '../../shared/src/index.js'
import { api, tempDir } from '../helpers/fleet.js'
import { aCatalog, aClock, aDatedCabinet, fleetWith, line, ok } from './certification.fixtures.js'

interface Row { cabinetId: string; amountFen: number; certifiedAmountFen: number; ratio: number; shareBp: number; compliant: boolean }
interface Reply { threshold: number; thresholdBp: number; cabinets: Row[] }

describe('compliance', () => {
  it('splits a month at a mid-month expiry and a mid-month revocation: before certified, after not', async () => {
    const clock = aClock('2020-10-10T02:00:00Z')
    const fleet = await fleetWith({ deps: { now: clock.now } })
    await aCatalog(fleet, {
      EXPIRING: { cert: ['2019-09-16', '2020-09-15'] }, // last certified day 2020-09-15
      REVOKED: { cert: ['2020-01-01'] },
      PLAIN: {},
    })
    await ok(fleet, 'POST', '/api/v1/certificates/CERT-REVOKED/revoke', { reason: '抽检不合格', effectiveFrom: '2020-09-20' })
    const cab = await aDatedCabinet(fleet)
    for (const day of ['2020-09-14', '2020-09-15', '2020-09-16', '2020-09-19', '2020-09-20', '2020-09-30']) {
      await cab.sell(day, [line('EXPIRING', 100), line('REVOKED', 10), line('PLAIN', 1)])
    }
    const q = async (from: string, to: string) => (await ok<Reply>(fleet, 'GET', `/api/v1/compliance?from=${from}&to=${to}`, undefined, 200)).cabinets[0]!
    // EXPIRING counts on 14th and 15th; REVOKED on 14th–19th.
    expect(await q('2020-09-01', '2020-09-30')).toMatchObject({ amountFen: 6 * 111, certifiedAmountFen: 2 * 100 + 4 * 10 })
    expect(await q('2020-09-15', '2020-09-15')).toMatchObject({ certifiedAmountFen: 110 })
    expect(await q('2020-09-16', '2020-09-16')).toMatchObject({ certifiedAmountFen: 10 })
    expect(await q('2020-09-20', '2020-09-30')).toMatchObject({ certifiedAmountFen: 0, compliant: false })
    const week = await ok<Reply & { from: string; to: string }>(fleet, 'GET', '/api/v1/compliance?period=2020-W38', undefined, 200)
    expect([week.from, week.to]).toEqual(['2020-09-14', '2020-09-20'])
    expect(week.cabinets[0]).toMatchObject({ amountFen: 5 * 111, certifiedAmountFen: 240 })
    // The cabinet view carries the same judgement, all-time.
    expect((await ok<{ sales: { certifiedAmountFen: number } }>(fleet, 'GET', `/api/v1/cabinets/${cab.cabinetId}`, undefined, 200)).sales.certifiedAmountFen).toBe(240)
  })

  it('a revocation effective today leaves an earlier month as it was; a back-dated one changes it', async () => {
    const clock = aClock('2020-10-01T01:00:00Z')
    const fleet = await fleetWith({ deps: { now: clock.now } })
    await aCatalog(fleet, { HONEY: { cert: ['2020-01-01'] }, PLAIN: {} })
    const cab = await aDatedCabinet(fleet)
    await cab.sell('2020-09-10', [line('HONEY', 600), line('PLAIN', 400)])
    const sept = async () => (await ok<Reply>(fleet, 'GET', '/api/v1/compliance?period=2020-09', undefined, 200)).cabinets[0]!
    expect(await sept()).toMatchObject({ certifiedAmountFen: 600, shareBp: 6000, compliant: true })
    clock.set('2020-10-12T03:00:00Z')
    await ok(fleet, 'POST', '/api/v1/certificates/CERT-HONEY/revoke', { reason: '今日撤销' })
    expect(await sept()).toMatchObject({ certifiedAmountFen: 600, compliant: true })
    await ok(fleet, 'POST', '/api/v1/certificates/CERT-HONEY/revoke', { reason: '追溯', effectiveFrom: '2020-09-01' })
    expect(await sept()).toMatchObject({ certifiedAmountFen: 0, compliant: false })
  })

  it('decides the 50% boundary in integer fen: 49.99% is not compliant, 50.00% is', async () => {
    const fleet = await fleetWith({ deps: { now: aClock('2020-10-10T02:00:00Z').now } })
    await aCatalog(fleet, { CERT: { cert: ['2020-01-01'] }, PLAIN: {} })
    const below = await aDatedCabinet(fleet)
    const at = await aDatedCabinet(fleet)
    const hair = await aDatedCabinet(fleet)
    await below.sell('2020-09-10', [line('CERT', 4999), line('PLAIN', 5001)])
    await at.sell('2020-09-10', [line('CERT', 5000), line('PLAIN', 5000)])
    // 1,000,000,000 of 2,000,000,001 fen: a float ratio rounds to 0.5, the integers say below.
    await hair.sell('2020-09-10', [line('CERT', 1_000_000_000), line('PLAIN', 1_000_000_001)])
    const r = await ok<Reply>(fleet, 'GET', '/api/v1/compliance?from=2020-09-01&to=2020-09-30', undefined, 200)
    expect(r).toMatchObject({ threshold: 0.5, thresholdBp: 5000 })
    const by = Object.fromEntries(r.cabinets.map((c) => [c.cabinetId, c]))
    expect(by[below.cabinetId]).toMatchObject({ shareBp: 4999, ratio: 0.4999, compliant: false })
    expect(by[at.cabinetId]).toMatchObject({ shareBp: 5000, ratio: 0.5, compliant: true })
    expect(by[hair.cabinetId]).toMatchObject({ shareBp: 4999, compliant: false })
  })

  it('shows county users only their county and operators only their cabinets', async () => {
    const fleet = await fleetWith({ deps: { now: aClock('2020-10-10T02:00:00Z').now } })
    await aCatalog(fleet, { CERT: { cert: ['2020-01-01'] } })
    const dy = await aDatedCabinet(fleet, { countyCode: '341125', operator: 'op-a' })
    const fy = await aDatedCabinet(fleet, { countyCode: '341126', operator: 'op-b' })
    await dy.sell('2020-09-01', [line('CERT', 100)])
    await fy.sell('2020-09-01', [line('CERT', 100)])
    const county = await ok<{ token: string }>(fleet, 'POST', '/api/v1/users', { username: 'dy', role: 'county', countyCode: '341125' })
    const operator = await ok<{ token: string }>(fleet, 'POST', '/api/v1/users', { username: 'opb', role: 'operator', operator: 'op-b' })
    const ids = async (token: string, extra = '') =>
      (await api<Reply>(fleet, 'GET', `/api/v1/compliance?from=2020-09-01&to=2020-09-30${extra}`, undefined, token)).body.cabinets.map((c) => c.cabinetId)
    expect(await ids(fleet.adminToken)).toEqual([dy.cabinetId, fy.cabinetId])
    expect(await ids(fleet.adminToken, '&county=341126')).toEqual([fy.cabinetId])
    expect(await ids(county.token)).toEqual([dy.cabinetId])
    expect(await ids(county.token, '&county=341126')).toEqual([])
    expect(await ids(operator.token)).toEqual([fy.cabinetId])
  })

  it('takes the threshold from the plan: 30% for a pavilion plan, 100% for a plan that says so', async () => {
    const dir = await tempDir()
    const base = BUNDLED_PLANS['chuzhou-2020']!
    const plans = {
      pavilion: { ...base, id: 'pavilion-test', channel: 'pavilion' },
      strict: { ...base, id: 'nmg-test', policy: { ...base.policy, minCertifiedShareBp: { cabinet: 10_000 } } },
    }
    const expectations = { pavilion: [0.3, true], strict: [1, false] } as const
    for (const [name, plan] of Object.entries(plans)) {
      const file = join(dir, `${name}.json`)
      await writeFile(file, JSON.stringify(plan))
      const fleet = await fleetWith({ env: { FLEET_PLAN: file }, deps: { now: aClock('2020-10-10T02:00:00Z').now } })
      await aCatalog(fleet, { CERT: { cert: ['2020-01-01'] }, PLAIN: {} })
      const cab = await aDatedCabinet(fleet)
      await cab.sell('2020-09-01', [line('CERT', 3000), line('PLAIN', 6000)]) // 33.33%
      const r = await ok<Reply>(fleet, 'GET', '/api/v1/compliance?period=2020-09', undefined, 200)
      const [threshold, compliant] = expectations[name as keyof typeof expectations]
      expect(r.threshold, name).toBe(threshold)
      expect(r.cabinets[0]!.compliant, name).toBe(compliant)
      await fleet.close()
    }
  })

  it('refuses a range that ends before it starts', async () => {
    const fleet = await fleetWith()
    const r = await api<{ error: { code: string } }>(fleet, 'GET', '/api/v1/compliance?from=2020-09-30&to=2020-09-01')
    expect([r.status, r.body.error.code]).toEqual([400, 'COMPLIANCE_RANGE_INVALID'])
    expect((await api(fleet, 'GET', '/api/v1/compliance?from=2020-09-01')).status).toBe(400)
  })
})
