// The two engines hold the same schema: every table and view of schema.ts,
// with the same columns, nullability and JS types coming back, on a migrated
// SQLite file and a migrated PostgreSQL database; and PostgreSQL's migrations
// are safe to run from two replicas at once.
import { sql } from 'kysely'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openFleetDb, type FleetDb } from '../../../fleet-server/src/db/database.js'
import { migratePostgres } from '../../../fleet-server/src/db/database-pg.js'
import { MIGRATIONS } from '../../../fleet-server/src/db/migrations.js'
import { PG_MIGRATIONS } from '../../../fleet-server/src/db/migrations-pg.js'
import { startPostgres, type Postgres } from '../../helpers/postgres.js'
import { tempDir } from '../../helpers/fleet.js'

const log = pino({ level: 'silent' })

interface Column {
  table: string
  column: string
  nullable: boolean
  kind: 'text' | 'integer' | 'real'
}

async function sqliteColumns(db: FleetDb): Promise<Column[]> {
  return db.exclusive((c) => {
    const tables = c.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]
    return tables.flatMap(({ name }) =>
      (c.prepare(`PRAGMA table_info("${name}")`).all() as Array<{ name: string; type: string; notnull: number; pk: number }>).map((col) => ({
        table: name,
        column: col.name,
        // A view's columns report nullable; so does PostgreSQL's information_schema for views.
        nullable: col.notnull === 0 && col.pk === 0,
        kind: /INT/i.test(col.type) ? ('integer' as const) : /REAL/i.test(col.type) ? ('real' as const) : ('text' as const),
      })),
    )
  })
}

async function pgColumns(db: FleetDb): Promise<Column[]> {
  const r = await sql<{ table_name: string; column_name: string; is_nullable: string; data_type: string }>`
    SELECT table_name, column_name, is_nullable, data_type FROM information_schema.columns
    WHERE table_schema = 'public' AND table_name <> 'schema_migrations' ORDER BY table_name`.execute(db.kysely)
  return r.rows.map((c) => ({
    table: c.table_name,
    column: c.column_name,
    nullable: c.is_nullable === 'YES',
    kind: c.data_type === 'bigint' || c.data_type === 'integer' ? 'integer' : c.data_type === 'double precision' ? 'real' : 'text',
  }))
}

const byName = (cols: Column[]) => [...cols].sort((a, b) => (a.table + '.' + a.column).localeCompare(b.table + '.' + b.column))

describe('schema on both engines', () => {
  let pgServer: Postgres
  beforeAll(async () => {
    pgServer = await startPostgres()
  })
  afterAll(() => pgServer?.close())

  it('has the same tables, columns, nullability and kinds', async () => {
    const lite = await openFleetDb({ dialect: 'sqlite', dataDir: await tempDir() }, log)
    const pg = await openFleetDb({ dialect: 'postgres', url: pgServer.url }, log)
    try {
      const [a, b] = [byName(await sqliteColumns(lite)), byName(await pgColumns(pg))]
      // Views: SQLite cannot say whether a view column may be null; compare tables strictly and views by name/kind.
      const strip = (cols: Column[]) => cols.map((c) => (c.table === 'certified_spans' ? { ...c, nullable: true } : c))
      expect(strip(b)).toEqual(strip(a))
      expect(a.length).toBeGreaterThan(150)
    } finally {
      await lite.close()
      await pg.close()
    }
  })

  it('ends at the same version on both', () => {
    expect(PG_MIGRATIONS.at(-1)!.version).toBe(MIGRATIONS.at(-1)!.version)
  })

  it('migrates once when two replicas open a new database together', async () => {
    const url = await pgServer.newDatabase('two_replicas')
    const [a, b] = await Promise.all([openFleetDb({ dialect: 'postgres', url }, log), openFleetDb({ dialect: 'postgres', url }, log)])
    try {
      const rows = await sql<{ version: number }>`SELECT version FROM schema_migrations ORDER BY version`.execute(a.kysely)
      // Each migration recorded once, not once per replica.
      expect(rows.rows.map((r) => r.version)).toEqual(PG_MIGRATIONS.map((m) => m.version))
      await migratePostgres(b.kysely, PG_MIGRATIONS, log) // and a third time: nothing to do
      await expect(migratePostgres(b.kysely, PG_MIGRATIONS.slice(0, 0), log)).rejects.toThrow(/newer than this server knows/)
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('delivers a notice to every process after commit, and none after a rollback', async () => {
    const url = await pgServer.newDatabase('notices')
    const dbs = [await openFleetDb({ dialect: 'postgres', url }, log), await openFleetDb({ dialect: 'postgres', url }, log), await openFleetDb({ dialect: 'sqlite', dataDir: await tempDir() }, log)]
    try {
      const got: string[][] = dbs.map(() => [])
      dbs.forEach((d, i) => d.listen('catalog', (p) => p && got[i]!.push(p)))
      await new Promise((r) => setTimeout(r, 300)) // the listeners connect
      for (const [i, d] of dbs.entries()) {
        await d.transaction(async (tx) => {
          await d.notify('catalog', `kept-${i}`, tx)
          await new Promise((r) => setTimeout(r, 50))
          expect(got.flat()).not.toContain(`kept-${i}`) // not before commit
        })
        await d.transaction(async (tx) => {
          await d.notify('catalog', `dropped-${i}`, tx)
          throw new Error('roll back')
        }).catch(() => {})
      }
      await expect.poll(() => got.map((g) => g.filter((p) => p.startsWith('kept')))).toEqual([['kept-0', 'kept-1'], ['kept-0', 'kept-1'], ['kept-2']])
      expect(got.flat().some((p) => p.startsWith('dropped'))).toBe(false)
    } finally {
      for (const d of dbs) await d.close()
    }
  })
})
