// The sales fold (SQLite, fleet-server/src/sales/fold.ts): ticks write only
// the sales, and what is derived from them — aggregates, certified figures,
// the sale-id reuse flags — is folded in later. Whatever the interleaving of
// ticks, late reports of a tick to the fold, reads that force a fold, a
// transaction that folds and then rolls back, and crashes that lose the
// fold's memory, every read finds the derived tables exactly what the
// stored sales say. fast-check drives random histories; the expected figures
// are recomputed from the sales table itself.
import fc from 'fast-check'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { createComplianceStore, type ComplianceStore } from '../../../fleet-server/src/compliance/store.js'
import { openFleetDb, type FleetDb } from '../../../fleet-server/src/db/database.js'
import { startSalesFold, type SalesFold } from '../../../fleet-server/src/sales/fold.js'
import { createSalesStore, type SalesStore, type TickResult } from '../../../fleet-server/src/sales/store.js'
import type { BatchWrite, SaleRecord } from '../../../fleet-server/src/sales/types.js'
import { tempDir } from '../../helpers/fleet.js'
import { sqlRows, sqlRun } from '../../helpers/test-db.js'

const log = pino({ level: 'silent' })
const at = '2020-10-01T01:00:00.000Z'
const CABINETS = ['C-0', 'C-1', 'C-2', 'C-3']
const DAYS = ['2020-10-01', '2020-10-02', '2020-11-01']
const SKUS = ['A', 'B', 'C']

interface Opened {
  db: FleetDb
  store: SalesStore
  figures: ComplianceStore
  fold: SalesFold
}

async function open(dataDir: string, first: boolean): Promise<Opened> {
  const db = await openFleetDb({ dialect: 'sqlite', dataDir }, log)
  if (first) {
    for (const id of CABINETS) {
      await sqlRun(db, `INSERT INTO cabinets (cabinet_id, county_code, operator, status, secret_hash, credentials_issued_at, created_at, updated_at)
                        VALUES (?, '341125', NULL, 'operating', 'x', ?, ?, ?)`, id, at, at, at)
    }
  }
  const figures = await createComplianceStore(db, { log })
  // Never on its own timer here: the test decides when folds happen.
  const fold = startSalesFold({ db, writers: [(agg) => figures.recordFolded(agg)], log, intervalMs: 1e9, maxPendingSales: 1e9 })
  return { db, store: createSalesStore(db), figures, fold }
}

// reuse: an earlier id of the cabinet (by index), 'last': its latest id (at its ceiling), 'old': a new id below every earlier one (not a reuse), null: a new, higher id.
type BatchSpec = { cab: number; n: number; reuse: number | 'last' | 'old' | null; day: number; sku: number; bad: 'none' | 'unknown' | 'conflict' }
type Op =
  | { kind: 'tick'; batches: BatchSpec[]; report: 'now' | 'later' }
  | { kind: 'report' }
  | { kind: 'read' }
  | { kind: 'rollback' }
  | { kind: 'crash' }

const batchSpec: fc.Arbitrary<BatchSpec> = fc.record({
  cab: fc.integer({ min: 0, max: CABINETS.length - 1 }),
  n: fc.integer({ min: 1, max: 3 }),
  reuse: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat() }, { weight: 1, arbitrary: fc.constant('old' as const) }, { weight: 1, arbitrary: fc.constant('last' as const) }),
  day: fc.integer({ min: 0, max: DAYS.length - 1 }),
  sku: fc.integer({ min: 0, max: SKUS.length - 1 }),
  bad: fc.constantFrom<BatchSpec['bad']>('none', 'none', 'none', 'none', 'none', 'unknown', 'conflict'),
})
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('tick' as const), batches: fc.array(batchSpec, { minLength: 1, maxLength: 4 }), report: fc.constantFrom<'now' | 'later'>('now', 'now', 'later') }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'report' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'read' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'rollback' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'crash' as const }) },
)

