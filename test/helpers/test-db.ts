// The database under test: SQLite files under each fleet's data dir (the
// default), or with FLEET_TEST_DB=postgres a fresh database per data dir on
// the run's PostgreSQL server (test/setup/database.ts). A restart test that
// reuses a data dir gets the same database back, as a real restart would.
// Also: dialect-neutral SQL for tests that look at stored rows directly.
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { inject } from 'vitest'
import type { FleetDb } from '../../fleet-server/src/db/database.js'

export const testDialect: 'sqlite' | 'postgres' = process.env.FLEET_TEST_DB === 'postgres' ? 'postgres' : 'sqlite'
export const onPostgres = testDialect === 'postgres'

const databases = new Map<string, Promise<string>>()

/** FLEET_DATABASE_URL for a fleet on `dataDir`: '' on SQLite. */
export function testDatabaseUrl(dataDir: string): Promise<string> {
  if (!onPostgres) return Promise.resolve('')
  let url = databases.get(dataDir)
  if (!url) {
    url = newTestDatabase()
    databases.set(dataDir, url)
  }
  return url
}

/** Env for a fleet server (in-process or a child) on `dataDir`: FLEET_DATABASE_URL on PostgreSQL, nothing on SQLite. */
export async function testDatabaseEnv(dataDir: string): Promise<Record<string, string>> {
  const url = await testDatabaseUrl(dataDir)
  return url ? { FLEET_DATABASE_URL: url } : {}
}

/** A new empty database on the run's PostgreSQL server. */
export async function newTestDatabase(): Promise<string> {
  const admin = inject('testPostgresUrl')
  if (!admin) throw new Error('no PostgreSQL server for this run (FLEET_TEST_DB=postgres and test/setup/database.ts)')
  const name = `t_${randomBytes(6).toString('hex')}`
  const c = new pg.Client({ connectionString: admin })
  await c.connect()
  try {
    await c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)} STRATEGY = FILE_COPY`)
  } finally {
    await c.end()
  }
  const url = new URL(admin)
  url.pathname = `/${name}`
  return url.toString()
}

/** Rows of a query written with `?` placeholders, on either engine. */
export async function sqlRows<T = Record<string, unknown>>(db: FleetDb, text: string, ...params: unknown[]): Promise<T[]> {
  return runRaw<T>(db, text, params)
}

/** The first row, or undefined. */
export async function sqlRow<T = Record<string, unknown>>(db: FleetDb, text: string, ...params: unknown[]): Promise<T | undefined> {
  return (await runRaw<T>(db, text, params))[0]
}

/** A statement for its effect; resolves to the rows changed. */
export async function sqlRun(db: FleetDb, text: string, ...params: unknown[]): Promise<number> {
  if (db.sqlite) return db.exclusive((c) => c.prepare(text).run(...params).changes)
  const r = await db.pool!.query(toDollar(text), params)
  return r.rowCount ?? 0
}

async function runRaw<T>(db: FleetDb, text: string, params: unknown[]): Promise<T[]> {
  if (db.sqlite) return db.exclusive((c) => c.prepare(text).all(...params) as T[])
  return (await db.pool!.query(toDollar(text), params)).rows as T[]
}

/** `?` → `$1, $2, …` (tests' SQL has no `?` inside string literals). */
const toDollar = (text: string): string => {
  let n = 0
  return text.replace(/\?/g, () => `$${++n}`)
}
