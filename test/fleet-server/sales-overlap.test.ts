// Overlapped ingest ticks (issue 13: PostgreSQL batched ingest): with two
// ticks in flight the next tick is decoded and judged while the one before
// commits, against that tick's not-yet-committed heads. Replies still go out
// in tick order and only after commit; and if the earlier tick's write of a
// cabinet does not commit, what the next tick judged for that cabinet is
// void: not stored, not answered (the cabinet resends). On SQLite and on
// PostgreSQL; a tick writer that waits on a gate holds the first tick in its
// transaction so the second is certainly prepared meanwhile. Once the first
// has settled, the tick being prepared goes with what it holds (the database
// would otherwise wait on the rest of its preparation).
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GENESIS_HASH, type Sale } from '../../shared/src/index.js'
import { openFleetDb, type FleetDb } from '../../fleet-server/src/db/database.js'
import type { SaleIngest } from '../../fleet-server/src/sales/ingest.js'
import { tempDir } from '../helpers/fleet.js'
import { ingestOn } from '../helpers/ingest.js'
import { startPostgres, type Postgres } from '../helpers/postgres.js'
import { aBatch, aChain } from '../helpers/sales.js'
import { sqlRows, sqlRun } from '../helpers/test-db.js'

const log = pino({ level: 'silent' })
const at = '2020-10-01T01:00:00.000Z'
const CABINET = 'C-1'

interface Reply {
  readonly status: string
  readonly batchId?: string
  readonly ackedSeq?: number
}

/** A gate the first tick's writer waits on: `entered` resolves when a tick is held in its transaction. */
function gate() {
  let open: () => void = () => {}
  let entered: () => void = () => {}
  const held = new Promise<void>((r) => (open = r))
  const reached = new Promise<void>((r) => (entered = r))
  let first = true
  return {
    writer: async () => {
      if (!first) return
      first = false
      entered()
      await held
    },
    reached,
    open: () => open(),
  }
}

