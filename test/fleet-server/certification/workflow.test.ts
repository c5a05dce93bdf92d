// The certification workflow (issue 15) end to end over HTTP and MQTT: a
// county files for a supplier of its county → county review → 公示 of 5
// working days (counted across 国庆) → the certificate in force and in the
// catalog a connected cabinet receives; rejection; objections upheld and
// dismissed; a renewal and a change through the same path; a revocation
// afterwards; multi-step review as plan policy; county scope.
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import mqtt from 'mqtt'
import cron from 'node-cron'
import { describe, expect, it, onTestFinished } from 'vitest'
import type { Fleet } from '../../../fleet-server/src/app.js'
import { CatalogMsg, topics } from '../../../shared/src/index.js'
import { api, provision, tempDir } from '../../helpers/fleet.js'
import { aClock, aUscc, fleetWith } from '../certification.fixtures.js'

const A = '/api/v1/certification/applications'

interface App {
  applicationId: number
  kind: string
  state: string
  countyCode: string | null
  currentStep: string | null
  publicityFrom: string | null
  publicityTo: string | null
  effectiveFrom: string | null
  isDue: boolean
  openObjections: number
  certificateNo: string | null
  rejectReason: string | null
  objections: Array<{ objectionId: number; state: string }>
}

type Token = string

async function as<T = App>(fleet: Fleet, token: Token, method: 'GET' | 'POST' | 'PATCH', url: string, body?: unknown, status?: number): Promise<T> {
  const r = await api<T>(fleet, method, url, body, token)
  if (status !== undefined) expect(r.status, `${method} ${url}: ${JSON.stringify(r.body)}`).toBe(status)
  return r.body
}

const errOf = async (fleet: Fleet, token: Token, method: 'GET' | 'POST' | 'PATCH', url: string, body?: unknown) => {
  const r = await api<{ error: { code: string; message: string } }>(fleet, method, url, body, token)
  return [r.status, r.body.error?.code]
}

async function user(fleet: Fleet, body: Record<string, unknown>): Promise<Token> {
  const r = await api<{ token: string }>(fleet, 'POST', '/api/v1/users', body)
  expect(r.status, JSON.stringify(r.body)).toBe(201)
  return r.body.token
}

/** A cabinet of 定远县 on real MQTT, collecting the catalogs it is sent. */
async function catalogCabinet(fleet: Fleet) {
  const cab = await provision(fleet, { countyCode: '341125' })
  const client = await mqtt.connectAsync(fleet.mqttUrl, { clientId: cab.cabinetId, username: cab.mqtt.username, password: cab.mqtt.password, reconnectPeriod: 0 })
  onTestFinished(() => client.endAsync(true))
  const got: CatalogMsg[] = []
  client.on('message', (topic, payload) => {
    if (topic === topics.catalog(cab.cabinetId)) got.push(CatalogMsg.parse(JSON.parse(payload.toString())))
  })
  await client.subscribeAsync(topics.catalog(cab.cabinetId), { qos: 1 })
  return { item: (sku: string) => got.at(-1)?.items.find((x) => x.sku === sku) }
}

const HONEY = { name: '定远蜂蜜', priceFen: 3990, origin: '定远县', category: '农副产品', materialSource: '自养蜂群', annualOutput: '5000 公斤', supplyPeriod: '全年' }

/** 定远县 and 凤阳县 officials, a 定远县 supplier registered by its county, on a clock at `iso`. */
async function setUp(iso: string, env: Record<string, string> = {}) {
  const clock = aClock(iso)
  const fleet = await fleetWith({ deps: { now: clock.now }, env })
  const dy = await user(fleet, { username: 'dy-official', role: 'county', countyCode: '341125' })
  const fy = await user(fleet, { username: 'fy-official', role: 'county', countyCode: '341126' })
  const supplier = await as<{ uscc: string; countyCode: string; operator: string | null }>(fleet, dy, 'POST', '/api/v1/suppliers', { uscc: aUscc(1), name: '定远县蜂业合作社' }, 201)
  expect(supplier).toMatchObject({ countyCode: '341125', operator: null })
  return { clock, fleet, dy, fy, uscc: supplier.uscc }
}

