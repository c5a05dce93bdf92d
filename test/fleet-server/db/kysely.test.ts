// One Kysely query, two engines: the same schema, writes and reads run through
// createKysely on a SQLite file and on a throwaway PostgreSQL, with the same
// rows and JS types coming back, and failures sorted the same way.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Kysely } from 'kysely'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { classifyDbError } from '../../../fleet-server/src/db/dialect.js'
import { createKysely, type DbTarget } from '../../../fleet-server/src/db/kysely.js'
import { Database, type SqliteDatabase } from '../../../fleet-server/src/db/sqlite.js'
import { startPostgres, type Postgres } from '../../helpers/postgres.js'

interface TestDb {
  cabinets: { cabinet_id: string; county_code: string }
  sales: { sale_id: string; cabinet_id: string; total_fen: number }
}

const log = pino({ level: 'silent' })

async function fill(k: Kysely<TestDb>): Promise<void> {
  await k.schema.createTable('cabinets').addColumn('cabinet_id', 'text', (c) => c.primaryKey()).addColumn('county_code', 'text', (c) => c.notNull()).execute()
  await k.schema
    .createTable('sales')
    .addColumn('sale_id', 'text', (c) => c.primaryKey())
    .addColumn('cabinet_id', 'text', (c) => c.notNull().references('cabinets.cabinet_id'))
    .addColumn('total_fen', 'integer', (c) => c.notNull())
    .execute()
  await k
    .insertInto('cabinets')
    .values([
      { cabinet_id: '341125-00001', county_code: '341125' },
      { cabinet_id: '341125-00002', county_code: '341125' },
      { cabinet_id: '341102-00001', county_code: '341102' },
    ])
    .execute()
  await k
    .insertInto('sales')
    .values([
      { sale_id: 's-1', cabinet_id: '341125-00001', total_fen: 4990 },
      { sale_id: 's-2', cabinet_id: '341125-00002', total_fen: 1200 },
      { sale_id: 's-3', cabinet_id: '341102-00001', total_fen: 800 },
    ])
    .execute()
}

/** The query under test: sales per county, written once. */
function perCounty(k: Kysely<TestDb>) {
  return k
    .selectFrom('sales')
    .innerJoin('cabinets', 'cabinets.cabinet_id', 'sales.cabinet_id')
    .select((eb) => ['cabinets.county_code', eb.fn.countAll<number>().as('sales_count'), eb.fn.sum<number>('sales.total_fen').as('amount_fen')])
    .groupBy('cabinets.county_code')
    .orderBy('cabinets.county_code')
    .execute()
}

const EXPECTED = [
  { county_code: '341102', sales_count: 1, amount_fen: 800 },
  { county_code: '341125', sales_count: 2, amount_fen: 6190 },
]

describe('createKysely', () => {
  let server: Postgres
  let sqlite: SqliteDatabase
  let dir: string
  const engines: Array<[string, Kysely<TestDb>]> = []

  beforeAll(async () => {
    server = await startPostgres()
    dir = await mkdtemp(join(tmpdir(), 'kysely-'))
    sqlite = new Database(join(dir, 'test.db'))
    sqlite.pragma('foreign_keys = ON')
    const targets: Array<[string, DbTarget]> = [
      ['sqlite', { dialect: 'sqlite', db: sqlite }],
      ['postgres', { dialect: 'postgres', url: server.url, poolMax: 2 }],
    ]
    for (const [name, t] of targets) {
      const k = createKysely<TestDb>(t, log)
      await fill(k)
      engines.push([name, k])
    }
  })
  afterAll(async () => {
    for (const [, k] of engines) await k.destroy()
    sqlite?.close()
    await server?.close()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('runs the same aggregate query on both engines with the same rows and number types', async () => {
    const [[, a], [, b]] = engines as [[string, Kysely<TestDb>], [string, Kysely<TestDb>]]
    expect(await perCounty(a)).toEqual(EXPECTED)
    expect(await perCounty(b)).toEqual(EXPECTED)
  })

  it('inserts idempotently on both (ON CONFLICT DO NOTHING) and sorts a duplicate key the same way', async () => {
    for (const [name, k] of engines) {
      const again = { sale_id: 's-1', cabinet_id: '341125-00001', total_fen: 4990 }
      const r = await k.insertInto('sales').values(again).onConflict((oc) => oc.column('sale_id').doNothing()).executeTakeFirst()
      expect(Number(r.numInsertedOrUpdatedRows), name).toBe(0)
      const err = await k.insertInto('sales').values(again).execute().catch((e: unknown) => e)
      expect(classifyDbError(err), name).toBe('unique_violation')
    }
  })

  it('leaves the shared SQLite connection open when its Kysely is destroyed', async () => {
    const k = createKysely<TestDb>({ dialect: 'sqlite', db: sqlite }, log)
    // Kysely connects lazily, and destroy() only closes what it connected.
    expect(await k.selectFrom('cabinets').select('cabinet_id').execute()).toHaveLength(3)
    await k.destroy()
    expect(sqlite.open).toBe(true)
    expect(sqlite.prepare('SELECT count(*) AS n FROM sales').get()).toEqual({ n: 3 })
  })
})