describe('ingest: two ticks in flight', () => {
  let server: Postgres
  beforeAll(async () => {
    server = await startPostgres()
  })
  afterAll(() => server?.close())

  /** A fresh database of `dialect` holding the one cabinet. */
  async function openWithCabinet(dialect: 'sqlite' | 'postgres', name: string): Promise<FleetDb> {
    const db: FleetDb = dialect === 'sqlite'
      ? await openFleetDb({ dialect, dataDir: await tempDir() }, log)
      : await openFleetDb({ dialect, url: await server.newDatabase(name) }, log)
    await sqlRun(db, `INSERT INTO cabinets (cabinet_id, county_code, operator, status, secret_hash, credentials_issued_at, created_at, updated_at)
                      VALUES (?, '341125', NULL, 'operating', 'x', ?, ?, ?)`, CABINET, at, at, at)
    return db
  }

  async function setUp(dialect: 'sqlite' | 'postgres', name: string) {
    const db = await openWithCabinet(dialect, name)
    const g = gate()
    const replies: Reply[] = []
    const ingest: SaleIngest = await ingestOn(db, {
      tickWriters: [g.writer],
      publish: (_topic, payload) => void replies.push(JSON.parse(payload.toString()) as Reply),
      ticksInFlight: 2,
    })
    const submit = (sales: readonly Sale[]): string => {
      const batch = aBatch(CABINET, sales)
      ingest.submit(CABINET, Buffer.from(JSON.stringify(batch)), () => {})
      return batch.batchId
    }
    /** Lets a submitted batch be taken into a tick (the tick is scheduled with setImmediate). */
    const prepared = async () => {
      for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r))
      expect(ingest.queuedBatches()).toBe(0)
    }
    return { db, g, replies, ingest, submit, prepared }
  }

  for (const dialect of ['sqlite', 'postgres'] as const) {
    it(`on ${dialect}: once the committing tick has settled, the tick being prepared commits with what it holds`, async () => {
      const db = await openWithCabinet(dialect, 'overlap_cut')
      try {
        const g = gate()
        const replies: Reply[] = []
        const tickSales: number[] = []
        let yields = 0
        const ingest = await ingestOn(db, {
          tickWriters: [
            async (_tx, agg) => void tickSales.push([...agg.cabinets.values()].reduce((n, c) => n + c.count, 0)),
            g.writer,
          ],
          publish: (_topic, payload) => void replies.push(JSON.parse(payload.toString()) as Reply),
          ticksInFlight: 2,
          maxBatchesPerTick: 100,
          maxSalesPerTick: 10_000,
          // The first turn the second tick's preparation gives: the first tick commits and is answered meanwhile.
          yieldTurn: async () => {
            if (yields++ > 0) return new Promise<void>((r) => setImmediate(r))
            g.open()
            while (replies.length === 0) await new Promise<void>((r) => setTimeout(r, 1))
          },
        })
        const chain = aChain(CABINET, 1 + 10 * 100)
        const submit = (sales: readonly Sale[]) => ingest.submit(CABINET, Buffer.from(JSON.stringify(aBatch(CABINET, sales))), () => {})
        submit(chain.slice(0, 1))
        await g.reached // the first tick holds its transaction open
        for (let i = 0; i < 10; i++) submit(chain.slice(1 + i * 100, 1 + (i + 1) * 100))
        await ingest.idle()
        // The second tick yielded after 200 sales, found the first one settled and went; the rest made a third.
        expect(tickSales).toEqual([1, 200, 800])
        // Each reply acks the cabinet's head as its tick left it.
        expect(replies.map((r) => r.ackedSeq)).toEqual([1, 201, 201, ...Array<number>(8).fill(1001)])
        expect(await sqlRows(db, 'SELECT count(*) AS n FROM sales')).toEqual([{ n: 1001 }])
        await ingest.close()
      } finally {
        await db.close()
      }
    })

    it(`on ${dialect}: the next tick, judged against the committing one's heads, commits after it and replies in order`, async () => {
      const { db, g, replies, ingest, submit, prepared } = await setUp(dialect, 'overlap_ok')
      try {
        const chain = aChain(CABINET, 4)
        const first = submit(chain.slice(0, 2))
        await g.reached // tick 1 holds its transaction open
        const second = submit(chain.slice(2, 4)) // seq 3..4: accepted only against tick 1's uncommitted head
        const replay = submit(chain.slice(1, 2)) // seq 2 again: answered from tick 1's writes
        await prepared()
        expect(replies).toEqual([]) // nothing acknowledged before its commit
        g.open()
        await ingest.idle()
        expect(replies.map((r) => [r.status, r.batchId, r.ackedSeq])).toEqual([
          ['committed', first, 2],
          ['committed', second, 4],
          ['committed', replay, 4],
        ])
        expect(await sqlRows(db, 'SELECT seq, hash FROM sales ORDER BY seq')).toEqual(chain.map((s) => ({ seq: s.seq, hash: s.hash })))
        expect(ingest.head(CABINET)).toEqual({ seq: 4, hash: chain[3]!.hash })
        await ingest.close()
      } finally {
        await db.close()
      }
    })

    it(`on ${dialect}: when the committing tick's write of a cabinet fails, the next tick's judgement of it is void`, async () => {
      const { db, g, replies, ingest, submit, prepared } = await setUp(dialect, 'overlap_void')
      try {
        const chain = aChain(CABINET, 2)
        // Another server on the database already stored a different seq 1 of this cabinet.
        await sqlRun(db, `INSERT INTO sales (sale_id, cabinet_id, seq, sold_at, sold_on, recorded_at, received_at, payment, total_fen, lines, prev_hash, hash, skew_flag)
                          VALUES ('00000000-0000-7000-8000-000000000001', ?, 1, ?, '2020-10-01', ?, ?, 'wechat', 100, '[]', ?, 'elsewhere', 0)`,
        CABINET, at, at, at, GENESIS_HASH)
        submit(chain.slice(0, 1)) // seq 1: conflicts with the stored one
        await g.reached
        submit(chain.slice(1, 2)) // seq 2, chained on our seq 1, which will not commit
        await prepared()
        g.open()
        await ingest.idle()
        // Neither is acknowledged; nothing chained on the failed write is stored.
        expect(replies).toEqual([])
        expect(await sqlRows(db, 'SELECT seq, hash FROM sales ORDER BY seq')).toEqual([{ seq: 1, hash: 'elsewhere' }])
        await ingest.close()
      } finally {
        await db.close()
      }
    })
  }
})
