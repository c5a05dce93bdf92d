// The sales store on both engines (issue 13): the same ticks — good batches,
// a conflict, an unknown cabinet, a batch after a failure in the same tick,
// reused sale ids (stored before, earlier in the tick, in a failed batch) and
// a tampered chain — committed on SQLite and on PostgreSQL give the same
// TickResult, rows and aggregates. PostgreSQL's reuse check holds with two
// servers writing one cabinet (no cached id ceiling there). On SQLite the
// tick writes only the sales and the sales fold (fold.ts) the rest, before
// the next read: the same rows result, and the flags a tick's fold wrote
// stand for its `reused`.
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openFleetDb, type FleetDb } from '../../../fleet-server/src/db/database.js'
import { aggregate, type TickAggregates } from '../../../fleet-server/src/sales/aggregate.js'
import { startSalesFold, type SalesFold } from '../../../fleet-server/src/sales/fold.js'
import { createSaleFlagStore } from '../../../fleet-server/src/sales/flags.js'
import { createSalesStore, type SalesStore, type TickResult, type TickWrite } from '../../../fleet-server/src/sales/store.js'
import type { BatchWrite, SaleRecord } from '../../../fleet-server/src/sales/types.js'
import { tempDir } from '../../helpers/fleet.js'
import { startPostgres, type Postgres } from '../../helpers/postgres.js'
import { sqlRows, sqlRun } from '../../helpers/test-db.js'

const log = pino({ level: 'silent' })
const at = '2020-10-01T01:00:00.000Z'

/** A sale; `id` names its saleId (so two sales can share one), `day` its Shanghai date. */
function sale(seq: number, id: number, day = '2020-10-01', lines: Array<[string, number, number]> = [['X', 1, 500]]): SaleRecord {
  const soldAt = `${day}T0${seq % 10}:00:00.000Z`
  const l = lines.map(([sku, qty, unitPriceFen]) => ({ sku, qty, unitPriceFen }))
  return {
    saleId: `00000000-0000-7000-8000-${String(id).padStart(12, '0')}`,
    seq,
    soldAt,
    soldAtMs: Date.parse(soldAt),
    soldOn: day,
    recordedAt: soldAt,
    recordedAtMs: Date.parse(soldAt),
    payment: 'wechat',
    totalFen: l.reduce((t, x) => t + x.qty * x.unitPriceFen, 0),
    lines: l,
    linesJson: JSON.stringify(l),
    prevHash: `h${seq - 1}`,
    hash: `h${seq}`,
    skewFlag: seq % 3 === 0 ? 1 : 0,
  }
}
const batch = (cabinetId: string, ...sales: SaleRecord[]): BatchWrite => ({ cabinetId, receivedAt: at, sales })

/** A TickResult as plain data, maps as sorted entry lists; `reused` as found (see reusedBy). */
const plain = (r: TickResult, reused: unknown) => ({
  failed: [...r.failed.entries()],
  reused,
  aggregates: plainAgg(r.aggregates),
})
const plainAgg = (a: TickAggregates) => ({
  cabinets: [...a.cabinets.entries()].sort(),
  days: [...a.days.entries()].sort(),
  skus: [...a.skus.entries()].sort(),
})

async function tables(db: FleetDb) {
  return {
    sales: await sqlRows(db, 'SELECT sale_id, cabinet_id, seq, sold_at, sold_on, recorded_at, received_at, payment, total_fen, lines, prev_hash, hash, skew_flag FROM sales ORDER BY cabinet_id, seq'),
    cabinetSales: await sqlRows(db, 'SELECT * FROM cabinet_sales ORDER BY cabinet_id'),
    days: await sqlRows(db, 'SELECT * FROM cabinet_day_sales ORDER BY cabinet_id, day'),
    skus: await sqlRows(db, 'SELECT * FROM cabinet_day_sku_sales ORDER BY cabinet_id, day, sku'),
    flags: await sqlRows(db, 'SELECT kind, cabinet_id, seq, sale_id, earlier_seq, sold_on, earlier_sold_on, flagged_at, resolved_at FROM sale_flags ORDER BY cabinet_id, seq'),
  }
}

async function addCabinets(db: FleetDb, ...ids: string[]): Promise<void> {
  for (const id of ids) {
    await sqlRun(db, `INSERT INTO cabinets (cabinet_id, county_code, operator, status, secret_hash, credentials_issued_at, created_at, updated_at)
                      VALUES (?, '341125', NULL, 'operating', 'x', ?, ?, ?)`, id, at, at, at)
  }
}