/** What the derived tables must hold: recomputed from the stored sales (and, for figures, from the day aggregates). */
async function expected(db: FleetDb) {
  const sales = await sqlRows<{ cabinet_id: string; seq: number; sale_id: string; sold_at: string; sold_on: string; total_fen: number; lines: string; hash: string; skew_flag: number }>(
    db, 'SELECT cabinet_id, seq, sale_id, sold_at, sold_on, total_fen, lines, hash, skew_flag FROM sales ORDER BY cabinet_id, seq')
  const cabinets = new Map<string, { sales_count: number; amount_fen: number; skewed_count: number; last_seq: number; last_hash: string; last_sale_at: string }>()
  const days = new Map<string, number[]>()
  const skus = new Map<string, number[]>()
  const first = new Map<string, number>()
  const flags: Array<[string, number, number]> = []
  for (const s of sales) {
    const c = cabinets.get(s.cabinet_id) ?? { sales_count: 0, amount_fen: 0, skewed_count: 0, last_seq: 0, last_hash: '', last_sale_at: '' }
    c.sales_count++
    c.amount_fen += s.total_fen
    if (s.skew_flag !== 0) c.skewed_count++
    c.last_seq = s.seq
    c.last_hash = s.hash
    if (s.sold_at > c.last_sale_at) c.last_sale_at = s.sold_at
    cabinets.set(s.cabinet_id, c)
    const d = days.get(`${s.cabinet_id}|${s.sold_on}`) ?? [0, 0]
    days.set(`${s.cabinet_id}|${s.sold_on}`, [d[0]! + 1, d[1]! + s.total_fen])
    for (const l of JSON.parse(s.lines) as Array<{ sku: string; qty: number; unitPriceFen: number }>) {
      const k = skus.get(`${s.cabinet_id}|${s.sold_on}|${l.sku}`) ?? [0, 0]
      skus.set(`${s.cabinet_id}|${s.sold_on}|${l.sku}`, [k[0]! + l.qty, k[1]! + l.qty * l.unitPriceFen])
    }
    const key = `${s.cabinet_id}|${s.sale_id}`
    const earlier = first.get(key)
    if (earlier === undefined) first.set(key, s.seq)
    else flags.push([s.cabinet_id, s.seq, earlier])
  }
  return {
    cabinets: [...cabinets].map(([id, c]) => ({ cabinet_id: id, ...c })),
    days: [...days].map(([k, [n, a]]) => [k, n, a]).sort(),
    skus: [...skus].map(([k, [q, a]]) => [k, q, a]).sort(),
    flags,
    saleIds: sales.length,
  }
}

async function actual(db: FleetDb) {
  return {
    cabinets: await sqlRows(db, 'SELECT cabinet_id, sales_count, amount_fen, skewed_count, last_seq, last_hash, last_sale_at FROM cabinet_sales WHERE sales_count > 0 ORDER BY cabinet_id'),
    days: (await sqlRows<{ k: string; n: number; a: number }>(db, "SELECT cabinet_id || '|' || day AS k, sales_count AS n, amount_fen AS a FROM cabinet_day_sales")).map((r) => [r.k, r.n, r.a]).sort(),
    skus: (await sqlRows<{ k: string; q: number; a: number }>(db, "SELECT cabinet_id || '|' || day || '|' || sku AS k, qty AS q, amount_fen AS a FROM cabinet_day_sku_sales")).map((r) => [r.k, r.q, r.a]).sort(),
    flags: (await sqlRows<{ cabinet_id: string; seq: number; earlier_seq: number }>(db, 'SELECT cabinet_id, seq, earlier_seq FROM sale_flags ORDER BY cabinet_id, seq')).map((f) => [f.cabinet_id, f.seq, f.earlier_seq]),
    saleIds: (await sqlRows<{ n: number }>(db, 'SELECT count(*) AS n FROM sale_ids'))[0]!.n,
  }
}

