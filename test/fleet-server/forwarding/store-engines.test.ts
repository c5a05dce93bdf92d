// The forwarding store, sync marks and the cabinets/sales reads forwarding
// uses, on SQLite and PostgreSQL (issue 13): each check runs the same calls on
// a migrated SQLite file and a migrated PostgreSQL database, asserts what the
// result must be, and that PostgreSQL's equals SQLite's.
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HeartbeatMsg } from '../../../shared/src/index.js'
import { cabinetIds, cabinetOwners, cabinetsInScope } from '../../../fleet-server/src/cabinets/forwarding-reads.js'
import { openFleetDb, type FleetDb } from '../../../fleet-server/src/db/database.js'
import { ALL_CABINETS, type CabinetRange } from '../../../fleet-server/src/db/index.js'
import { createForwardingStore, type ForwardingStore, type NewBatch, type OutboxRow, type PeriodRow } from '../../../fleet-server/src/forwarding/store.js'
import { createSyncMarks } from '../../../fleet-server/src/forwarding/sync-marks.js'
import { chainHeads } from '../../../fleet-server/src/sales/forwarding-reads.js'
import { tempDir } from '../../helpers/fleet.js'
import { startPostgres, type Postgres } from '../../helpers/postgres.js'
import { sqlRows } from '../../helpers/test-db.js'

const log = pino({ level: 'silent' })
const AT = '2020-11-01T00:00:00.000Z'

let pgServer: Postgres
let dbNo = 0
beforeAll(async () => {
  pgServer = await startPostgres()
})
afterAll(() => pgServer?.close())

/** Runs `fn` on a fresh SQLite database and a fresh PostgreSQL one; returns [sqlite, postgres]. */
async function onBoth<T>(fn: (db: FleetDb, store: ForwardingStore) => Promise<T>): Promise<[T, T]> {
  const lite = await openFleetDb({ dialect: 'sqlite', dataDir: await tempDir() }, log)
  const pg = await openFleetDb({ dialect: 'postgres', url: await pgServer.newDatabase(`fwd_${++dbNo}`) }, log)
  try {
    await seed(lite)
    await seed(pg)
    return [await fn(lite, createForwardingStore(lite)), await fn(pg, createForwardingStore(pg))]
  } finally {
    await lite.close()
    await pg.close()
  }
}

// Ids whose binary order differs from a locale's: upper case before lower, '1' before '9'.
const CABINETS = [
  { id: 'C-a', county: '440101', operator: 'op-1' },
  { id: 'C-B', county: '440101', operator: null },
  { id: 'C-10', county: '440102', operator: 'op-1' },
  { id: 'C-9', county: '440102', operator: 'op-2' },
]

async function seed(db: FleetDb): Promise<void> {
  await db.kysely
    .insertInto('cabinets')
    .values(CABINETS.map((c) => ({ cabinet_id: c.id, county_code: c.county, operator: c.operator, status: 'operating', secret_hash: 'x', credentials_issued_at: AT, created_at: AT, updated_at: AT })))
    .execute()
  // C-10: two committed sales, the head is seq 2; C-9: a head row whose sale is missing (the LEFT JOIN's null).
  const sale = (seq: number) => ({
    sale_id: `s-${seq}`, cabinet_id: 'C-10', seq, sold_at: `2020-10-0${seq}T02:00:00.000Z`, sold_on: `2020-10-0${seq}`,
    recorded_at: `2020-10-0${seq}T02:00:01.000Z`, received_at: `2020-10-0${seq}T02:00:05.000Z`, payment: 'wechat', total_fen: 100, lines: '[]', prev_hash: `h${seq - 1}`, hash: `h${seq}`,
  })
  await db.kysely.insertInto('sales').values([sale(1), sale(2)]).execute()
  await db.kysely
    .insertInto('cabinet_sales')
    .values([
      { cabinet_id: 'C-10', sales_count: 2, amount_fen: 200, last_seq: 2, last_hash: 'h2', last_sale_at: sale(2).sold_at, chain_status: 'ok' },
      { cabinet_id: 'C-9', sales_count: 5, amount_fen: 500, last_seq: 5, last_hash: 'h5', last_sale_at: null, chain_status: 'tampered' },
    ])
    .execute()
}