const commit = async (db: FleetDb, store: SalesStore, tick: TickWrite, fold?: SalesFold) => {
  const r = await db.transaction((tx) => store.commitTick(tx, tick))
  if (r.deferred) fold!.committed(r.deferred.rows, r.deferred.batches)
  return r
}

/** The reuses a committed tick flagged: its result's on PostgreSQL; on SQLite the flags its fold added after flag `afterId`. */
async function reusedBy(db: FleetDb, r: TickResult, afterId: number) {
  if (!r.deferred) return r.reused
  const rows = await sqlRows<{ cabinet_id: string; seq: number; sale_id: string; earlier_seq: number }>(
    db, 'SELECT cabinet_id, seq, sale_id, earlier_seq FROM sale_flags WHERE flag_id > ? ORDER BY flag_id', afterId)
  return rows.map((f) => ({ cabinetId: f.cabinet_id, seq: f.seq, saleId: f.sale_id, earlierSeq: f.earlier_seq }))
}
const lastFlagId = async (db: FleetDb) => (await sqlRows<{ id: number | null }>(db, 'SELECT max(flag_id) AS id FROM sale_flags'))[0]?.id ?? 0

// The ticks, in order; each one's expected outcome is asserted on SQLite and PostgreSQL alike.
const TICKS: Array<{ name: string; tick: TickWrite; failed: Array<[number, string]>; reused: Array<[string, number, number]> }> = [
  {
    name: 'good batches of two cabinets, several days and skus',
    tick: {
      batches: [
        batch('C-1', sale(1, 101), sale(2, 102, '2020-10-02', [['X', 2, 500], ['Y', 1, 300]])),
        batch('C-2', sale(1, 201)),
        batch('C-1', sale(3, 103, '2020-10-02')),
      ],
      tampered: [],
    },
    failed: [],
    reused: [],
  },
  {
    name: 'a conflict, a batch after it, an unknown cabinet, a reuse of a stored id and a tampered chain',
    tick: {
      batches: [
        batch('C-1', sale(3, 103)), // seq 3 is stored: conflict
        batch('C-1', sale(4, 104)), // after_failure
        batch('NOBODY', sale(1, 901)), // unknown_cabinet
        batch('C-2', sale(2, 201, '2020-10-03')), // reuses C-2's seq 1 id: stored and flagged
        batch('C-2', sale(3, 203)),
      ],
      tampered: [{ cabinetId: 'C-1', at: '2020-10-05T00:00:00.000Z' }],
    },
    failed: [[0, 'conflict'], [1, 'after_failure'], [2, 'unknown_cabinet']],
    reused: [['C-2', 2, 1]],
  },
  {
    name: 'reuses within one tick: in the same batch, and across batches; a failed batch flags nothing',
    tick: {
      batches: [
        batch('C-1', sale(4, 150), sale(5, 150)), // seq 5 reuses seq 4's id (same batch)
        batch('C-2', sale(4, 250)),
        batch('C-2', sale(5, 250)), // reuses seq 4 of the previous batch
        batch('C-3', sale(1, 101)), // another cabinet's id: no flag (ids are per cabinet)
        batch('NOBODY', sale(1, 901), sale(2, 901)),
      ],
      tampered: [],
    },
    failed: [[4, 'unknown_cabinet']],
    reused: [['C-1', 5, 4], ['C-2', 5, 4]],
  },
  {
    name: 'an optimistic tick: reuse of an id below the cabinet ceiling, several stored copies (the first counts)',
    tick: {
      batches: [batch('C-1', sale(6, 102)), batch('C-1', sale(7, 150))],
      tampered: [{ cabinetId: 'C-2', at: '2020-10-06T00:00:00.000Z' }],
    },
    failed: [],
    reused: [['C-1', 6, 2], ['C-1', 7, 4]],
  },
]

