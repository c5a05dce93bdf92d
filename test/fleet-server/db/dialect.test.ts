// classifyDbError against real errors from both engines: a SQLite file in a
// temp dir (better-sqlite3, the fleet's pragmas that matter here) and a
// throwaway PostgreSQL 15 (pg). The same schema and the same bad writes must
// land in the same kind on both.
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { classifyDbError, isConstraintViolation, type DbErrorKind } from '../../../fleet-server/src/db/dialect.js'
import { Database, type SqliteDatabase } from '../../../fleet-server/src/db/sqlite.js'
import { tempDir } from '../../helpers/fleet.js'
import { startPostgres, type Postgres } from '../../helpers/postgres.js'

const SCHEMA = `
  CREATE TABLE cabinets (cabinet_id TEXT PRIMARY KEY);
  CREATE TABLE sales (
    sale_id    TEXT PRIMARY KEY,
    cabinet_id TEXT NOT NULL REFERENCES cabinets (cabinet_id),
    seq        INTEGER NOT NULL,
    total_fen  INTEGER NOT NULL CHECK (total_fen > 0),
    UNIQUE (cabinet_id, seq)
  );
  INSERT INTO cabinets VALUES ('341125-00001');
  INSERT INTO sales VALUES ('s-1', '341125-00001', 1, 4990);
`

/** Each bad write, and the kind both engines must report for it. */
const CASES: ReadonlyArray<[string, string, DbErrorKind]> = [
  ['a replayed primary key', "INSERT INTO sales VALUES ('s-1', '341125-00001', 2, 100)", 'unique_violation'],
  ['a taken unique key', "INSERT INTO sales VALUES ('s-2', '341125-00001', 1, 100)", 'unique_violation'],
  ['an unknown cabinet', "INSERT INTO sales VALUES ('s-3', '341125-99999', 1, 100)", 'foreign_key_violation'],
  ['a failed check', "INSERT INTO sales VALUES ('s-4', '341125-00001', 3, 0)", 'check_violation'],
  ['a missing required column', "INSERT INTO sales VALUES ('s-5', '341125-00001', 4, NULL)", 'not_null_violation'],
  ['a syntax error', 'INSERT INTO nowhere VALUES (1)', 'other'],
]

function caught(fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  throw new Error('expected the statement to fail')
}

async function caughtAsync(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected the statement to fail')
    },
    (err: unknown) => err,
  )
}

describe('classifyDbError on SQLite (better-sqlite3)', () => {
  async function open(): Promise<{ db: SqliteDatabase; file: string }> {
    const file = join(await tempDir('dialect-'), 'test.db')
    const db = new Database(file)
    db.pragma('journal_mode = WAL')
    db.pragma('foreign_keys = ON')
    db.exec(SCHEMA)
    return { db, file }
  }

  it.each(CASES)('%s', async (_name, sql, kind) => {
    const { db } = await open()
    try {
      expect(classifyDbError(caught(() => db.exec(sql)))).toBe(kind)
    } finally {
      db.close()
    }
  })

  it('sorts a write lock held by another connection past busy_timeout as retryable', async () => {
    const { db, file } = await open()
    const other = new Database(file)
    try {
      other.pragma('busy_timeout = 0')
      db.exec('BEGIN IMMEDIATE')
      const err = caught(() => other.exec("INSERT INTO cabinets VALUES ('341125-00002')"))
      expect((err as { code?: string }).code).toMatch(/^SQLITE_BUSY/)
      expect(classifyDbError(err)).toBe('retryable')
    } finally {
      db.exec('ROLLBACK')
      other.close()
      db.close()
    }
  })
})

describe('classifyDbError on PostgreSQL (pg)', () => {
  let server: Postgres
  let pool: pg.Pool
  beforeAll(async () => {
    server = await startPostgres()
    pool = new pg.Pool({ connectionString: server.url, max: 4 })
    await pool.query(SCHEMA)
  })
  afterAll(async () => {
    await pool?.end()
    await server?.close()
  })

  it.each(CASES)('%s', async (_name, sql, kind) => {
    expect(classifyDbError(await caughtAsync(pool.query(sql)))).toBe(kind)
  })

  it('sorts a serialization failure (40001) as retryable', async () => {
    await pool.query("INSERT INTO cabinets VALUES ('ser') ON CONFLICT DO NOTHING")
    const a = await pool.connect()
    try {
      await a.query('BEGIN ISOLATION LEVEL REPEATABLE READ')
      await a.query("SELECT * FROM cabinets WHERE cabinet_id = 'ser'") // takes the snapshot
      await pool.query("UPDATE cabinets SET cabinet_id = 'ser2' WHERE cabinet_id = 'ser'")
      const err = await caughtAsync(a.query("UPDATE cabinets SET cabinet_id = 'ser3' WHERE cabinet_id = 'ser'"))
      expect((err as { code?: string }).code).toBe('40001')
      expect(classifyDbError(err)).toBe('retryable')
    } finally {
      await a.query('ROLLBACK')
      a.release()
    }
  })

  it('sorts a deadlock (40P01) as retryable', async () => {
    await pool.query("INSERT INTO cabinets VALUES ('dl-a'), ('dl-b') ON CONFLICT DO NOTHING")
    const [a, b] = [await pool.connect(), await pool.connect()]
    try {
      for (const c of [a, b]) await c.query("SET deadlock_timeout = '20ms'")
      await a.query('BEGIN')
      await b.query('BEGIN')
      await a.query("SELECT * FROM cabinets WHERE cabinet_id = 'dl-a' FOR UPDATE")
      await b.query("SELECT * FROM cabinets WHERE cabinet_id = 'dl-b' FOR UPDATE")
      // Each now waits for the other's row: the server aborts one of them.
      const results = await Promise.allSettled([
        a.query("SELECT * FROM cabinets WHERE cabinet_id = 'dl-b' FOR UPDATE"),
        b.query("SELECT * FROM cabinets WHERE cabinet_id = 'dl-a' FOR UPDATE"),
      ])
      const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []))
      expect(failed.map((e) => (e as { code?: string }).code)).toEqual(['40P01'])
      expect(classifyDbError(failed[0])).toBe('retryable')
    } finally {
      await Promise.all([a.query('ROLLBACK'), b.query('ROLLBACK')])
      a.release()
      b.release()
    }
  })
})

describe('classifyDbError on anything else', () => {
  it('sorts plain errors and non-errors as other', () => {
    expect(classifyDbError(new Error('disk on fire'))).toBe('other')
    expect(classifyDbError(Object.assign(new Error('looks coded'), { code: '23505' }))).toBe('other')
    expect(classifyDbError('SQLITE_CONSTRAINT_UNIQUE')).toBe('other')
    expect(classifyDbError(undefined)).toBe('other')
  })

  it('counts every integrity kind, and only those, as a constraint violation', () => {
    const kinds: DbErrorKind[] = ['unique_violation', 'foreign_key_violation', 'check_violation', 'not_null_violation', 'constraint_violation', 'retryable', 'other']
    expect(kinds.filter(isConstraintViolation)).toEqual(['unique_violation', 'foreign_key_violation', 'check_violation', 'not_null_violation', 'constraint_violation'])
  })
})