describe('sales fold', () => {
  it('keeps every derived table exactly what the stored sales say, through late reports, rollbacks and crashes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 20 }), async (ops) => {
        const dataDir = await tempDir()
        let o = await open(dataDir, true)
        const nextSeq = CABINETS.map(() => 1)
        const ids: string[][] = CABINETS.map(() => [])
        let idCounter = 0
        let late: TickResult[] = []
        try {
          for (const step of ops) {
            if (step.kind === 'tick') {
              const planned = new Map<number, number>() // cabinet → next seq within this tick
              const batches: BatchWrite[] = step.batches.map((b) => {
                const cabinetId = b.bad === 'unknown' ? 'NOBODY' : CABINETS[b.cab]!
                let seq = planned.get(b.cab) ?? nextSeq[b.cab]!
                if (b.bad === 'conflict') seq = Math.max(1, nextSeq[b.cab]! - 1) // already stored (or, first time, taken below)
                const sales: SaleRecord[] = []
                for (let i = 0; i < b.n; i++, seq++) {
                  const own = ids[b.cab]!
                  const saleId =
                    b.reuse === 'old' && i === 0 ? `id-00000000-${String(++idCounter)}` // sorts below every id-0000000N: under the ceiling, yet unique
                    : typeof b.reuse === 'number' && own.length > 0 && i === 0 ? own[b.reuse % own.length]!
                    : b.reuse === 'last' && own.length > 0 && i === 0 ? own.at(-1)!
                    : `id-${String(++idCounter).padStart(8, '0')}`
                  const soldAt = `${DAYS[b.day]}T0${(seq % 9) + 1}:00:00.000Z`
                  const lines = [{ sku: SKUS[(b.sku + i) % SKUS.length]!, qty: 1 + (seq % 2), unitPriceFen: 100 * (1 + b.sku) }]
                  sales.push({
                    saleId, seq, soldAt, soldAtMs: Date.parse(soldAt), soldOn: DAYS[b.day]!, recordedAt: soldAt, recordedAtMs: Date.parse(soldAt),
                    payment: 'wechat', totalFen: lines[0]!.qty * lines[0]!.unitPriceFen, lines, linesJson: JSON.stringify(lines),
                    prevHash: 'p', hash: `h-${cabinetId}-${seq}`, skewFlag: seq % 4 === 0 ? 1 : 0,
                  })
                }
                if (b.bad === 'none') planned.set(b.cab, seq)
                return { cabinetId, receivedAt: at, sales }
              })
              const r = await o.db.transaction((tx) => o.store.commitTick(tx, { batches, tampered: [] }), { deferDerived: true })
              batches.forEach((b, i) => {
                if (r.failed.has(i) || b.cabinetId === 'NOBODY') return
                const cab = CABINETS.indexOf(b.cabinetId)
                for (const s of b.sales) ids[cab]!.push(s.saleId)
                nextSeq[cab] = b.sales.at(-1)!.seq + 1
              })
              expect(r.deferred).toBeDefined()
              if (step.report === 'now') o.fold.committed(r.deferred!.rows, r.deferred!.batches)
              else late.push(r)
            } else if (step.kind === 'report') {
              for (const r of late) o.fold.committed(r.deferred!.rows, r.deferred!.batches)
              late = []
            } else if (step.kind === 'read') {
              expect(await actual(o.db)).toEqual(await expected(o.db))
            } else if (step.kind === 'rollback') {
              // A transaction folds first (inside it), then fails: the fold is undone with it.
              await expect(o.db.transaction(async (tx) => {
                await tx.selectFrom('cabinet_sales').selectAll().execute()
                throw new Error('rolled back')
              })).rejects.toThrow('rolled back')
            } else {
              // The process dies: the fold's memory (and any late report) is lost; the file stays.
              o.figures.close()
              await o.db.close()
              late = []
              o = await open(dataDir, false)
            }
          }
          for (const r of late) o.fold.committed(r.deferred!.rows, r.deferred!.batches)
          expect(await actual(o.db)).toEqual(await expected(o.db))
          // The certified figures came from the same folds: per day, the same sales and amounts.
          const figureDays = (await sqlRows<{ k: string; n: number; a: number }>(o.db, "SELECT cabinet_id || '|' || day AS k, sales_count AS n, amount_fen AS a FROM cabinet_day_certified")).map((r) => [r.k, r.n, r.a]).sort()
          expect(figureDays).toEqual((await expected(o.db)).days)
        } finally {
          await o.fold.close()
          o.figures.close()
          await o.db.close()
        }
      }),
      { numRuns: 25 },
    )
  }, 120_000)

  it('flags a sale reusing its cabinet’s latest id, whether the fold learnt the cabinet’s id ceiling at a fold, at a commit, or from sale_ids after a restart', async () => {
    for (const before of ['fold', 'none', 'restart'] as const) {
      const dataDir = await tempDir()
      let o = await open(dataDir, true)
      try {
        const commit = async (seq: number, saleId: string): Promise<void> => {
          const lines = [{ sku: 'A', qty: 1, unitPriceFen: 100 }]
          const sale: SaleRecord = {
            saleId, seq, soldAt: at, soldAtMs: Date.parse(at), soldOn: '2020-10-01', recordedAt: at, recordedAtMs: Date.parse(at),
            payment: 'wechat', totalFen: 100, lines, linesJson: JSON.stringify(lines), prevHash: 'p', hash: `h-${seq}`, skewFlag: 0,
          }
          const r = await o.db.transaction((tx) => o.store.commitTick(tx, { batches: [{ cabinetId: 'C-0', receivedAt: at, sales: [sale] }], tampered: [] }), { deferDerived: true })
          o.fold.committed(r.deferred!.rows, r.deferred!.batches)
        }
        await o.fold.flush() // from here the fold takes committed ticks as they are reported
        await commit(1, 'id-1')
        await commit(2, 'id-2')
        if (before !== 'none') await o.fold.flush()
        if (before === 'restart') {
          // A new process: no ceiling in memory; seq 3's commit reads C-0's from sale_ids.
          await o.fold.close()
          o.figures.close()
          await o.db.close()
          o = await open(dataDir, false)
          await o.fold.flush()
        }
        await commit(3, 'id-2') // at the ceiling, not above it: a reuse
        await o.fold.flush()
        expect(await sqlRows(o.db, 'SELECT cabinet_id, seq, earlier_seq FROM sale_flags')).toEqual([{ cabinet_id: 'C-0', seq: 3, earlier_seq: 2 }])
      } finally {
        await o.fold.close()
        o.figures.close()
        await o.db.close()
      }
    }
  })
})
