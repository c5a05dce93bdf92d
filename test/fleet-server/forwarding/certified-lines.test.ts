// The certified lines of a pass slice's reports, read once for the slice
// (compliance store certifiedLinesIn), on SQLite and PostgreSQL: each asked
// period gets exactly what the one-period read (certifiedLines) gives it, in
// the order asked, with overlapping certificates, a sku without one, days
// outside the period and a cabinet without sales; summed in SQL over runs of
// days with one certificate, or read per day past MAX_SKU_SALES_BREAKS runs.
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { addDays, createComplianceStore } from '../../../fleet-server/src/compliance/index.js'
import { openFleetDb, type FleetDb } from '../../../fleet-server/src/db/database.js'
import { ALL_CABINETS } from '../../../fleet-server/src/db/index.js'
import { MAX_SKU_SALES_BREAKS } from '../../../fleet-server/src/sales/forwarding-reads.js'
import { tempDir } from '../../helpers/fleet.js'
import { startPostgres, type Postgres } from '../../helpers/postgres.js'

const log = pino({ level: 'silent' })
const USCC = '91110101MA00000001'
const AT = '2020-10-10T00:00:00.000Z'

/** cabinet_day_sku_sales rows: [cabinet, day, sku, qty, amountFen]. */
const SKU_SALES: ReadonlyArray<[string, string, string, number, number]> = [
  ['C1', '2020-09-10', 'HONEY', 6, 600],
  ['C1', '2020-09-10', 'PLAIN', 4, 400],
  ['C1', '2020-09-20', 'HONEY', 1, 100],
  ['C1', '2020-10-02', 'HONEY', 1, 50],
  ['C1', '2020-10-02', 'TEA', 2, 80],
  ['C2', '2020-09-20', 'HONEY', 3, 300],
  ['C2', '2020-10-31', 'TEA', 1, 40],
]

const cert = (certificate_no: string, sku: string, valid_from: string, valid_to: string) => ({ certificate_no, sku, level: 'county', valid_from, valid_to, created_at: AT, updated_at: AT })

async function seed(db: FleetDb): Promise<void> {
  const k = db.kysely
  const cabinet = (cabinet_id: string) => ({ cabinet_id, county_code: '110101', operator: null, status: 'operating', secret_hash: 'x', credentials_issued_at: AT, created_at: AT, updated_at: AT })
  await k.insertInto('cabinets').values(['C1', 'C2', 'C3'].map(cabinet)).execute()
  await k.insertInto('suppliers').values({ uscc: USCC, name: '供应商', created_at: AT, updated_at: AT }).execute()
  await k.insertInto('products').values(['HONEY', 'PLAIN', 'TEA'].map((sku) => ({ sku, name: sku, supplier_uscc: USCC, price_fen: 100, created_at: AT, updated_at: AT }))).execute()
  // HONEY: a later certificate from 15 September takes the days it covers (two start together: the lower number wins).
  await k
    .insertInto('certificates')
    .values([cert('CERT-HONEY', 'HONEY', '2020-01-01', '2020-12-31'), cert('CERT-HONEY-3', 'HONEY', '2020-09-15', '2021-09-14'), cert('CERT-HONEY-2', 'HONEY', '2020-09-15', '2021-09-14'), cert('CERT-TEA', 'TEA', '2020-10-01', '2020-12-31')])
    .execute()
  await k.insertInto('cabinet_day_sku_sales').values(SKU_SALES.map(([cabinet_id, day, sku, qty, amount_fen]) => ({ cabinet_id, day, sku, qty, amount_fen }))).execute()
}

let pgServer: Postgres
beforeAll(async () => {
  pgServer = await startPostgres()
})
afterAll(() => pgServer?.close())

describe('certified lines of many periods in one read', () => {
  it('gives each period what certifiedLines gives it, on both engines', async () => {
    const periods = [
      { cabinetId: 'C2', from: '2020-10-01', to: '2020-10-31' },
      { cabinetId: 'C1', from: '2020-09-01', to: '2020-09-30' },
      { cabinetId: 'C3', from: '2020-09-01', to: '2020-09-30' },
      { cabinetId: 'C1', from: '2020-10-01', to: '2020-10-31' },
      { cabinetId: 'C2', from: '2020-09-01', to: '2020-09-30' },
    ]
    const results = []
    for (const db of [
      await openFleetDb({ dialect: 'sqlite', dataDir: await tempDir() }, log),
      await openFleetDb({ dialect: 'postgres', url: await pgServer.newDatabase('certified_lines') }, log),
    ]) {
      try {
        await seed(db)
        const store = await createComplianceStore(db, { log })
        const one = await Promise.all(periods.map((p) => store.certifiedLines(p.cabinetId, p.from, p.to)))
        const many = await store.certifiedLinesIn(ALL_CABINETS, periods)
        // Only C1's cabinets in the range: its periods, read from its rows alone.
        const c1 = await store.certifiedLinesIn({ after: 'C0', through: 'C1' }, [periods[1]!, periods[3]!])
        expect(many).toEqual(one)
        expect(c1).toEqual([one[1], one[3]])
        expect(await store.certifiedLinesIn(ALL_CABINETS, [])).toEqual([])
        // Past MAX_SKU_SALES_BREAKS certificate boundaries in the days read (one-day certificates of an unsold sku): read per day, same lines.
        await db.kysely.insertInto('products').values({ sku: 'OTHER', name: 'OTHER', supplier_uscc: USCC, price_fen: 100, created_at: AT, updated_at: AT }).execute()
        const days = Array.from({ length: 40 }, (_, i) => addDays('2020-09-01', i))
        await db.kysely.insertInto('certificates').values(days.map((d) => cert(`CERT-OTHER-${d}`, 'OTHER', d, d))).execute()
        expect(2 * days.length).toBeGreaterThan(MAX_SKU_SALES_BREAKS)
        expect(await store.certifiedLinesIn(ALL_CABINETS, periods)).toEqual(one)
        store.close()
        results.push(many)
      } finally {
        await db.close()
      }
    }
    const line = (sku: string, certificateNo: string, qty: number, amountFen: number) => ({ sku, certificateNo, supplierUscc: USCC, qty, amountFen })
    expect(results[0]).toEqual([
      [line('TEA', 'CERT-TEA', 1, 40)],
      [line('HONEY', 'CERT-HONEY', 6, 600), line('HONEY', 'CERT-HONEY-2', 1, 100)],
      [],
      [line('HONEY', 'CERT-HONEY-2', 1, 50), line('TEA', 'CERT-TEA', 2, 80)],
      [line('HONEY', 'CERT-HONEY-2', 3, 300)],
    ])
    expect(results[1]).toEqual(results[0])
  })
})
