// A pass judges a slice from reads taken before its write transaction (issue
// 13: nothing is read inside it). A period that changes in between — here the
// platform refuses its report while the pass builds a correction — must be
// left as it now is, not overwritten from the stale read. On both engines.
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BUNDLED_PLANS } from '../../../shared/src/index.js'
import { cabinetIds, cabinetOwners, cabinetsInScope } from '../../../fleet-server/src/cabinets/forwarding-reads.js'
import { createComplianceService } from '../../../fleet-server/src/compliance/index.js'
import { openFleetDb, type FleetDb } from '../../../fleet-server/src/db/database.js'
import { ALL_CABINETS } from '../../../fleet-server/src/db/index.js'
import { createForwardingService, createSender, createSyncMarks, DEFAULT_FORWARDING } from '../../../fleet-server/src/forwarding/index.js'
import { createForwardingStore } from '../../../fleet-server/src/forwarding/store.js'
import { chainHeads } from '../../../fleet-server/src/sales/forwarding-reads.js'
import { tempDir } from '../../helpers/fleet.js'
import { startPostgres, type Postgres } from '../../helpers/postgres.js'

const log = pino({ level: 'silent' })
const plan = BUNDLED_PLANS['chuzhou-2020']!
const AT = '2020-11-01T00:00:00.000Z'
const now = () => new Date('2020-11-05T00:00:00.000Z')

let pgServer: Postgres
beforeAll(async () => {
  pgServer = await startPostgres()
})
afterAll(() => pgServer?.close())

async function seed(db: FleetDb): Promise<void> {
  await db.kysely
    .insertInto('cabinets')
    .values({ cabinet_id: 'C-1', county_code: plan.counties[0]!.code, operator: null, status: 'operating', secret_hash: 'x', credentials_issued_at: AT, created_at: AT, updated_at: AT })
    .execute()
  // The last committed sale was recorded after October ended: the cabinet's October is complete.
  await db.kysely
    .insertInto('sales')
    .values({
      sale_id: 's-1', cabinet_id: 'C-1', seq: 1, sold_at: '2020-11-01T01:00:00.000Z', sold_on: '2020-11-01', recorded_at: '2020-11-01T01:00:00.000Z',
      received_at: '2020-11-01T01:00:05.000Z', payment: 'wechat', total_fen: 100, lines: '[]', prev_hash: 'h0', hash: 'h1',
    })
    .execute()
  await db.kysely.insertInto('cabinet_sales').values({ cabinet_id: 'C-1', sales_count: 1, amount_fen: 100, last_seq: 1, last_hash: 'h1', last_sale_at: AT, chain_status: 'ok' }).execute()
}

async function raceOn(db: FleetDb) {
  await seed(db)
  const store = createForwardingStore(db)
  let october = { salesCount: 1, amountFen: 100, certifiedFen: 100 }
  let duringCorrection: (() => Promise<void>) | null = null
  const figures = {
    months: async () => [{ cabinetId: 'C-1', countyCode: plan.counties[0]!.code, day: '2020-10', ...october }],
    days: async () => [],
    async certifiedLinesIn(_range: unknown, periods: readonly unknown[]) {
      await duringCorrection?.()
      return periods.map(() => [])
    },
  }
  const svc = await createForwardingService({
    db,
    store,
    cabinets: { ids: () => cabinetIds(db.kysely), inScope: (s) => cabinetsInScope(db.kysely, s), owners: (ids) => cabinetOwners(db.kysely, ids) },
    figures,
    // judge and threshold read only the plan.
    compliance: createComplianceService({ store: undefined as never, plan: () => plan }),
    marks: createSyncMarks({ db, store, chains: (r) => chainHeads(db.kysely, r), now }),
    sender: createSender({ ...DEFAULT_FORWARDING, url: null, secret: null }, db, store, now, log),
    plan: () => plan,
    now,
    log,
    platformConfigured: false,
    intervalMs: 0,
    debounceMs: 0,
  })
  try {
    const first = await svc.run()
    const [report] = await store.pendingBatches()
    // October's figures change (a late sale), and while the pass builds the correction the platform refuses the report.
    october = { salesCount: 2, amountFen: 300, certifiedFen: 300 }
    duringCorrection = async () => {
      duringCorrection = null
      await db.transaction((tx) => store.markFailed(tx, report!, 401, 'BAD_SIGNATURE', AT))
    }
    const second = await svc.run()
    return {
      first: first.queued,
      second: { queued: second.queued, corrections: second.corrections },
      period: [...(await store.periods(ALL_CABINETS)).values()].map((p) => ({ state: p.state, revision: p.revision, sentFigures: p.sentFigures })),
      pending: (await store.pendingBatches()).map((b) => b.batchKey),
      failed: (await store.failedBatches()).map((b) => b.batchKey),
    }
  } finally {
    await svc.close()
  }
}

describe('a forwarding pass racing the sender', () => {
  it('leaves a period the platform refused during the pass as failed, with no correction of it', async () => {
    const lite = await openFleetDb({ dialect: 'sqlite', dataDir: await tempDir() }, log)
    const pg = await openFleetDb({ dialect: 'postgres', url: await pgServer.newDatabase('pass_race') }, log)
    try {
      const a = await raceOn(lite)
      const key = `${plan.region.code}-C-1-2020-10-r0`
      expect(a).toEqual({
        first: 1,
        second: { queued: 0, corrections: 0 },
        period: [{ state: 'failed', revision: 0, sentFigures: { salesCount: 1, amountFen: 100, certifiedFen: 100 } }],
        pending: [],
        failed: [key],
      })
      expect(await raceOn(pg)).toEqual(a)
    } finally {
      await lite.close()
      await pg.close()
    }
  })
})
