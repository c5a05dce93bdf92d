// The compliance store's SQL on both engines: the same seeded catalog,
// cabinets and sales aggregates (plain inserts, no fleet) on a SQLite file
// and a PostgreSQL database give the same figures after an ingest tick
// (recordTick in its transaction), after a back-dated revocation (flips in the
// change's transaction), and after a change that rolled back (nothing moved,
// the certified index included). On PostgreSQL also: a change made through
// one handle reaches another handle's certified index (two servers), and a
// tick through the other judges by the committed catalog even before that.
import { sql } from 'kysely'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createComplianceStore, type ComplianceStore, type TickSales } from '../../../fleet-server/src/compliance/index.js'
import { openFleetDb, type FleetDb } from '../../../fleet-server/src/db/database.js'
import { ALL_CABINETS } from '../../../fleet-server/src/db/index.js'
import { tempDir } from '../../helpers/fleet.js'
import { startPostgres, type Postgres } from '../../helpers/postgres.js'

const log = pino({ level: 'silent' })
const USCC = '91110101MA00000001'
const AT = '2020-10-10T00:00:00.000Z'

/** One sale per cabinet and day, with its sku lines: [sku, qty, amountFen]. */
const SALES: ReadonlyArray<{ cabinetId: string; day: string; lines: ReadonlyArray<[string, number, number]> }> = [
  { cabinetId: 'C1', day: '2020-09-10', lines: [['HONEY', 6, 600], ['PLAIN', 4, 400]] },
  { cabinetId: 'C1', day: '2020-09-20', lines: [['HONEY', 1, 100]] },
  { cabinetId: 'C1', day: '2020-10-02', lines: [['HONEY', 1, 50]] },
  { cabinetId: 'C2', day: '2020-09-20', lines: [['HONEY', 3, 300], ['PLAIN', 7, 700]] },
]

async function seed(db: FleetDb): Promise<void> {
  const k = db.kysely
  const cabinet = (cabinet_id: string, county_code: string, operator: string) => ({
    cabinet_id, county_code, operator, status: 'operating', secret_hash: 'x', credentials_issued_at: AT, created_at: AT, updated_at: AT,
  })
  await k.insertInto('cabinets').values([cabinet('C1', '110101', 'op-a'), cabinet('C2', '110102', 'op-b'), cabinet('C3', '110101', 'op-a')]).execute()
  await k.insertInto('suppliers').values({ uscc: USCC, name: '供应商', created_at: AT, updated_at: AT }).execute()
  await k.insertInto('products').values(['HONEY', 'PLAIN'].map((sku) => ({ sku, name: sku, supplier_uscc: USCC, price_fen: 100, created_at: AT, updated_at: AT }))).execute()
  await k.insertInto('certificates').values({ certificate_no: 'CERT-HONEY', sku: 'HONEY', level: 'county', valid_from: '2020-01-01', valid_to: '2020-12-31', created_at: AT, updated_at: AT }).execute()
}

/** What the sales domain writes in a tick (its aggregates) and hands to compliance (the tick's aggregates). */
async function sell(db: FleetDb, store: ComplianceStore): Promise<void> {
  const days: TickSales['days'] extends ReadonlyMap<string, infer V> ? Map<string, V> : never = new Map()
  const skus: TickSales['skus'] extends ReadonlyMap<string, infer V> ? Map<string, V> : never = new Map()
  await db.transaction(async (tx) => {
    for (const s of SALES) {
      const amountFen = s.lines.reduce((t, l) => t + l[2], 0)
      days.set(`${s.cabinetId} ${s.day}`, { cabinetId: s.cabinetId, day: s.day, count: 1, amountFen })
      await tx.insertInto('cabinet_day_sales').values({ cabinet_id: s.cabinetId, day: s.day, sales_count: 1, amount_fen: amountFen }).execute()
      for (const [sku, qty, amount] of s.lines) {
        skus.set(`${s.cabinetId} ${s.day} ${sku}`, { cabinetId: s.cabinetId, day: s.day, sku, amountFen: amount })
        await tx.insertInto('cabinet_day_sku_sales').values({ cabinet_id: s.cabinetId, day: s.day, sku, qty, amount_fen: amount }).execute()
      }
    }
    await store.recordTick(tx, { days, skus })
  })
}

/** Revokes CERT-HONEY from `from` and applies it to the figures, in one transaction; `fail` rolls it back at the end. */
async function revokeHoney(db: FleetDb, store: ComplianceStore, from: string, fail = false): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.updateTable('certificates').set({ revoked_from: from, revoke_reason: 'test', updated_at: AT }).where('certificate_no', '=', 'CERT-HONEY').execute()
    await store.applyCatalogChange(tx, ['HONEY'])
    if (fail) throw new Error('rolled back')
  })
}

