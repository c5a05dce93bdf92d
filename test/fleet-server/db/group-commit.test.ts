// SQLite only: grouped transactions (FleetDb.transaction with `group`) that
// arrive in one event-loop turn commit together — one commit, hence one fsync,
// for all of them — and each caller still gets its own answer; one that throws
// fails alone (the group is rolled back and each runs again on its own). With
// derived work pending (the sales fold), a group that defers it does not run
// it, and neither do stock reports.
import { sql } from 'kysely'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { openFleetDb, type DerivedWork, type FleetDb } from '../../../fleet-server/src/db/database.js'
import { createStockStore } from '../../../fleet-server/src/stock/store.js'
import { walFrames } from '../../../fleet-server/src/db/wal-checkpoint.js'
import { tempDir } from '../../helpers/fleet.js'

const log = pino({ level: 'silent' })

async function withDb(fn: (db: FleetDb) => Promise<void>): Promise<void> {
  const db = await openFleetDb({ dialect: 'sqlite', dataDir: await tempDir() }, log)
  try {
    await fn(db)
  } finally {
    await db.close()
  }
}

const keys = async (db: FleetDb): Promise<string[]> =>
  (await db.kysely.selectFrom('meta').select('key').where('key', 'like', 'group-%').orderBy('key').execute()).map((r) => r.key)

describe('grouped SQLite transactions', () => {
  it('commits the grouped transactions of one turn together, each caller answered with its own result', async () => {
    await withDb(async (db) => {
      const file = db.sqlite!.name
      // Start from an empty WAL, so the frames counted are these commits' only.
      await db.exclusive((c) => c.pragma('wal_checkpoint(TRUNCATE)'))
      const n = 20
      const results = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          db.transaction(async (tx) => {
            await tx.insertInto('meta').values({ key: `group-${String(i).padStart(2, '0')}`, value: String(i) }).execute()
            // Sees the group's earlier writes: one transaction, one after another.
            return Number((await sql<{ n: number }>`SELECT count(*) AS n FROM meta WHERE key LIKE 'group-%'`.execute(tx)).rows[0]!.n)
          }, { group: true }),
        ),
      )
      expect(results).toEqual(Array.from({ length: n }, (_, i) => i + 1))
      expect(await keys(db)).toHaveLength(n)
      // Each commit appends the pages it changed to the WAL: twenty commits of
      // the one meta page would be twenty frames or more.
      expect(walFrames(file)!).toBeLessThan(n / 2)
    })
  })

  it('runs the group again one by one when one of them throws: only that one fails', async () => {
    await withDb(async (db) => {
      const insert = (key: string, fail = false) =>
        db.transaction(async (tx) => {
          await tx.insertInto('meta').values({ key, value: 'x' }).execute()
          if (fail) throw new Error(`refused ${key}`)
          return key
        }, { group: true })
      const [a, b, c] = await Promise.allSettled([insert('group-a'), insert('group-b', true), insert('group-c')])
      expect(a).toEqual({ status: 'fulfilled', value: 'group-a' })
      expect(b.status).toBe('rejected')
      expect((b as PromiseRejectedResult).reason).toMatchObject({ message: 'refused group-b' })
      expect(c).toEqual({ status: 'fulfilled', value: 'group-c' })
      expect(await keys(db)).toEqual(['group-a', 'group-c'])
    })
  })

  it('tells the listeners of a grouped transaction after the group commits, and nothing of one rolled back', async () => {
    await withDb(async (db) => {
      const heard: string[] = []
      db.listen('group-test', (p) => heard.push(p))
      const notifyIn = (payload: string, fail = false) =>
        db.transaction(async (tx) => {
          await tx.insertInto('meta').values({ key: `group-${payload}`, value: 'x' }).execute()
          await db.notify('group-test', payload, tx)
          if (fail) throw new Error('refused')
        }, { group: true })
      const settled = await Promise.allSettled([notifyIn('a'), notifyIn('b', true), notifyIn('c')])
      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
      expect(heard.sort()).toEqual(['a', 'c'])
    })
  })

  describe('with derived work pending (the sales fold)', () => {
    /** A stand-in for the fold: always pending until run, counting its runs. */
    const derivedWork = (db: FleetDb) => {
      const work = { runs: 0, isPending: true }
      const derived: DerivedWork = {
        tables: ['cabinet_sales'],
        pending: () => work.isPending,
        run: () => {
          work.runs++
          work.isPending = false
        },
        undone: () => {},
      }
      db.setDerived(derived)
      return work
    }

    it('commits grouped transactions that defer it together without running it; one that does not defer makes its group run it once', async () => {
      await withDb(async (db) => {
        const file = db.sqlite!.name
        await db.exclusive((c) => c.pragma('wal_checkpoint(TRUNCATE)'), { deferDerived: true })
        const work = derivedWork(db)
        const put = (key: string, deferDerived: boolean) =>
          db.transaction(async (tx) => {
            await tx.insertInto('meta').values({ key, value: 'x' }).execute()
          }, { group: true, deferDerived })
        const n = 20
        await Promise.all(Array.from({ length: n }, (_, i) => put(`group-d${String(i).padStart(2, '0')}`, true)))
        expect(work.runs).toBe(0)
        expect(walFrames(file)!).toBeLessThan(n / 2)
        await Promise.all([put('group-m1', true), put('group-m2', false), put('group-m3', true)])
        expect(work.runs).toBe(1)
        expect(await keys(db)).toHaveLength(n + 3)
      })
    })

    it('stock reports (one per connecting agent) neither run it nor commit one by one', async () => {
      await withDb(async (db) => {
        const file = db.sqlite!.name
        const at = new Date().toISOString()
        const ids = Array.from({ length: 30 }, (_, i) => `C${String(i).padStart(2, '0')}`)
        await db.kysely.insertInto('cabinets').values(ids.map((id) => ({ cabinet_id: id, county_code: '341125', status: 'operating', secret_hash: 'x', credentials_issued_at: at, created_at: at, updated_at: at }))).execute()
        await db.exclusive((c) => c.pragma('wal_checkpoint(TRUNCATE)'), { deferDerived: true })
        const work = derivedWork(db)
        const store = createStockStore(db)
        const stored = await Promise.all(ids.map((cabinetId) => store.putReport({
          v: 1, type: 'stock', cabinetId, sentAt: at, rev: 1, slots: [{ slot: 'A1', sku: 'DY-RICE', capacity: 10, par: 8, qty: 6, oversold: 0 }],
        }, at)))
        expect(stored).toEqual(ids.map(() => true))
        expect(work.runs).toBe(0)
        // Alone, each report's commit appends at least its two tables' pages.
        expect(walFrames(file)!).toBeLessThan(ids.length)
        expect(await db.kysely.selectFrom('cabinet_stock').select(db.kysely.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).toEqual({ n: 30 })
      })
    })
  })
})