const period = (cabinetId: string, periodId: string, over: Partial<PeriodRow> = {}): PeriodRow => ({
  cabinetId, periodId, periodKind: 'month', from: `${periodId}-01`, to: `${periodId}-28`, state: 'held', reason: 'NOT_COMPLIANT',
  reasonDetail: { shareBp: 1200 }, revision: 0, batchKey: null, sentFigures: null, ...over,
})
const batch = (cabinetId: string, periodId: string, revision = 0, over: Partial<NewBatch> = {}): NewBatch => ({
  batchKey: `K-${cabinetId}-${periodId}-r${revision}`, kind: revision === 0 ? 'report' : 'correction', cabinetId, periodId, revision, body: `{"records":[]}`, ...over,
})
const keys = (rows: readonly OutboxRow[]) => rows.map((r) => r.batchKey)

describe('forwarding store on SQLite and PostgreSQL', () => {
  it('reads cabinet ids in binary order, scopes by county and operator, and finds owners', async () => {
    const [lite, pg] = await onBoth(async (db) => ({
      ids: await cabinetIds(db.kysely),
      county: (await cabinetsInScope(db.kysely, { countyCode: '440102' }).orderBy('cabinet_id').execute()).map((r) => r.cabinet_id),
      operator: (await cabinetsInScope(db.kysely, { operator: 'op-1' }).orderBy('cabinet_id').execute()).map((r) => r.cabinet_id),
      owners: [...(await cabinetOwners(db.kysely, ['C-B', 'C-9', 'C-B', 'nope']))].sort(),
      // access/policy.ts gives a county user without a county '\u0000none': it must match nothing, not fail.
      noCounty: (await cabinetsInScope(db.kysely, { countyCode: '\u0000none' }).execute()).length,
    }))
    expect(lite).toEqual({
      ids: ['C-10', 'C-9', 'C-B', 'C-a'],
      county: ['C-10', 'C-9'],
      operator: ['C-10', 'C-a'],
      owners: [['C-9', { countyCode: '440102', operator: 'op-2' }], ['C-B', { countyCode: '440101', operator: null }]],
      noCounty: 0,
    })
    expect(pg).toEqual(lite)
  })

  it('saves, updates and reads periods by cabinet range; held lists and counts by scope', async () => {
    const [lite, pg] = await onBoth(async (db, store) => {
      await db.transaction(async (tx) => {
        await store.savePeriod(tx, period('C-a', '2020-09'), AT)
        await store.savePeriod(tx, period('C-10', '2020-09', { reason: 'INCOMPLETE_SYNC', reasonDetail: null }), AT)
        await store.savePeriod(tx, period('C-9', '2020-09'), AT)
        await store.savePeriod(tx, period('C-9', '2020-10'), AT)
      })
      // An upsert: the period is queued now, with its figures.
      await db.transaction((tx) => store.savePeriod(tx, period('C-9', '2020-10', { state: 'queued', reason: null, reasonDetail: null, batchKey: 'K', sentFigures: { salesCount: 1, amountFen: 2, certifiedFen: 3 } }), AT))
      const range: CabinetRange = { after: 'C-10', through: 'C-B' } // C-9 and C-B
      const county = cabinetsInScope(db.kysely, { countyCode: '440102' })
      return {
        inRange: [...(await store.periods(range)).values()],
        all: [...(await store.periods(ALL_CABINETS)).keys()].sort(),
        held: (await store.held()).map((p) => `${p.cabinetId}/${p.periodId}/${p.reason}`),
        heldInCounty: (await store.held(county)).map((p) => `${p.cabinetId}/${p.periodId}`),
        heldCount: await store.heldCount(),
        heldCountOperator: await store.heldCount(cabinetsInScope(db.kysely, { operator: 'op-1' })),
      }
    })
    expect(lite).toEqual({
      inRange: [
        period('C-9', '2020-09'),
        period('C-9', '2020-10', { state: 'queued', reason: null, reasonDetail: null, batchKey: 'K', sentFigures: { salesCount: 1, amountFen: 2, certifiedFen: 3 } }),
      ],
      all: ['C-10\u00002020-09', 'C-9\u00002020-09', 'C-9\u00002020-10', 'C-a\u00002020-09'],
      held: ['C-10/2020-09/INCOMPLETE_SYNC', 'C-9/2020-09/NOT_COMPLIANT', 'C-a/2020-09/NOT_COMPLIANT'],
      heldInCounty: ['C-10/2020-09', 'C-9/2020-09'],
      heldCount: 3,
      heldCountOperator: 2,
    })
    expect(pg).toEqual(lite)
  })

  it('queues a batch once per key and once per cabinet, period and revision; commits it with its period or not at all', async () => {
    const [lite, pg] = await onBoth(async (db, store) => {
      const first = await db.transaction(async (tx) => {
        const ok = await store.enqueue(tx, batch('C-a', '2020-09'), '2020-11-01T00:00:02.000Z')
        await store.savePeriod(tx, period('C-a', '2020-09', { state: 'queued', reason: null, reasonDetail: null, batchKey: 'K-C-a-2020-09-r0' }), AT)
        return ok
      })
      const sameKey = await db.transaction((tx) => store.enqueue(tx, batch('C-a', '2020-09', 0, { body: 'other' }), AT))
      const sameRevision = await db.transaction((tx) => store.enqueue(tx, batch('C-a', '2020-09', 0, { batchKey: 'another-key' }), AT))
      await db.transaction((tx) => store.enqueue(tx, batch('C-9', '2020-09'), '2020-11-01T00:00:01.000Z'))
      await db.transaction((tx) => store.enqueue(tx, batch('C-a', '2020-09', 1), '2020-11-01T00:00:02.000Z'))
      // A pass that fails mid-slice leaves neither its batch nor its period.
      const rolledBack = await db
        .transaction(async (tx) => {
          await store.enqueue(tx, batch('C-B', '2020-09'), AT)
          await store.savePeriod(tx, period('C-B', '2020-09', { state: 'queued', reason: null, reasonDetail: null }), AT)
          throw new Error('crash')
        })
        .catch((err: Error) => err.message)
      return {
        first,
        sameKey,
        sameRevision,
        rolledBack,
        pending: await store.pendingBatches(),
        body: (await store.outbox('K-C-a-2020-09-r0'))?.body,
        missing: await store.outbox('nope'),
        leftByRollback: [...(await store.periods({ after: 'C-a', through: 'C-a' })).keys(), ...(await store.periods({ after: 'C-9', through: 'C-B' })).keys()],
      }
    })
    expect(lite).toMatchObject({ first: true, sameKey: false, sameRevision: false, rolledBack: 'crash', body: '{"records":[]}', missing: null, leftByRollback: [] })
    // Oldest first, then by key.
    expect(keys(lite.pending)).toEqual(['K-C-9-2020-09-r0', 'K-C-a-2020-09-r0', 'K-C-a-2020-09-r1'])
    expect(lite.pending[2]).toEqual({ batchKey: 'K-C-a-2020-09-r1', kind: 'correction', cabinetId: 'C-a', periodId: '2020-09', revision: 1, body: '{"records":[]}', state: 'pending', attempts: 0, lastStatus: null, lastError: null })
    expect(pg).toEqual(lite)
  })

  it('queues batches and saves periods many rows a statement, past the rows a statement takes', async () => {
    const [lite, pg] = await onBoth(async (db, store) => {
      const months = Array.from({ length: 1201 }, (_, i) => `${2000 + Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, '0')}`)
      const queued = await db.transaction(async (tx) => {
        const n = await store.enqueueAll(tx, months.map((m) => batch('C-a', m)), AT)
        await store.savePeriods(tx, months.map((m) => period('C-a', m)), AT)
        return n
      })
      const again = await db.transaction((tx) => store.enqueueAll(tx, [batch('C-a', months[0]!), batch('C-a', months[1200]!), batch('C-B', '2020-01')], AT))
      return { queued, again, pending: (await store.pendingBatches()).length, periods: (await store.periods(ALL_CABINETS)).size, held: await store.heldCount() }
    })
    expect(lite).toEqual({ queued: 1201, again: 1, pending: 1202, periods: 1201, held: 1201 })
    expect(pg).toEqual(lite)
  })

  it('settles batches: delivered, retried, failed with its period, requeued once with a record; counts and lists by scope', async () => {
    const [lite, pg] = await onBoth(async (db, store) => {
      await db.transaction(async (tx) => {
        for (const [c, p, at] of [['C-a', '2020-08', 1], ['C-a', '2020-09', 2], ['C-10', '2020-09', 3], ['C-9', '2020-09', 4], ['C-B', '2020-09', 5]] as const) {
          await store.enqueue(tx, batch(c, p), `2020-11-01T00:00:0${at}.000Z`)
          await store.savePeriod(tx, period(c, p, { state: 'queued', reason: null, reasonDetail: null }), AT)
        }
      })
      await store.markDelivered(db.kysely, 'K-C-a-2020-08-r0', 200, AT)
      await store.markDelivered(db.kysely, 'K-C-a-2020-08-r0', 201, AT) // already delivered: no change
      for (let i = 0; i < 5; i++) await store.markRetry(db.kysely, 'K-C-a-2020-09-r0', 503, 'unavailable')
      await store.markRetry(db.kysely, 'K-C-10-2020-09-r0', 302, 'redirect to https://elsewhere')
      await store.markRetry(db.kysely, 'K-C-B-2020-09-r0', null, 'ECONNRESET')
      const failedRow = (await store.outbox('K-C-9-2020-09-r0'))!
      await db.transaction((tx) => store.markFailed(tx, failedRow, 401, 'BAD_SIGNATURE', AT))
      const beforeRequeue = {
        counts: Object.fromEntries(await store.counts()),
        countsCounty: Object.fromEntries(await store.counts(cabinetsInScope(db.kysely, { countyCode: '440101' }))),
        failed: await store.failedBatches(),
        failedOperator1: keys(await store.failedBatches(cabinetsInScope(db.kysely, { operator: 'op-1' }))),
        retrying: keys(await store.retrying()),
        retryingOperator1: keys(await store.retrying(cabinetsInScope(db.kysely, { operator: 'op-1' }))),
        troubled: (await store.troubled(5)).map((b) => `${b.batchKey}:${b.attempts}:${b.lastStatus}`),
        failedPeriod: (await store.periods({ after: 'C-10', through: 'C-9' })).get('C-9\u00002020-09')?.state,
      }
      const failed = (await store.outbox('K-C-9-2020-09-r0'))!
      const requeued = await db.transaction((tx) => store.requeueFailed(tx, failed, 'admin', '2020-11-02T00:00:00.000Z'))
      const again = await db.transaction((tx) => store.requeueFailed(tx, failed, 'admin', '2020-11-02T00:00:00.000Z'))
      return {
        ...beforeRequeue,
        requeued,
        again,
        afterRequeue: await store.outbox('K-C-9-2020-09-r0'),
        requeuedPeriod: (await store.periods({ after: 'C-10', through: 'C-9' })).get('C-9\u00002020-09')?.state,
        retries: await sqlRows(db, 'SELECT batch_key, at, by_user, previous_status, previous_error FROM forwarding_retries'),
        delivered: await sqlRows(db, "SELECT batch_key, last_status, attempts, delivered_at FROM forwarding_outbox WHERE state = 'delivered'"),
      }
    })
    expect(lite).toEqual({
      counts: { 'report:delivered': 1, 'report:pending': 3, 'report:failed': 1 },
      countsCounty: { 'report:delivered': 1, 'report:pending': 2 },
      failed: [{ batchKey: 'K-C-9-2020-09-r0', kind: 'report', cabinetId: 'C-9', periodId: '2020-09', revision: 0, body: '{"records":[]}', state: 'failed', attempts: 1, lastStatus: 401, lastError: 'BAD_SIGNATURE' }],
      failedOperator1: [],
      retrying: ['K-C-a-2020-09-r0', 'K-C-10-2020-09-r0', 'K-C-B-2020-09-r0'],
      retryingOperator1: ['K-C-a-2020-09-r0', 'K-C-10-2020-09-r0'],
      // Five failures in a row, or a redirect at once; one network error is neither.
      troubled: ['K-C-a-2020-09-r0:5:503', 'K-C-10-2020-09-r0:1:302'],
      failedPeriod: 'failed',
      requeued: true,
      again: false,
      afterRequeue: expect.objectContaining({ state: 'pending', attempts: 1, lastStatus: 401 }),
      requeuedPeriod: 'queued',
      retries: [{ batch_key: 'K-C-9-2020-09-r0', at: '2020-11-02T00:00:00.000Z', by_user: 'admin', previous_status: 401, previous_error: 'BAD_SIGNATURE' }],
      delivered: [{ batch_key: 'K-C-a-2020-08-r0', last_status: 200, attempts: 1, delivered_at: AT }],
    })
    expect(pg).toEqual(lite)
  })

  it('reads chain heads and keeps sync marks: stored, moved forward by the chain and by heartbeats, never back', async () => {
    const [lite, pg] = await onBoth(async (db, store) => {
      const heads = await chainHeads(db.kysely, ALL_CABINETS)
      let now = new Date('2020-10-03T00:00:00.000Z')
      const marks = createSyncMarks({ db, store, chains: (r) => chainHeads(db.kysely, r), now: () => now })
      const hb: HeartbeatMsg = HeartbeatMsg.parse({
        v: 1, type: 'heartbeat', cabinetId: 'C-9', sentAt: '2020-10-02T12:00:00.000Z', lastSeq: 5, lastAckedSeq: 5, pending: 0,
        oldestPendingAgeS: 0, catalogVersion: null, uptimeS: 60, agentVersion: 'test',
      })
      marks.heartbeat('C-9', hb)
      const first = Object.fromEntries([...(await marks.compute(ALL_CABINETS))].map(([id, v]) => [id, v.mark?.syncedThrough ?? null]))
      // A later computation with nothing new keeps what is stored; a later heartbeat moves C-9's mark on.
      now = new Date('2020-10-04T00:00:00.000Z')
      marks.heartbeat('C-9', { ...hb, sentAt: '2020-10-03T12:00:00.000Z' })
      const second = Object.fromEntries([...(await marks.compute({ after: 'C-10', through: 'C-a' }))].map(([id, v]) => [id, v.mark]))
      // Another server that read C-10's mark before it moved cannot move it back.
      await db.transaction((tx) => store.saveSyncMarks(tx, [{ cabinetId: 'C-10', syncedThrough: '2020-10-01T00:00:00.000Z', source: 'heartbeat' }], AT))
      // Nor in a multi-row statement (a pass slice's), which still moves another cabinet's mark on.
      await db.transaction((tx) =>
        store.saveSyncMarks(tx, [{ cabinetId: 'C-10', syncedThrough: '2020-10-02T00:00:00.000Z', source: 'chain' }, { cabinetId: 'C-9', syncedThrough: '2020-10-05T00:00:00.000Z', source: 'chain' }], AT),
      )
      return { heads, first, second, stored: [...(await store.syncMarks(ALL_CABINETS)).values()] }
    })
    expect(lite).toEqual({
      heads: expect.arrayContaining([
        { cabinetId: 'C-10', lastSeq: 2, chainStatus: 'ok', headRecordedAt: '2020-10-02T02:00:01.000Z', headReceivedAt: '2020-10-02T02:00:05.000Z' },
        { cabinetId: 'C-9', lastSeq: 5, chainStatus: 'tampered', headRecordedAt: null, headReceivedAt: null },
      ]),
      first: { 'C-10': '2020-10-02T02:00:01.000Z', 'C-9': '2020-10-02T12:00:00.000Z' },
      second: { 'C-9': { cabinetId: 'C-9', syncedThrough: '2020-10-03T12:00:00.000Z', source: 'heartbeat' } },
      stored: expect.arrayContaining([
        { cabinetId: 'C-10', syncedThrough: '2020-10-02T02:00:01.000Z', source: 'chain' },
        { cabinetId: 'C-9', syncedThrough: '2020-10-05T00:00:00.000Z', source: 'chain' },
      ]),
    })
    expect(lite.heads).toHaveLength(2)
    expect(lite.stored).toHaveLength(2)
    expect({ ...pg, heads: [...pg.heads].sort((a, b) => (a.cabinetId < b.cabinetId ? -1 : 1)), stored: [...pg.stored].sort((a, b) => (a.cabinetId < b.cabinetId ? -1 : 1)) }).toEqual({
      ...lite,
      heads: [...lite.heads].sort((a, b) => (a.cabinetId < b.cabinetId ? -1 : 1)),
      stored: [...lite.stored].sort((a, b) => (a.cabinetId < b.cabinetId ? -1 : 1)),
    })
  })
})