describe('sales store on SQLite and PostgreSQL', () => {
  let server: Postgres
  beforeAll(async () => {
    server = await startPostgres()
  })
  afterAll(() => server?.close())

  const open = async (dialect: 'sqlite' | 'postgres', name: string): Promise<FleetDb> =>
    dialect === 'sqlite' ? openFleetDb({ dialect, dataDir: await tempDir() }, log) : openFleetDb({ dialect, url: await server.newDatabase(name) }, log)

  it('gives the same results, rows and aggregates for the same ticks', async () => {
    const outcomes: Record<string, unknown> = {}
    for (const dialect of ['sqlite', 'postgres'] as const) {
      const db = await open(dialect, 'same_ticks')
      const fold = dialect === 'sqlite' ? startSalesFold({ db, writers: [], log }) : undefined
      try {
        await addCabinets(db, 'C-1', 'C-2', 'C-3')
        const store = createSalesStore(db)
        const results = []
        for (const t of TICKS) {
          const before = await lastFlagId(db)
          const r = await commit(db, store, t.tick, fold)
          expect(Boolean(r.deferred), 'only SQLite leaves the derived writes to the fold').toBe(dialect === 'sqlite')
          const reused = await reusedBy(db, r, before)
          expect([...r.failed.entries()], `${dialect}: ${t.name}`).toEqual(t.failed)
          expect(reused.map((x) => [x.cabinetId, x.seq, x.earlierSeq]), `${dialect}: ${t.name}`).toEqual(t.reused)
          // The aggregates handed to other domains are those of the committed batches only.
          const committed = t.tick.batches.filter((_, i) => !r.failed.has(i))
          expect(plainAgg(r.aggregates)).toEqual(plainAgg(aggregate(committed)))
          results.push(plain(r, reused))
        }
        const rows = await tables(db)
        outcomes[dialect] = { results, rows, heads: [...(await store.loadChainHeads()).entries()].sort(), totals: [...(await store.totals(['C-1', 'C-2', 'C-3', 'NOBODY'])).entries()] }
        // Spot checks of what the rows must say (the engines agreeing on a wrong answer is not enough).
        expect(rows.cabinetSales).toMatchObject([
          { cabinet_id: 'C-1', sales_count: 7, last_seq: 7, chain_status: 'tampered', tampered_count: 1, tampered_at: '2020-10-05T00:00:00.000Z', skewed_count: 2 },
          { cabinet_id: 'C-2', sales_count: 5, last_seq: 5, chain_status: 'tampered', tampered_count: 1 },
          { cabinet_id: 'C-3', sales_count: 1, last_seq: 1, chain_status: 'ok' },
        ])
        expect(rows.sales.filter((s) => s.cabinet_id === 'NOBODY')).toEqual([])
        expect(rows.flags.map((f) => [f.cabinet_id, f.seq, f.earlier_seq, f.sold_on, f.earlier_sold_on])).toEqual([
          ['C-1', 5, 4, '2020-10-01', '2020-10-01'],
          ['C-1', 6, 2, '2020-10-01', '2020-10-02'],
          ['C-1', 7, 4, '2020-10-01', '2020-10-01'],
          ['C-2', 2, 1, '2020-10-03', '2020-10-01'],
          ['C-2', 5, 4, '2020-10-01', '2020-10-01'],
        ])
        expect(rows.skus).toContainEqual({ cabinet_id: 'C-1', day: '2020-10-02', sku: 'X', qty: 3, amount_fen: 1500 })
        expect(await store.list('C-1', 5, 10)).toMatchObject([{ seq: 6, lines: [{ sku: 'X', qty: 1, unitPriceFen: 500 }] }, { seq: 7 }])
        expect(await store.saleHash('C-1', 3)).toBe('h3')
        expect(await store.chainHead('C-2')).toEqual({ seq: 5, hash: 'h5' })
        expect(await store.chainHead('NOBODY')).toBeNull()
        // The flags those ticks wrote, through the sale flag store.
        const flagStore = createSaleFlagStore(db)
        const all = { countyCode: null, operator: null, cabinetId: null, state: 'all' as const, limit: 10 }
        const listed = await flagStore.list(all)
        expect(listed.total).toBe(5)
        expect(listed.flags.map((f) => [f.cabinetId, f.seq])).toEqual([['C-1', 7], ['C-1', 6], ['C-2', 5], ['C-1', 5], ['C-2', 2]]) // newest first
        const c2 = listed.flags.find((f) => f.cabinetId === 'C-2' && f.seq === 2)!
        expect(c2).toMatchObject({ kind: 'SALE_ID_REUSED', countyCode: '341125', operator: null, earlierSeq: 1, soldOn: '2020-10-03', earlierSoldOn: '2020-10-01', resolution: null })
        expect(await flagStore.resolve(c2.flagId, 'genuine', '核实无误', 'county-1', '2020-10-07T00:00:00.000Z')).toBe(true)
        expect(await flagStore.resolve(c2.flagId, 'duplicate', 'again', 'county-1', '2020-10-08T00:00:00.000Z')).toBe(false)
        expect(await flagStore.get(c2.flagId)).toMatchObject({ resolution: 'genuine', note: '核实无误', resolvedBy: 'county-1', resolvedAt: '2020-10-07T00:00:00.000Z' })
        expect(await flagStore.get(999_999)).toBeNull()
        expect((await flagStore.list({ ...all, state: 'open', limit: 2 })).flags.length).toBe(2)
        expect((await flagStore.list({ ...all, state: 'open' })).total).toBe(4)
        expect((await flagStore.list({ ...all, state: 'resolved', cabinetId: 'C-2' })).flags.map((f) => f.seq)).toEqual([2])
        expect((await flagStore.list({ ...all, countyCode: '999999' })).total).toBe(0)
        expect((await flagStore.list({ ...all, operator: 'someone' })).total).toBe(0)
        const holds = await flagStore.holds({ after: 'C-1', through: 'C-2' })
        expect([...holds.entries()].map(([id, l]) => [id, l.map((h) => [h.seq, h.earlierSeq, h.days])])).toEqual([['C-2', [[5, 4, ['2020-10-01']]]]])
        expect([...(await flagStore.holds({ after: '', through: 'C-1' })).get('C-1')!.map((h) => h.days)]).toEqual([['2020-10-01'], ['2020-10-01', '2020-10-02'], ['2020-10-01']])
        expect((await flagStore.open('341125')).map((f) => [f.cabinetId, f.seq])).toEqual([['C-1', 5], ['C-2', 5], ['C-1', 6], ['C-1', 7]])
        expect(await flagStore.open('999999')).toEqual([])
      } finally {
        await fold?.close()
        await db.close()
      }
    }
    expect(outcomes.postgres).toEqual(outcomes.sqlite)
  })

  it('writes only inside, and rolls back with, the caller’s transaction', async () => {
    for (const dialect of ['sqlite', 'postgres'] as const) {
      const db = await open(dialect, 'rollback')
      try {
        await addCabinets(db, 'C-1')
        const store = createSalesStore(db)
        // A failed batch first, so PostgreSQL and SQLite both take the per-batch path.
        const tick = { batches: [batch('NOBODY', sale(1, 1)), batch('C-1', sale(1, 11), sale(2, 11))], tampered: [] }
        // Outside a transaction it refuses rather than commit on its own.
        await expect(store.commitTick(db.kysely, { batches: [batch('C-1', sale(1, 11))], tampered: [] })).rejects.toThrow()
        expect(await sqlRows(db, 'SELECT seq FROM sales'), dialect).toEqual([])
        await expect(db.transaction(async (tx) => {
          await store.commitTick(tx, tick)
          throw new Error('a tick writer failed')
        })).rejects.toThrow('a tick writer failed')
        expect(await tables(db), dialect).toEqual({ sales: [], cabinetSales: [], days: [], skus: [], flags: [] })
      } finally {
        await db.close()
      }
    }
  })

  it('flags a reused id on PostgreSQL when another server wrote the earlier sale', async () => {
    const url = await server.newDatabase('two_servers')
    const [a, b] = [await openFleetDb({ dialect: 'postgres', url }, log), await openFleetDb({ dialect: 'postgres', url }, log)]
    try {
      await addCabinets(a, 'C-1')
      const [sa, sb] = [createSalesStore(a), createSalesStore(b)]
      await commit(b, sb, { batches: [batch('C-1', sale(1, 5))], tampered: [] }) // b has seen id 5
      await commit(a, sa, { batches: [batch('C-1', sale(2, 9))], tampered: [] }) // a writes id 9
      const r = await commit(b, sb, { batches: [batch('C-1', sale(3, 9))], tampered: [] }) // b reuses 9
      expect(r.reused).toEqual([{ cabinetId: 'C-1', seq: 3, saleId: sale(3, 9).saleId, earlierSeq: 2 }])
    } finally {
      await a.close()
      await b.close()
    }
  })
})
