// Compliance over real sales (real MQTT cabinets, real SQLite): certification
// judged per sale date, mid-month expiry and revocation, the 50% boundary in
// integer fen, scope, the threshold as plan data, and certifiedAmountFen; and
// the certified figures kept at write time (ingest and catalog changes), exact
// against a recompute from the sku rows, across a restart and a migration.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Database } from '../../fleet-server/src/db/sqlite.js'
import { describe, expect, it, onTestFinished } from 'vitest'
import type { Fleet } from '../../fleet-server/src/app.js'
import { flips, mergeRanges } from '../../fleet-server/src/compliance/index.js'
import { DB_FILE, migrate } from '../../fleet-server/src/db/index.js'
import { MIGRATIONS } from '../../fleet-server/src/db/migrations.js'
import { pino } from 'pino'
import { BUNDLED_PLANS } from '../../shared/src/index.js'
import { api, tempDir } from '../helpers/fleet.js'
import { onPostgres, sqlRows } from '../helpers/test-db.js'
import { aCatalog, aClock, aDatedCabinet, aUscc, fleetWith, line, ok } from './certification.fixtures.js'

interface Row { cabinetId: string; countyCode: string; amountFen: number; certifiedAmountFen: number; ratio: number; shareBp: number; compliant: boolean }
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

  it('gives a county the same figures as the city-wide query, across whole and partial months', async () => {
    const fleet = await fleetWith({ deps: { now: aClock('2020-10-10T02:00:00Z').now } })
    await aCatalog(fleet, { CERT: { cert: ['2020-01-01'] }, PLAIN: {} })
    const cabinets = [
      await aDatedCabinet(fleet, { countyCode: '341125', operator: 'op-a' }),
      await aDatedCabinet(fleet, { countyCode: '341125', operator: 'op-b' }),
      await aDatedCabinet(fleet, { countyCode: '341126', operator: 'op-a' }),
    ]
    // Amounts differ by cabinet and day, so a day counted twice or missed shows.
    for (const [i, c] of cabinets.entries()) {
      for (const [d, day] of ['2020-08-30', '2020-08-31', '2020-09-15', '2020-10-01', '2020-10-02'].entries()) {
        await c.sell(day, [line('CERT', 100 * (i + 1)), line('PLAIN', 10 ** d)])
      }
    }
    const query = async (q: string) => (await ok<Reply>(fleet, 'GET', `/api/v1/compliance?from=2020-08-31&to=2020-10-01${q}`, undefined, 200)).cabinets
    const city = await query('')
    // 31 August, 15 September, 1 October: 3 × 100(i + 1) + 10 + 100 + 1000.
    expect(city.map((c: Row) => c.amountFen)).toEqual([1410, 1710, 2010])
    for (const county of ['341125', '341126']) {
      expect(await query(`&county=${county}`)).toEqual(city.filter((c: Row) => c.countyCode === county))
    }
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

type Fig = { cabinet_id: string; at: string; sales_count: number; amount_fen: number; certified_fen: number }

/** The stored day and month figures, read straight from the tables (no query path, nothing refreshed). */
async function stored(fleet: Fleet): Promise<{ days: Fig[]; months: Fig[] }> {
  return {
    days: await sqlRows<Fig>(fleet.database, 'SELECT cabinet_id, day AS at, sales_count, amount_fen, certified_fen FROM cabinet_day_certified ORDER BY 1, 2'),
    months: await sqlRows<Fig>(fleet.database, 'SELECT cabinet_id, month AS at, sales_count, amount_fen, certified_fen FROM cabinet_month_certified ORDER BY 1, 2'),
  }
}

/** The same figures recomputed from scratch from the sales aggregates and the certificates. */
async function recomputed(fleet: Fleet): Promise<{ days: Fig[]; months: Fig[] }> {
  const days = await sqlRows<Fig>(
    fleet.database,
    `SELECT d.cabinet_id, d.day AS at, d.sales_count, d.amount_fen,
            coalesce((SELECT CAST(sum(s.amount_fen) AS BIGINT) FROM cabinet_day_sku_sales s WHERE s.cabinet_id = d.cabinet_id AND s.day = d.day
              AND EXISTS (SELECT 1 FROM certified_spans v WHERE v.sku = s.sku AND s.day BETWEEN v.day_from AND v.day_to)), 0) AS certified_fen
     FROM cabinet_day_sales d ORDER BY 1, 2`,
  )
  const months = new Map<string, Fig>()
  for (const d of days) {
    const k = `${d.cabinet_id} ${d.at.slice(0, 7)}`
    const m = months.get(k) ?? { cabinet_id: d.cabinet_id, at: d.at.slice(0, 7), sales_count: 0, amount_fen: 0, certified_fen: 0 }
    months.set(k, { ...m, sales_count: m.sales_count + d.sales_count, amount_fen: m.amount_fen + d.amount_fen, certified_fen: m.certified_fen + d.certified_fen })
  }
  return { days, months: [...months.values()] }
}

const certifiedOn = async (fleet: Fleet, cabinetId: string, day: string) => (await stored(fleet)).days.find((d) => d.cabinet_id === cabinetId && d.at === day)?.certified_fen

describe('certified figures kept at write time', () => {
  it('has a sale in the day and month figures as soon as it is acknowledged, with no query or refresh in between', async () => {
    const fleet = await fleetWith({ deps: { now: aClock('2020-10-10T02:00:00Z').now } })
    await aCatalog(fleet, { HONEY: { cert: ['2020-01-01'] }, PLAIN: {} })
    const cab = await aDatedCabinet(fleet)
    await cab.sell('2020-09-10', [line('HONEY', 600), line('PLAIN', 400)])
    await cab.sell('2020-09-10', [line('HONEY', 50)])
    await cab.sell('2020-10-01', [line('PLAIN', 70)])
    expect(await stored(fleet)).toEqual({
      days: [
        { cabinet_id: cab.cabinetId, at: '2020-09-10', sales_count: 2, amount_fen: 1050, certified_fen: 650 },
        { cabinet_id: cab.cabinetId, at: '2020-10-01', sales_count: 1, amount_fen: 70, certified_fen: 0 },
      ],
      months: [
        { cabinet_id: cab.cabinetId, at: '2020-09', sales_count: 2, amount_fen: 1050, certified_fen: 650 },
        { cabinet_id: cab.cabinetId, at: '2020-10', sales_count: 1, amount_fen: 70, certified_fen: 0 },
      ],
    })
  })

  it('applies a back-dated revocation exactly where certificates overlap: a day another certificate still covers does not flip', async () => {
    const clock = aClock('2020-10-10T02:00:00Z')
    const fleet = await fleetWith({ deps: { now: clock.now } })
    await aCatalog(fleet, { HONEY: { cert: ['2020-01-01'] }, PLAIN: {} }) // CERT-HONEY: 2020-01-01 … 2020-12-31
    // A second certificate of the same product, overlapping from 09-15 (the renewal window is open).
    await ok(fleet, 'POST', '/api/v1/certificates', { sku: 'HONEY', certificateNo: 'CERT-HONEY-2', validFrom: '2020-09-15' })
    const a = await aDatedCabinet(fleet)
    const b = await aDatedCabinet(fleet)
    for (const c of [a, b]) {
      for (const day of ['2020-08-31', '2020-09-10', '2020-09-20']) await c.sell(day, [line('HONEY', 300), line('PLAIN', 200)])
    }
    expect(await certifiedOn(fleet, a.cabinetId, '2020-09-10')).toBe(300)

    // CERT-HONEY back to 09-01: 09-10 flips; 09-20 is still covered by CERT-HONEY-2; 08-31 is before.
    await ok(fleet, 'POST', '/api/v1/certificates/CERT-HONEY/revoke', { reason: '追溯撤销', effectiveFrom: '2020-09-01' })
    for (const c of [a, b]) {
      expect([await certifiedOn(fleet, c.cabinetId, '2020-08-31'), await certifiedOn(fleet, c.cabinetId, '2020-09-10'), await certifiedOn(fleet, c.cabinetId, '2020-09-20')]).toEqual([300, 0, 300])
    }
    expect(await stored(fleet)).toEqual(await recomputed(fleet))
    // Now CERT-HONEY-2 from 09-18 as well: 09-20 flips, nothing else moves.
    await ok(fleet, 'POST', '/api/v1/certificates/CERT-HONEY-2/revoke', { reason: '追溯撤销', effectiveFrom: '2020-09-18' })
    expect(await certifiedOn(fleet, a.cabinetId, '2020-09-20')).toBe(0)
    // Moving CERT-HONEY's revocation earlier still (into August) flips 08-31 only.
    await ok(fleet, 'POST', '/api/v1/certificates/CERT-HONEY/revoke', { reason: '再次追溯', effectiveFrom: '2020-08-01' })
    expect(await certifiedOn(fleet, a.cabinetId, '2020-08-31')).toBe(0)
    expect(await stored(fleet)).toEqual(await recomputed(fleet))
    const sept = (await ok<Reply>(fleet, 'GET', '/api/v1/compliance?period=2020-09', undefined, 200)).cabinets
    expect(sept.map((c) => c.certifiedAmountFen)).toEqual([0, 0])
  })

  it('applies a back-dated blacklisting to every product of the supplier and to no other', async () => {
    const fleet = await fleetWith({ deps: { now: aClock('2020-10-10T02:00:00Z').now } })
    await aCatalog(fleet, { 'A-1': { cert: ['2020-01-01'], supplier: 1 }, 'A-2': { cert: ['2020-03-01'], supplier: 1 }, 'B-1': { cert: ['2020-01-01'], supplier: 2 } })
    const cab = await aDatedCabinet(fleet)
    await cab.sell('2020-09-10', [line('A-1', 100), line('A-2', 20), line('B-1', 3)])
    await cab.sell('2020-09-20', [line('A-1', 100), line('A-2', 20), line('B-1', 3)])
    await ok(fleet, 'POST', `/api/v1/suppliers/${aUscc(1)}/blacklist`, { reason: '以次充好', effectiveFrom: '2020-09-15' })
    expect([await certifiedOn(fleet, cab.cabinetId, '2020-09-10'), await certifiedOn(fleet, cab.cabinetId, '2020-09-20')]).toEqual([123, 3])
    expect((await stored(fleet)).months).toEqual([{ cabinet_id: cab.cabinetId, at: '2020-09', sales_count: 2, amount_fen: 246, certified_fen: 126 }])
    expect(await stored(fleet)).toEqual(await recomputed(fleet))
  })

  it('counts past sales as certified once a certificate covering their days is issued', async () => {
    const fleet = await fleetWith({ deps: { now: aClock('2020-10-10T02:00:00Z').now } })
    await aCatalog(fleet, { RICE: {}, PLAIN: {} })
    const cab = await aDatedCabinet(fleet)
    await cab.sell('2020-08-31', [line('RICE', 500), line('PLAIN', 500)])
    await cab.sell('2020-09-05', [line('RICE', 500), line('PLAIN', 500)])
    const sept = async () => (await ok<Reply>(fleet, 'GET', '/api/v1/compliance?period=2020-09', undefined, 200)).cabinets[0]!
    expect(await sept()).toMatchObject({ certifiedAmountFen: 0, compliant: false })
    await ok(fleet, 'POST', '/api/v1/certificates', { sku: 'RICE', certificateNo: 'CERT-RICE', validFrom: '2020-09-01' })
    expect(await sept()).toMatchObject({ certifiedAmountFen: 500, shareBp: 5000, compliant: true })
    expect(await certifiedOn(fleet, cab.cabinetId, '2020-08-31')).toBe(0)
    // New sales after the change are judged by the updated catalog at once.
    await cab.sell('2020-09-06', [line('RICE', 40)])
    expect(await certifiedOn(fleet, cab.cabinetId, '2020-09-06')).toBe(40)
    expect(await stored(fleet)).toEqual(await recomputed(fleet))
  })

  it('keeps the figures across a restart, and the catalog judges new sales and changes after it', async () => {
    const clock = aClock('2020-10-10T02:00:00Z')
    const dataDir = await tempDir()
    let fleet = await fleetWith({ dataDir, deps: { now: clock.now }, manualClose: true })
    await aCatalog(fleet, { HONEY: { cert: ['2020-01-01'] }, PLAIN: {} })
    const cab = await aDatedCabinet(fleet)
    await cab.sell('2020-09-10', [line('HONEY', 600), line('PLAIN', 400)])
    const before = await stored(fleet)
    await cab.mqtt.close()
    await fleet.close()

    fleet = await fleetWith({ dataDir, deps: { now: clock.now }, manualClose: true })
    onTestFinished(() => fleet.close())
    expect(await stored(fleet)).toEqual(before)
    // The restarted server's certified index came from the database: a new sale and a revocation are applied exactly.
    const again = await aDatedCabinet(fleet)
    await again.sell('2020-09-12', [line('HONEY', 10)])
    await ok(fleet, 'POST', '/api/v1/certificates/CERT-HONEY/revoke', { reason: '追溯撤销', effectiveFrom: '2020-09-11' })
    expect(await certifiedOn(fleet, cab.cabinetId, '2020-09-10')).toBe(600)
    expect(await certifiedOn(fleet, again.cabinetId, '2020-09-12')).toBe(0)
    expect(await stored(fleet)).toEqual(await recomputed(fleet))
  })

  // SQLite only: PostgreSQL databases start at the baseline (= SQLite migrations 1–7).
  it.skipIf(onPostgres)('rebuilds the figures of a database written before they were kept at write time (migration 5)', async () => {
    const clock = aClock('2020-10-10T02:00:00Z')
    const dataDir = await tempDir()
    let fleet = await fleetWith({ dataDir, deps: { now: clock.now }, manualClose: true })
    await aCatalog(fleet, { HONEY: { cert: ['2020-01-01'] }, PLAIN: {} })
    const cab = await aDatedCabinet(fleet)
    await cab.sell('2020-09-10', [line('HONEY', 600), line('PLAIN', 400)])
    await cab.sell('2020-10-01', [line('HONEY', 5)])
    const expected = await stored(fleet)
    await cab.mqtt.close()
    await fleet.close()
    // What an older server left: figures filled lazily (here: none yet, and a stale one), schema before version 5.
    const db = new Database(join(dataDir, DB_FILE))
    db.exec('DELETE FROM cabinet_day_certified; UPDATE cabinet_month_certified SET certified_fen = 1;')
    // Back to version 4's schema: what later migrations created goes (they create, never alter, so they run again).
    const v4 = new Database(':memory:')
    migrate(v4, MIGRATIONS.filter((m) => m.version <= 4), pino({ level: 'silent' }))
    const v4Names = new Set((v4.prepare("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").all() as Array<{ name: string }>).map((r) => r.name))
    v4.close()
    for (const { type, name } of db.prepare("SELECT type, name FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%' ORDER BY type DESC").all() as Array<{ type: string; name: string }>) {
      if (!v4Names.has(name)) db.exec(`DROP ${type === 'table' ? 'TABLE' : 'INDEX'} IF EXISTS "${name}"`)
    }
    db.pragma('user_version = 4')
    db.close()

    fleet = await fleetWith({ dataDir, deps: { now: clock.now }, manualClose: true })
    onTestFinished(() => fleet.close())
    expect(await stored(fleet)).toEqual(expected)
    expect((await ok<Reply>(fleet, 'GET', '/api/v1/compliance?period=2020-09', undefined, 200)).cabinets[0]).toMatchObject({ amountFen: 1000, certifiedAmountFen: 600 })
  })

  it('finds the days whose status flips when certificates overlap, touch or nest', () => {
    expect(mergeRanges([['2020-03-01', '2020-03-31'], ['2020-01-01', '2020-01-31'], ['2020-02-01', '2020-02-10'], ['2020-03-10', '2020-03-12'], ['2020-05-02', '2020-05-01']])).toEqual([
      ['2020-01-01', '2020-02-10'],
      ['2020-03-01', '2020-03-31'],
    ])
    const before = mergeRanges([['2020-01-01', '2020-12-31'], ['2020-09-15', '2021-09-14']])
    const after = mergeRanges([['2020-01-01', '2020-08-31'], ['2020-09-15', '2021-09-14']])
    expect(flips(before, after)).toEqual([{ from: '2020-09-01', to: '2020-09-14', sign: -1 }])
    expect(flips(after, before)).toEqual([{ from: '2020-09-01', to: '2020-09-14', sign: 1 }])
    expect(flips(before, before)).toEqual([])
    expect(flips([], [['2020-09-01', '2020-09-30']])).toEqual([{ from: '2020-09-01', to: '2020-09-30', sign: 1 }])
    expect(flips([['2020-09-01', '2020-09-10']], [['2020-09-05', '2020-09-20']])).toEqual([
      { from: '2020-09-01', to: '2020-09-04', sign: -1 },
      { from: '2020-09-11', to: '2020-09-20', sign: 1 },
    ])
  })
})
