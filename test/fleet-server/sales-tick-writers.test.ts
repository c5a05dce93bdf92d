// The unit of work of an ingest tick (issue 13): the sales and every declared
// tick writer run in ONE transaction — a writer sees the tick's uncommitted
// sales, and a writer's failure rolls the sales back (no ack, nothing stored)
// — and the `committed` hook runs only once that transaction has committed.
// On SQLite and on PostgreSQL.
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openFleetDb, type FleetDb } from '../../fleet-server/src/db/database.js'
import type { TickAggregates } from '../../fleet-server/src/sales/aggregate.js'
import { tempDir } from '../helpers/fleet.js'
import { ingestOn } from '../helpers/ingest.js'
import { startPostgres, type Postgres } from '../helpers/postgres.js'
import { aBatch, aChain } from '../helpers/sales.js'
import { sqlRows, sqlRun } from '../helpers/test-db.js'

const log = pino({ level: 'silent' })
const at = '2020-10-01T01:00:00.000Z'
const CABINET = 'C-1'

describe('ingest tick: sales and tick writers in one transaction', () => {
  let server: Postgres
  beforeAll(async () => {
    server = await startPostgres()
  })
  afterAll(() => server?.close())

  for (const dialect of ['sqlite', 'postgres'] as const) {
    it(`on ${dialect}: a failing writer rolls the sales back; committed runs only after a commit`, async () => {
      const db: FleetDb = dialect === 'sqlite'
        ? await openFleetDb({ dialect, dataDir: await tempDir() }, log)
        : await openFleetDb({ dialect, url: await server.newDatabase('tick_writers') }, log)
      try {
        await sqlRun(db, `INSERT INTO cabinets (cabinet_id, county_code, operator, status, secret_hash, credentials_issued_at, created_at, updated_at)
                          VALUES (?, '341125', NULL, 'operating', 'x', ?, ?, ?)`, CABINET, at, at, at)
        let fail = true
        const seenInTx: number[] = []
        const events: string[] = []
        const committed: TickAggregates[] = []
        const replies: string[] = []
        const ingest = await ingestOn(db, {
          tickWriters: [
            async (tx, agg) => {
              // Through the tick's transaction: its own sales are visible before they commit.
              const r = await tx.selectFrom('sales').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
              seenInTx.push(Number(r.n))
              events.push(`writer ${agg.cabinets.get(CABINET)?.count ?? 0}`)
              if (fail) throw new Error('derived figures could not be written')
            },
          ],
          committed: (agg) => {
            events.push('committed')
            committed.push(agg)
          },
          publish: (_topic, payload) => void replies.push(payload.toString()),
        })
        const sales = aChain(CABINET, 2)
        const send = async () => {
          ingest.submit(CABINET, Buffer.from(JSON.stringify(aBatch(CABINET, sales))), () => {})
          await ingest.idle()
        }

        await send()
        expect(seenInTx).toEqual([2])
        expect(await sqlRows(db, 'SELECT seq FROM sales')).toEqual([])
        expect(await sqlRows(db, 'SELECT cabinet_id FROM cabinet_sales')).toEqual([])
        expect(replies).toEqual([]) // not acked: the cabinet resends
        expect(events).toEqual(['writer 2'])
        expect(ingest.head(CABINET).seq).toBe(0)

        fail = false
        await send()
        expect(await sqlRows(db, 'SELECT seq FROM sales ORDER BY seq')).toEqual([{ seq: 1 }, { seq: 2 }])
        expect(events).toEqual(['writer 2', 'writer 2', 'committed'])
        expect(committed[0]!.cabinets.get(CABINET)).toMatchObject({ count: 2, lastSeq: 2 })
        expect(replies.map((r) => JSON.parse(r) as { status: string; ackedSeq: number })).toMatchObject([{ status: 'committed', ackedSeq: 2 }])
        await ingest.close()
      } finally {
        await db.close()
      }
    })
  }
})
