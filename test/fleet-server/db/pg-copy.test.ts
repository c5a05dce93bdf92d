// The PostgreSQL sales ingest writes its rows with COPY ... FROM STDIN,
// through Kysely, on the pool's CopyClients (db/pg-copy.ts, database-pg.ts).
// PostgreSQL must store exactly the values given, whatever they hold (COPY's
// text format gives backslash, tab, newline and carriage return a meaning);
// the rows must be part of the caller's transaction; and a constraint
// violation must come back as the same pg error any statement gives, leaving
// the connection usable after a rollback to a savepoint.
import { Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CopyClient } from '../../../fleet-server/src/db/database-pg.js'
import { classifyDbError } from '../../../fleet-server/src/db/dialect.js'
import { copyInOf, copyRows, copyText } from '../../../fleet-server/src/db/pg-copy.js'
import { startPostgres, type Postgres } from '../../helpers/postgres.js'

let server: Postgres
let pool: pg.Pool
let db: Kysely<Record<string, never>>

beforeAll(async () => {
  server = await startPostgres()
  pool = new pg.Pool({ connectionString: server.url, max: 2, Client: CopyClient })
  db = new Kysely({ dialect: new PostgresDialect({ pool }) })
  await sql`CREATE TABLE t (id TEXT PRIMARY KEY, body TEXT NOT NULL, n BIGINT NOT NULL)`.execute(db)
}, 60_000)

afterAll(async () => {
  await db?.destroy()
  await server?.close()
})

const stored = async (): Promise<Array<{ id: string; body: string; n: string }>> =>
  (await sql<{ id: string; body: string; n: string }>`SELECT id, body, n FROM t ORDER BY id`.execute(db)).rows

describe('copyRows (COPY FROM STDIN through Kysely)', () => {
  it('stores every value exactly as given, whatever characters it holds', async () => {
    const bodies = [
      'plain',
      'tab\there',
      'new\nline',
      'carriage\rreturn',
      'back\\slash',
      '\\N', // COPY's NULL marker, as data
      '\\.', // COPY's end-of-data marker, as data
      'ends with a backslash\\',
      '{"sku":"DY-RICE-5KG","note":"say \\"hi\\""}',
      '定远县人民医院 扶贫产品',
      '\t\n\r\\\\ all of them',
      '',
    ]
    const rows = bodies.map((body, i) => [`r${String(i).padStart(2, '0')}`, body, (i - 5) * 1_000_000_007])
    await sql`TRUNCATE t`.execute(db)
    await copyRows(db, 't', ['id', 'body', 'n'], rows)
    const back = await stored()
    expect(back.map((r) => r.body)).toEqual(bodies)
    expect(back.map((r) => Number(r.n))).toEqual(rows.map((r) => r[2]))
  })

  it('writes inside the caller transaction: rolled back with it', async () => {
    await sql`TRUNCATE t`.execute(db)
    await expect(
      db.transaction().execute(async (tx) => {
        await copyRows(tx, 't', ['id', 'body', 'n'], [['a', 'x', 1]])
        expect((await sql<{ c: string }>`SELECT count(*) AS c FROM t`.execute(tx)).rows[0]!.c).toBe('1')
        throw new Error('abort')
      }),
    ).rejects.toThrow('abort')
    expect(await stored()).toEqual([])
  })

  it('a duplicate key fails as a unique violation, and the transaction goes on after a rollback to its savepoint', async () => {
    await sql`TRUNCATE t`.execute(db)
    await db.transaction().execute(async (tx) => {
      await copyRows(tx, 't', ['id', 'body', 'n'], [['a', 'first', 1]])
      await sql`SAVEPOINT s`.execute(tx)
      const err = await copyRows(tx, 't', ['id', 'body', 'n'], [['b', 'fine', 2], ['a', 'again', 3]]).then(() => null, (e: unknown) => e)
      expect(classifyDbError(err)).toBe('unique_violation')
      await sql`ROLLBACK TO SAVEPOINT s`.execute(tx)
      await copyRows(tx, 't', ['id', 'body', 'n'], [['c', 'after', 4]])
    })
    expect((await stored()).map((r) => r.id)).toEqual(['a', 'c'])
  })

  it('takes only copyRows statements with their one string of data for a COPY, and writes the text format', () => {
    expect(copyInOf('COPY t (id, body) FROM STDIN $1', ['a\tb\n'])).toEqual({ statement: 'COPY t (id, body) FROM STDIN', data: 'a\tb\n' })
    expect(copyInOf('SELECT $1', ['x'])).toBeNull()
    expect(copyInOf('COPY t (id) FROM STDIN $1', [1])).toBeNull()
    expect(copyInOf('COPY t (id) FROM STDIN $1', ['a', 'b'])).toBeNull()
    expect(copyText([['a', 1], ['b\tc', 2]])).toBe('a\t1\nb\\tc\t2\n')
  })
})