/** Files a new application for `sku` as `token` and takes it through the county review into 公示. */
async function intoPublicity(fleet: Fleet, token: Token, uscc: string, sku: string, product: object = { ...HONEY, name: `商品${sku}` }): Promise<App> {
  const filed = await as(fleet, token, 'POST', A, { kind: 'new', supplierUscc: uscc, sku, product }, 201)
  return as(fleet, token, 'POST', `${A}/${filed.applicationId}/review`, { decision: 'approve' }, 200)
}

describe('certification workflow', () => {
  it('takes a county’s application through review and 公示 across 国庆 to a certificate in force on cabinets', async () => {
    // Wednesday 2020-09-30, 10:00 in Shanghai.
    const { clock, fleet, dy, uscc } = await setUp('2020-09-30T02:00:00Z')
    const cabinet = await catalogCabinet(fleet)

    const filed = await as(fleet, dy, 'POST', A, { kind: 'new', supplierUscc: uscc, sku: 'DY-HONEY', product: HONEY, note: '带贫 12 户' }, 201)
    expect(filed).toMatchObject({ kind: 'new', state: 'county_review', currentStep: 'county', countyCode: '341125', isDue: false, certificateNo: null })
    // Nothing is in the catalog before the certificate takes effect.
    expect((await as<{ items: unknown[] }>(fleet, dy, 'GET', '/api/v1/catalog', undefined, 200)).items).toEqual([])

    const approved = await as(fleet, dy, 'POST', `${A}/${filed.applicationId}/review`, { decision: 'approve', reason: '材料齐全' }, 200)
    // 5 working days after 09-30: 10-01..08 off; Fri 10-09, Sat 10-10 (调休), Mon 12, Tue 13, Wed 14.
    expect(approved).toMatchObject({ state: 'publicity', currentStep: null, publicityFrom: '2020-10-09', publicityTo: '2020-10-14', effectiveFrom: '2020-10-15', isDue: false })
    const notice = await as<{ notices: Array<{ applicationId: number; productName: string; publicityTo: string }> }>(fleet, dy, 'GET', '/api/v1/certification/publicity', undefined, 200)
    expect(notice.notices).toEqual([expect.objectContaining({ applicationId: filed.applicationId, productName: '定远蜂蜜', publicityTo: '2020-10-14' })])

    // The last day of the notice (23:00 in Shanghai): not yet.
    clock.set('2020-10-14T15:00:00Z')
    expect((await as<{ effective: unknown[] }>(fleet, fleet.adminToken, 'POST', '/api/v1/certification/publicity/run', undefined, 200)).effective).toEqual([])
    // 00:30 on 10-15: due (shown before any pass runs), then effective through the pass.
    clock.set('2020-10-14T16:30:00Z')
    expect(await as(fleet, dy, 'GET', `${A}/${filed.applicationId}`, undefined, 200)).toMatchObject({ state: 'publicity', isDue: true })
    const run = await as<{ effective: Array<{ applicationId: number; certificateNo: string }> }>(fleet, fleet.adminToken, 'POST', '/api/v1/certification/publicity/run', undefined, 200)
    expect(run.effective).toEqual([{ applicationId: filed.applicationId, certificateNo: 'RD2020-000001' }])

    expect(await as(fleet, dy, 'GET', `${A}/${filed.applicationId}`, undefined, 200)).toMatchObject({ state: 'effective', certificateNo: 'RD2020-000001', isDue: false })
    expect(await as(fleet, dy, 'GET', '/api/v1/certificates/RD2020-000001', undefined, 200)).toMatchObject({ sku: 'DY-HONEY', supplierUscc: uscc, level: 'county', validFrom: '2020-10-15', validTo: '2021-10-14', status: 'valid', renews: null })
    expect(await as(fleet, dy, 'GET', '/api/v1/products/DY-HONEY', undefined, 200)).toMatchObject({ name: '定远蜂蜜', priceFen: 3990, origin: '定远县', isCertified: true, certificateNo: 'RD2020-000001' })
    await expect.poll(() => cabinet.item('DY-HONEY')).toEqual({ sku: 'DY-HONEY', name: '定远蜂蜜', priceFen: 3990, isCertified: true, certificateNo: 'RD2020-000001' })
    // A second pass finds nothing to do.
    expect((await as<{ effective: unknown[] }>(fleet, fleet.adminToken, 'POST', '/api/v1/certification/publicity/run', undefined, 200)).effective).toEqual([])

    const history = await as<{ events: Array<{ action: string; actor: string; role: string; at: string; fromState: string | null; toState: string | null; reason: string | null }> }>(fleet, dy, 'GET', `${A}/${filed.applicationId}/history`, undefined, 200)
    expect(history.events.map((e) => [e.action, e.actor, e.role, e.fromState, e.toState])).toEqual([
      ['submitted', 'dy-official', 'county', null, 'county_review'],
      ['approved', 'dy-official', 'county', 'county_review', 'publicity'],
      ['publicity_started', 'dy-official', 'county', null, null],
      ['effective', 'system', 'system', 'publicity', 'effective'],
    ])
    expect(history.events[1]).toMatchObject({ reason: '材料齐全', at: '2020-09-30T02:00:00.000Z' })
    expect(history.events[3]!.at).toBe('2020-10-14T16:30:00.000Z')
  })

  it('rejects with a reason at review, and takes a new application for the same product afterwards', async () => {
    const { fleet, dy, uscc } = await setUp('2020-09-10T02:00:00Z')
    const filed = await as(fleet, dy, 'POST', A, { kind: 'new', supplierUscc: uscc, sku: 'DY-RICE', product: { name: '定远大米', priceFen: 1200 } }, 201)
    expect(await errOf(fleet, dy, 'POST', A, { kind: 'new', supplierUscc: uscc, sku: 'DY-RICE', product: { name: '定远大米', priceFen: 1200 } })).toEqual([409, 'APPLICATION_OPEN_EXISTS'])
    expect(await errOf(fleet, dy, 'POST', `${A}/${filed.applicationId}/review`, { decision: 'reject' })).toEqual([400, 'VALIDATION_FAILED'])
    const rejected = await as(fleet, dy, 'POST', `${A}/${filed.applicationId}/review`, { decision: 'reject', reason: '带贫成效证明缺失' }, 200)
    expect(rejected).toMatchObject({ state: 'rejected', rejectReason: '带贫成效证明缺失' })
    expect(await errOf(fleet, dy, 'POST', `${A}/${filed.applicationId}/review`, { decision: 'approve' })).toEqual([409, 'APPLICATION_STATE_INVALID'])
    expect((await as<{ products: unknown[] }>(fleet, dy, 'GET', '/api/v1/products', undefined, 200)).products).toEqual([])
    const history = await as<{ events: Array<{ action: string; reason: string | null }> }>(fleet, dy, 'GET', `${A}/${filed.applicationId}/history`, undefined, 200)
    expect(history.events.at(-1)).toMatchObject({ action: 'rejected', reason: '带贫成效证明缺失' })
    expect((await as(fleet, dy, 'POST', A, { kind: 'new', supplierUscc: uscc, sku: 'DY-RICE', product: { name: '定远大米', priceFen: 1200 } }, 201)).state).toBe('county_review')
  })

  it('holds an application on an objection during 公示: upheld rejects it, dismissed lets it take effect as scheduled', async () => {
    const { clock, fleet, dy, fy, uscc } = await setUp('2020-09-14T02:00:00Z') // Monday
    const upheld = await intoPublicity(fleet, dy, uscc, 'DY-TEA')
    const dismissed = await intoPublicity(fleet, dy, uscc, 'DY-OIL')
    expect(dismissed).toMatchObject({ publicityFrom: '2020-09-15', publicityTo: '2020-09-21', effectiveFrom: '2020-09-22' })

    // 凤阳县 cannot see or act on 定远县's application.
    expect(await errOf(fleet, fy, 'POST', `${A}/${upheld.applicationId}/objections`, { reason: 'x' })).toEqual([404, 'APPLICATION_NOT_FOUND'])

    clock.set('2020-09-16T02:00:00Z')
    const o1 = await as<{ objection: { objectionId: number; state: string }; application: App }>(fleet, dy, 'POST', `${A}/${upheld.applicationId}/objections`, { reason: '产地不实', by: '12317 举报人' }, 201)
    expect(o1).toMatchObject({ objection: { state: 'open' }, application: { state: 'on_hold', openObjections: 1 } })
    const o2 = await as<{ objection: { objectionId: number } }>(fleet, dy, 'POST', `${A}/${upheld.applicationId}/objections`, { reason: '价格虚高' }, 201)
    const o3 = await as<{ objection: { objectionId: number } }>(fleet, dy, 'POST', `${A}/${dismissed.applicationId}/objections`, { reason: '非贫困户生产' }, 201)
    expect((await as<{ notices: Array<{ applicationId: number; state: string }> }>(fleet, dy, 'GET', '/api/v1/certification/publicity', undefined, 200)).notices.map((n) => n.state)).toEqual(['on_hold', 'on_hold'])
    expect(await errOf(fleet, fy, 'POST', `/api/v1/certification/objections/${o1.objection.objectionId}/resolve`, { decision: 'dismissed', reason: 'x' })).toEqual([404, 'OBJECTION_NOT_FOUND'])

    const up = await as<{ objection: { state: string }; application: App }>(fleet, dy, 'POST', `/api/v1/certification/objections/${o1.objection.objectionId}/resolve`, { decision: 'upheld', reason: '核实产地为外县' }, 200)
    expect(up).toMatchObject({ objection: { state: 'upheld' }, application: { state: 'rejected', rejectReason: '异议成立：核实产地为外县' } })
    const closed = await as(fleet, dy, 'GET', `${A}/${upheld.applicationId}`, undefined, 200)
    expect(closed.objections.map((o) => o.state)).toEqual(['upheld', 'moot'])
    expect(await errOf(fleet, dy, 'POST', `/api/v1/certification/objections/${o2.objection.objectionId}/resolve`, { decision: 'dismissed', reason: 'x' })).toEqual([409, 'OBJECTION_RESOLVED'])

    // Past the notice's end while on hold: the pass leaves it alone.
    clock.set('2020-09-22T02:00:00Z')
    expect(await errOf(fleet, dy, 'POST', `${A}/${dismissed.applicationId}/objections`, { reason: '太晚' })).toEqual([409, 'PUBLICITY_ENDED'])
    expect((await as<{ effective: unknown[] }>(fleet, fleet.adminToken, 'POST', '/api/v1/certification/publicity/run', undefined, 200)).effective).toEqual([])
    const resumed = await as<{ application: App }>(fleet, dy, 'POST', `/api/v1/certification/objections/${o3.objection.objectionId}/resolve`, { decision: 'dismissed', reason: '经核实为合作社带贫产品' }, 200)
    expect(resumed.application).toMatchObject({ state: 'publicity', isDue: true, effectiveFrom: '2020-09-22' })
    const run = await as<{ effective: Array<{ applicationId: number }> }>(fleet, fleet.adminToken, 'POST', '/api/v1/certification/publicity/run', undefined, 200)
    expect(run.effective.map((x) => x.applicationId)).toEqual([dismissed.applicationId])
    expect(await as(fleet, dy, 'GET', '/api/v1/products/DY-OIL', undefined, 200)).toMatchObject({ isCertified: true })
    expect((await api(fleet, 'GET', '/api/v1/products/DY-TEA')).status).toBe(404)

    const actions = (await as<{ events: Array<{ action: string; objectionId: number | null }> }>(fleet, dy, 'GET', `${A}/${dismissed.applicationId}/history`, undefined, 200)).events.map((e) => e.action)
    expect(actions).toEqual(['submitted', 'approved', 'publicity_started', 'objection_lodged', 'objection_dismissed', 'publicity_resumed', 'effective'])
  })

  it('renews and changes a certified product through the same path, and a revocation afterwards takes it off the cabinets', async () => {
    const { clock, fleet, dy, uscc } = await setUp('2020-09-30T02:00:00Z')
    const cabinet = await catalogCabinet(fleet)
    const first = await intoPublicity(fleet, dy, uscc, 'DY-HONEY', HONEY)
    clock.set('2020-10-15T02:00:00Z')
    await as(fleet, fleet.adminToken, 'POST', '/api/v1/certification/publicity/run', undefined, 200)
    const cert1 = (await as(fleet, dy, 'GET', `${A}/${first.applicationId}`, undefined, 200)).certificateNo!

    // Renewal opens three months before expiry (2021-10-14 → 2021-07-14).
    clock.set('2021-03-01T02:00:00Z')
    expect(await errOf(fleet, dy, 'POST', A, { kind: 'renewal', certificateNo: cert1 })).toEqual([409, 'CERT_RENEWAL_TOO_EARLY'])
    // A change of a certified product's facts: review, 公示, then the catalog shows it.
    const change = await as(fleet, dy, 'POST', A, { kind: 'change', sku: 'DY-HONEY', changes: { priceFen: 4590, name: '定远槐花蜜' } }, 201)
    await as(fleet, dy, 'POST', `${A}/${change.applicationId}/review`, { decision: 'approve' }, 200)
    clock.set('2021-03-15T02:00:00Z')
    await as(fleet, fleet.adminToken, 'POST', '/api/v1/certification/publicity/run', undefined, 200)
    expect(await as(fleet, dy, 'GET', `${A}/${change.applicationId}`, undefined, 200)).toMatchObject({ state: 'effective', certificateNo: cert1 })
    await expect.poll(() => cabinet.item('DY-HONEY')).toEqual({ sku: 'DY-HONEY', name: '定远槐花蜜', priceFen: 4590, isCertified: true, certificateNo: cert1 })

    clock.set('2021-07-20T02:00:00Z') // Tuesday
    const renewal = await as(fleet, dy, 'POST', A, { kind: 'renewal', certificateNo: cert1 }, 201)
    expect(renewal).toMatchObject({ kind: 'renewal', state: 'county_review' })
    expect(await as(fleet, dy, 'POST', `${A}/${renewal.applicationId}/review`, { decision: 'approve' }, 200)).toMatchObject({ publicityTo: '2021-07-27', effectiveFrom: '2021-07-28' })
    clock.set('2021-07-28T01:00:00Z')
    const run = await as<{ effective: Array<{ certificateNo: string }> }>(fleet, fleet.adminToken, 'POST', '/api/v1/certification/publicity/run', undefined, 200)
    const cert2 = run.effective[0]!.certificateNo
    // The new certificate follows the current one without a gap.
    expect(await as(fleet, dy, 'GET', `/api/v1/certificates/${cert2}`, undefined, 200)).toMatchObject({ renews: cert1, validFrom: '2021-10-15', validTo: '2022-10-14', status: 'pending' })
    expect(await errOf(fleet, dy, 'POST', A, { kind: 'renewal', certificateNo: cert1 })).toEqual([409, 'APPLICATION_INVALID'])

    // Revoked today: off the cabinets at once.
    await as(fleet, fleet.adminToken, 'POST', `/api/v1/certificates/${cert1}/revoke`, { reason: '质量抽检不合格' }, 200)
    await expect.poll(() => cabinet.item('DY-HONEY')?.isCertified).toBe(false)
    expect(await as(fleet, dy, 'GET', '/api/v1/products/DY-HONEY', undefined, 200)).toMatchObject({ isCertified: false, certificateNo: null })
  })

  it('makes notices that ended while the server was down effective when it starts, and schedules the hourly pass', async () => {
    const dataDir = await tempDir()
    const clock = aClock('2020-09-14T02:00:00Z')
    const first = await fleetWith({ dataDir, deps: { now: clock.now }, manualClose: true })
    const dy = await user(first, { username: 'dy-official', role: 'county', countyCode: '341125' })
    const { uscc } = await as<{ uscc: string }>(first, dy, 'POST', '/api/v1/suppliers', { uscc: aUscc(1), name: '定远县蜂业合作社' }, 201)
    const app = await intoPublicity(first, dy, uscc, 'DY-HONEY', HONEY)
    expect([...cron.getTasks().values()].some((t) => t.name === `certification@${dataDir}`)).toBe(true)
    await first.close()
    expect([...cron.getTasks().values()].some((t) => t.name === `certification@${dataDir}`)).toBe(false)

    clock.set('2020-09-23T02:00:00Z')
    const again = await fleetWith({ dataDir, deps: { now: clock.now } })
    await expect.poll(async () => (await api<App>(again, 'GET', `${A}/${app.applicationId}`)).body.state).toBe('effective')
    expect(await as(again, again.adminToken, 'GET', '/api/v1/products/DY-HONEY', undefined, 200)).toMatchObject({ isCertified: true })
  })

  it('runs the city and province reviews the plan names, by the city administrator only', async () => {
    const dir = await tempDir()
    const chuzhou = JSON.parse(await readFile(new URL('../../../shared/src/plans/chuzhou-2020.json', import.meta.url), 'utf8')) as Record<string, unknown>
    const planFile = join(dir, 'plan.json')
    await writeFile(planFile, JSON.stringify({ ...chuzhou, id: 'chuzhou-3-steps', certification: { reviewSteps: ['county', 'city', 'province'], publicityWorkingDays: 5, validityMonths: 12 } }))
    const { fleet, dy, uscc } = await setUp('2020-09-14T02:00:00Z', { FLEET_PLAN: planFile })
    const filed = await as(fleet, dy, 'POST', A, { kind: 'new', supplierUscc: uscc, sku: 'DY-HONEY', product: HONEY }, 201)
    expect(await as(fleet, dy, 'POST', `${A}/${filed.applicationId}/review`, { decision: 'approve' }, 200)).toMatchObject({ state: 'city_review', currentStep: 'city' })
    expect(await errOf(fleet, dy, 'POST', `${A}/${filed.applicationId}/review`, { decision: 'approve' })).toEqual([403, 'ACCESS_OUT_OF_SCOPE'])
    expect(await as(fleet, fleet.adminToken, 'POST', `${A}/${filed.applicationId}/review`, { decision: 'approve' }, 200)).toMatchObject({ state: 'province_review' })
    expect(await as(fleet, fleet.adminToken, 'POST', `${A}/${filed.applicationId}/review`, { decision: 'approve' }, 200)).toMatchObject({ state: 'publicity', reviewSteps: ['county', 'city', 'province'] })
    const steps = (await as<{ events: Array<{ action: string; actor: string; toState: string | null }> }>(fleet, dy, 'GET', `${A}/${filed.applicationId}/history`, undefined, 200)).events
    expect(steps.filter((e) => e.action === 'approved').map((e) => [e.actor, e.toState])).toEqual([['dy-official', 'city_review'], ['admin', 'province_review'], ['admin', 'publicity']])
  })

  it('keeps a county to its own suppliers and an operator to the applications it filed', async () => {
    const { fleet, dy, fy, uscc } = await setUp('2020-09-14T02:00:00Z')
    const filed = await as(fleet, dy, 'POST', A, { kind: 'new', supplierUscc: uscc, sku: 'DY-HONEY', product: HONEY }, 201)
    // 凤阳县 registers no supplier in 定远县, files nothing for one, and sees nothing of it.
    expect(await errOf(fleet, fy, 'POST', '/api/v1/suppliers', { uscc: aUscc(2), name: 'x', countyCode: '341125' })).toEqual([403, 'ACCESS_OUT_OF_SCOPE'])
    expect(await errOf(fleet, fy, 'POST', A, { kind: 'new', supplierUscc: uscc, sku: 'DY-TEA', product: HONEY })).toEqual([403, 'ACCESS_OUT_OF_SCOPE'])
    for (const url of [`${A}/${filed.applicationId}`, `${A}/${filed.applicationId}/history`]) expect(await errOf(fleet, fy, 'GET', url)).toEqual([404, 'APPLICATION_NOT_FOUND'])
    expect(await errOf(fleet, fy, 'POST', `${A}/${filed.applicationId}/review`, { decision: 'approve' })).toEqual([404, 'APPLICATION_NOT_FOUND'])
    for (const q of ['', '?county=341125', '?state=open']) expect((await as<{ applications: unknown[]; total: number }>(fleet, fy, 'GET', `${A}${q}`, undefined, 200)).total).toBe(0)

    // An operator registers its supplier (naming the reviewing county) and files for it.
    const op = await user(fleet, { username: 'op', role: 'operator', operator: 'anhui-supply' })
    const other = await user(fleet, { username: 'op2', role: 'operator', operator: 'other-co' })
    expect(await errOf(fleet, op, 'POST', '/api/v1/suppliers', { uscc: aUscc(3), name: '合作社3' })).toEqual([400, 'SUPPLIER_COUNTY_REQUIRED'])
    expect(await errOf(fleet, op, 'POST', '/api/v1/suppliers', { uscc: aUscc(3), name: '合作社3', countyCode: '110101' })).toEqual([400, 'SUPPLIER_COUNTY_UNKNOWN'])
    expect(await as(fleet, op, 'POST', '/api/v1/suppliers', { uscc: aUscc(3), name: '合作社3', countyCode: '341125' }, 201)).toMatchObject({ countyCode: '341125', operator: 'anhui-supply' })
    expect(await errOf(fleet, op, 'POST', A, { kind: 'new', supplierUscc: uscc, sku: 'DY-TEA', product: HONEY })).toEqual([403, 'ACCESS_OUT_OF_SCOPE'])
    const opApp = await as(fleet, op, 'POST', A, { kind: 'new', supplierUscc: aUscc(3), sku: 'OP-TEA', product: { name: '皖茶', priceFen: 2000 } }, 201)
    expect(await errOf(fleet, op, 'POST', `${A}/${opApp.applicationId}/review`, { decision: 'approve' })).toEqual([403, 'ACCESS_OUT_OF_SCOPE'])
    expect((await as<{ applications: Array<{ applicationId: number }> }>(fleet, op, 'GET', A, undefined, 200)).applications.map((a) => a.applicationId)).toEqual([opApp.applicationId])
    expect(await errOf(fleet, other, 'GET', `${A}/${opApp.applicationId}`)).toEqual([404, 'APPLICATION_NOT_FOUND'])
    // An auditor reads every application and changes nothing.
    const auditor = await user(fleet, { username: 'audit', role: 'auditor' })
    expect((await as<{ total: number }>(fleet, auditor, 'GET', A, undefined, 200)).total).toBe(2)
    expect(await errOf(fleet, auditor, 'POST', A, { kind: 'new', supplierUscc: uscc, sku: 'DY-TEA', product: HONEY })).toEqual([403, 'ACCESS_OUT_OF_SCOPE'])
    expect(await errOf(fleet, auditor, 'POST', `${A}/${filed.applicationId}/review`, { decision: 'approve' })).toEqual([403, 'ACCESS_OUT_OF_SCOPE'])
    // The supplier's county reviews what the operator filed.
    expect((await as<{ applications: unknown[] }>(fleet, dy, 'GET', A, undefined, 200)).applications).toHaveLength(2)
    expect(await as(fleet, dy, 'POST', `${A}/${opApp.applicationId}/review`, { decision: 'approve' }, 200)).toMatchObject({ state: 'publicity' })

    // A supplier from before issue 15 (no county): admin-only until an admin sets it.
    const old = await as<{ uscc: string; countyCode: string | null }>(fleet, fleet.adminToken, 'POST', '/api/v1/suppliers', { uscc: aUscc(4), name: '老合作社' }, 201)
    expect(old.countyCode).toBeNull()
    expect(await errOf(fleet, dy, 'POST', A, { kind: 'new', supplierUscc: old.uscc, sku: 'OLD-1', product: HONEY })).toEqual([403, 'ACCESS_OUT_OF_SCOPE'])
    expect(await errOf(fleet, dy, 'PATCH', `/api/v1/suppliers/${old.uscc}`, { countyCode: '341125' })).toEqual([403, 'ACCESS_OUT_OF_SCOPE'])
    expect(await as(fleet, fleet.adminToken, 'PATCH', `/api/v1/suppliers/${old.uscc}`, { countyCode: '341125' }, 200)).toMatchObject({ countyCode: '341125' })
    expect((await as(fleet, dy, 'POST', A, { kind: 'new', supplierUscc: old.uscc, sku: 'OLD-1', product: HONEY }, 201)).countyCode).toBe('341125')
  })
})