const fig = (cabinetId: string, countyCode: string, salesCount: number, amountFen: number, certifiedFen: number) => ({ cabinetId, countyCode, salesCount, amountFen, certifiedFen })

describe.each(['sqlite', 'postgres'] as const)('compliance store on %s', (engine) => {
  let pgServer: Postgres | null = null
  const opened: Array<{ db: FleetDb; store: ComplianceStore }> = []
  beforeAll(async () => {
    if (engine === 'postgres') pgServer = await startPostgres()
  })
  afterAll(async () => {
    for (const o of opened) {
      o.store.close()
      await o.db.close()
    }
    await pgServer?.close()
  })
  let n = 0
  const open = async (url?: string): Promise<{ db: FleetDb; store: ComplianceStore; url: string }> => {
    const target = url ?? (engine === 'postgres' ? await pgServer!.newDatabase(`c${++n}`) : await tempDir())
    const db = await openFleetDb(engine === 'postgres' ? { dialect: 'postgres', url: target } : { dialect: 'sqlite', dataDir: target }, log)
    if (!url) await seed(db)
    const store = await createComplianceStore(db, { log })
    opened.push({ db, store })
    return { db, store, url: target }
  }

  it('adds a tick to the day and month figures and answers every figures query', async () => {
    const { db, store } = await open()
    await sell(db, store)
    expect(await store.figuresByCabinet('2020-09-01', '2020-09-30', {})).toEqual([fig('C1', '110101', 2, 1100, 700), fig('C2', '110102', 1, 1000, 300)])
    // A partial head month (days) and a whole month (month rows).
    expect(await store.figuresByCabinet('2020-09-15', '2020-10-31', {})).toEqual([fig('C1', '110101', 2, 150, 150), fig('C2', '110102', 1, 1000, 300)])
    expect(await store.figuresByCabinet('2020-09-15', '2020-10-31', { countyCode: '110102' })).toEqual([fig('C2', '110102', 1, 1000, 300)])
    expect(await store.figuresByCabinet('2020-09-01', '2020-10-31', { countyCode: '110101', operator: 'op-a' })).toEqual([fig('C1', '110101', 3, 1150, 750)])
    expect(await store.figuresByCabinet('2020-09-01', '2020-09-30', { cabinetId: 'C2' })).toEqual([fig('C2', '110102', 1, 1000, 300)])
    expect(await store.figuresByCabinet('2020-09-01', '2020-09-30', { countyCode: '110101', operator: 'op-b' })).toEqual([])
    expect(await store.certifiedTotals(['C1', 'C2', 'C3'])).toEqual(new Map([['C1', 750], ['C2', 300], ['C3', 0]]))
    expect(await store.months(ALL_CABINETS)).toEqual([
      { ...fig('C1', '110101', 2, 1100, 700), day: '2020-09' },
      { ...fig('C1', '110101', 1, 50, 50), day: '2020-10' },
      { ...fig('C2', '110102', 1, 1000, 300), day: '2020-09' },
    ])
    expect((await store.days({ after: 'C1', through: 'C2' })).map((d) => [d.cabinetId, d.day, d.certifiedFen])).toEqual([['C2', '2020-09-20', 300]])
    expect(await store.certifiedLines('C1', '2020-09-01', '2020-10-31')).toEqual([{ sku: 'HONEY', certificateNo: 'CERT-HONEY', supplierUscc: USCC, qty: 8, amountFen: 750 }])
    // Overlapping certificates: a line goes to the latest-starting one covering its day (ties: the lowest number).
    await db.kysely.insertInto('certificates').values(['CERT-HONEY-3', 'CERT-HONEY-2'].map((no) => ({ certificate_no: no, sku: 'HONEY', level: 'county', valid_from: '2020-09-15', valid_to: '2021-09-14', created_at: AT, updated_at: AT }))).execute()
    expect(await store.certifiedLines('C1', '2020-09-01', '2020-10-31')).toEqual([
      { sku: 'HONEY', certificateNo: 'CERT-HONEY', supplierUscc: USCC, qty: 6, amountFen: 600 },
      { sku: 'HONEY', certificateNo: 'CERT-HONEY-2', supplierUscc: USCC, qty: 2, amountFen: 150 },
    ])
  })

  it('applies a back-dated revocation in its transaction, and nothing of one that rolled back', async () => {
    const { db, store } = await open()
    await sell(db, store)
    await revokeHoney(db, store, '2020-09-15')
    expect(await store.figuresByCabinet('2020-09-01', '2020-10-31', {})).toEqual([fig('C1', '110101', 3, 1150, 600), fig('C2', '110102', 1, 1000, 0)])
    expect(await store.certifiedLines('C1', '2020-09-01', '2020-10-31')).toEqual([{ sku: 'HONEY', certificateNo: 'CERT-HONEY', supplierUscc: USCC, qty: 6, amountFen: 600 }])
    // The index takes the committed coverage (on PostgreSQL by the notice, a moment after commit).
    await expect.poll(() => store.index.isCertified('HONEY', '2020-09-15')).toBe(false)
    expect(store.index.isCertified('HONEY', '2020-09-14')).toBe(true)

    // Rolled back: figures and index as they were, so a later change of the same sku is still exact.
    await expect(revokeHoney(db, store, '2020-01-01', true)).rejects.toThrow('rolled back')
    expect(await store.certifiedTotals(['C1', 'C2'])).toEqual(new Map([['C1', 600], ['C2', 0]]))
    await new Promise((r) => setTimeout(r, 100)) // a notice sent by mistake would have arrived
    expect(store.index.isCertified('HONEY', '2020-09-10')).toBe(true)
    await revokeHoney(db, store, '2020-09-01')
    expect(await store.certifiedTotals(['C1', 'C2'])).toEqual(new Map([['C1', 0], ['C2', 0]]))
    expect(await store.figuresByCabinet('2020-09-01', '2020-09-30', { countyCode: '110101' })).toEqual([fig('C1', '110101', 2, 1100, 0)])
  })

  it.runIf(engine === 'postgres')('hands a change made through one server to the other server\'s certified index within 1 s', async () => {
    const a = await open()
    const b = await open(a.url)
    await new Promise((r) => setTimeout(r, 300)) // b's notice connection is up
    expect(b.store.index.isCertified('HONEY', '2020-09-20')).toBe(true)
    const t0 = Date.now()
    await revokeHoney(a.db, a.store, '2020-09-15')
    await expect.poll(() => b.store.index.isCertified('HONEY', '2020-09-20'), { timeout: 1_000, interval: 10 }).toBe(false)
    expect(Date.now() - t0).toBeLessThan(1_000)
    expect(b.store.index.isCertified('HONEY', '2020-09-14')).toBe(true)
  })

  it.runIf(engine === 'postgres')('judges a tick by the committed catalog even when its server has not heard of the change yet', async () => {
    const a = await open()
    const b = await open(a.url)
    b.store.close() // b's index will not hear of the revocation
    await revokeHoney(a.db, a.store, '2020-09-15')
    expect(b.store.index.isCertified('HONEY', '2020-09-20')).toBe(true)
    await sell(b.db, b.store)
    expect(await a.store.figuresByCabinet('2020-09-01', '2020-10-31', {})).toEqual([fig('C1', '110101', 3, 1150, 600), fig('C2', '110102', 1, 1000, 0)])
  })

  it.runIf(engine === 'postgres')('applies two servers\' simultaneous certificates of one sku once', async () => {
    const a = await open()
    const b = await open(a.url)
    await sell(a.db, a.store)
    await revokeHoney(a.db, a.store, '2020-01-01') // HONEY uncertified everywhere
    expect(await a.store.certifiedTotals(['C1', 'C2'])).toEqual(new Map([['C1', 0], ['C2', 0]]))
    // Warm connections on both pools, so neither change waits for a new one while the other runs.
    for (const s of [a, b]) await Promise.all([1, 2, 3].map(() => sql`SELECT 1`.execute(s.db.kysely)))
    // Both write their certificate before either applies it: each must see the other's only once committed.
    let arrived = 0
    let release!: () => void
    const bothWritten = new Promise<void>((r) => (release = r))
    const issue = (s: { db: FleetDb; store: ComplianceStore }, no: string) =>
      s.db.transaction(async (tx) => {
        await tx.insertInto('certificates').values({ certificate_no: no, sku: 'HONEY', level: 'county', valid_from: '2020-09-01', valid_to: '2021-08-31', created_at: AT, updated_at: AT }).execute()
        if (++arrived === 2) release()
        await bothWritten
        await s.store.applyCatalogChange(tx, ['HONEY'])
      })
    await Promise.all([issue(a, 'CERT-A'), issue(b, 'CERT-B')])
    expect(await a.store.certifiedTotals(['C1', 'C2'])).toEqual(new Map([['C1', 750], ['C2', 300]]))
  })
})
