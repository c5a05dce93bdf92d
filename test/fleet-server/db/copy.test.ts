// `fleetctl db copy` (issue 13): an embedded deployment filled through its
// real interfaces (cabinets and sales over MQTT, catalog and a renewed
// certificate, status changes, a forwarding pass) is copied into a fresh
// PostgreSQL database; counts, chain heads and rows match field by field, ids
// continue after the copied ones, a non-empty target or a source of another
// schema version is refused, the source is read as one moment while another
// connection writes, and the command runs end to end as a child process.
import { execFile } from 'node:child_process'
import { cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import pino from 'pino'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { run } from '../../../fleet-server/src/cli/fleetctl.js'
import { compareCopy, copySqliteToPostgres, DbCopyError, verifyCopy } from '../../../fleet-server/src/db/copy.js'
import { DB_FILE, openFleetDb, SCHEMA_VERSION, type FleetDb } from '../../../fleet-server/src/db/database.js'
import { Database } from '../../../fleet-server/src/db/sqlite.js'
import { foldLeftoverSales, salesFolded } from '../../../fleet-server/src/sales/fold-leftover.js'
import { aCatalog, aDatedCabinet, fleetWith, line, ok } from '../certification.fixtures.js'
import { startPostgres, type Postgres } from '../../helpers/postgres.js'
import { REPO_ROOT } from '../../helpers/process.js'

/** The copy's source is the embedded SQLite database, whichever engine the rest of the suite runs on. */
const SQLITE_SOURCE = { FLEET_DATABASE_URL: '' }

const log = pino({ level: 'silent' })

let pgServer: Postgres
let source: string
let dbs = 0
const newTarget = () => pgServer.newDatabase(`copy_${++dbs}`)

/** Rows of a table on the SQLite file, read with its own connection. */
function liteRows(dir: string, query: string): Record<string, unknown>[] {
  const db = new Database(join(dir, DB_FILE), { readonly: true, fileMustExist: true })
  try {
    return db.prepare(query).all() as Record<string, unknown>[]
  } finally {
    db.close()
  }
}

async function pgRows(db: FleetDb, query: string): Promise<Record<string, unknown>[]> {
  return (await sql<Record<string, unknown>>`${sql.raw(query)}`.execute(db.kysely)).rows
}

async function withTarget<T>(url: string, fn: (db: FleetDb) => Promise<T>): Promise<T> {
  const db = await openFleetDb({ dialect: 'postgres', url }, log)
  try {
    return await fn(db)
  } finally {
    await db.close()
  }
}

/** A stopped fleet's data dir holding some of everything. */
async function filledFleet(dir: string): Promise<void> {
  const fleet = await fleetWith({ dataDir: dir, manualClose: true, env: SQLITE_SOURCE })
  try {
    await aCatalog(fleet, { HONEY: { priceFen: 3990, cert: ['2020-01-01'] }, TEA: { priceFen: 2500 } })
    // A renewal: certificates.renews points at another row of the same table.
    await ok(fleet, 'POST', '/api/v1/certificates/CERT-HONEY/renew', { certificateNo: 'CERT-HONEY-2' })
    const a = await aDatedCabinet(fleet, { countyCode: '341125', siteName: '定远县政务中心', venueType: '机关' })
    const b = await aDatedCabinet(fleet, { countyCode: '341126' })
    for (let d = 1; d <= 6; d++) {
      await a.sell(`2020-09-0${d}`, [line('HONEY', 3990), line('TEA', 2500)])
      await b.sell(`2020-09-0${d}`, [line('TEA', 2500 * d)])
    }
    await a.sell('2020-10-02', [line('HONEY', 3990, 2)])
    await ok(fleet, 'PATCH', `/api/v1/cabinets/${a.cabinetId}`, { status: 'site_assigned' }, 200)
    await ok(fleet, 'PATCH', `/api/v1/cabinets/${a.cabinetId}`, { status: 'installed' }, 200)
    await ok(fleet, 'POST', '/api/v1/forwarding/run', undefined, 200)
  } finally {
    await fleet.close()
  }
}

const countsOf = (dir: string, tables: readonly string[]) => Object.fromEntries(tables.map((t) => [t, Number(liteRows(dir, `SELECT count(*) AS n FROM "${t}"`)[0]!.n)]))

describe('db copy: SQLite to PostgreSQL', () => {
  beforeAll(async () => {
    pgServer = await startPostgres()
    source = await mkdtemp(join(tmpdir(), 'fleet-copy-'))
  })
  // Filled once, inside the first test that needs it (the fixtures' cabinets register per-test cleanup).
  let filled: Promise<void> | undefined
  beforeEach(() => (filled ??= filledFleet(source)), 60_000)
  afterAll(async () => {
    await pgServer?.close()
    if (source) await rm(source, { recursive: true, force: true })
  })

  it('copies every table in batches, verified by counts and chain heads, rows equal field by field', async () => {
    const url = await newTarget()
    const progress: string[] = []
    const r = await copySqliteToPostgres(source, url, log, { batchRows: 5, onProgress: (p) => void progress.push(`${p.table}:${p.copied}/${p.total}`) })
    const tables = r.tables.map((t) => t.table)
    expect(r.schemaVersion).toBe(SCHEMA_VERSION)
    expect(Object.fromEntries(r.tables.map((t) => [t.table, t.rows]))).toEqual(countsOf(source, tables))
    expect(r.tables.find((t) => t.table === 'sales')!.rows).toBe(13)
    expect(r.chainHeads).toBe(2)
    // Batches of 5: the 13 sales went in three inserts.
    expect(progress.filter((p) => p.startsWith('sales:'))).toEqual(['sales:0/13', 'sales:5/13', 'sales:10/13', 'sales:13/13'])
    // Parents before children: the foreign keys held on every insert.
    expect(tables.indexOf('cabinets')).toBeLessThan(tables.indexOf('sales'))
    expect(tables.indexOf('products')).toBeLessThan(tables.indexOf('certificates'))
    expect(tables).not.toContain('certified_spans')

    await withTarget(url, async (target) => {
      for (const [table, key] of [['sales', 'sale_id'], ['cabinets', 'cabinet_id'], ['certificates', 'certificate_no'], ['cabinet_sales', 'cabinet_id'], ['cabinet_transitions', 'transition_id'], ['forwarding_periods', 'cabinet_id, period_id'], ['catalog_history', 'id'], ['users', 'user_id']] as const) {
        const a = liteRows(source, `SELECT * FROM ${table} ORDER BY ${key}`)
        expect(a.length, table).toBeGreaterThan(0)
        expect(await pgRows(target, `SELECT * FROM ${table} ORDER BY ${key}`), table).toEqual(a)
      }
      expect((await pgRows(target, "SELECT renews FROM certificates WHERE certificate_no = 'CERT-HONEY-2'"))[0]).toEqual({ renews: 'CERT-HONEY' })
      // The view over the copied rows says what SQLite's says.
      expect(await pgRows(target, 'SELECT * FROM certified_spans ORDER BY certificate_no')).toEqual(liteRows(source, 'SELECT * FROM certified_spans ORDER BY certificate_no'))
      // Identity sequences continue after the copied ids: a new row takes max + 1.
      const maxId = Number(liteRows(source, 'SELECT max(transition_id) AS m FROM cabinet_transitions')[0]!.m)
      const [cab] = liteRows(source, 'SELECT cabinet_id, county_code FROM cabinets LIMIT 1')
      const ins = await sql<{ transition_id: number }>`INSERT INTO cabinet_transitions (cabinet_id, county_code, to_status, at, by_user)
        VALUES (${cab!.cabinet_id}, ${cab!.county_code}, 'planned', '2026-12-05T00:00:00.000Z', 'test') RETURNING transition_id`.execute(target.kysely)
      expect(ins.rows[0]!.transition_id).toBe(maxId + 1)
    })
  })

  it('refuses a second copy into a target that already has rows, changing nothing', async () => {
    const url = await newTarget()
    await copySqliteToPostgres(source, url, log)
    const before = await withTarget(url, (t) => pgRows(t, 'SELECT count(*) AS n FROM sales'))
    const err = await copySqliteToPostgres(source, url, log).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DbCopyError)
    expect((err as DbCopyError).code).toBe('TARGET_NOT_EMPTY')
    expect((err as DbCopyError).message).toMatch(/目标数据库已有数据.*sales/)
    expect(await withTarget(url, (t) => pgRows(t, 'SELECT count(*) AS n FROM sales'))).toEqual(before)
  })

  it('refuses a source whose schema version is not this build’s, and a data dir without a database', async () => {
    const old = await mkdtemp(join(tmpdir(), 'fleet-copy-old-'))
    try {
      await cp(source, old, { recursive: true })
      const db = new Database(join(old, DB_FILE))
      db.pragma(`user_version = ${SCHEMA_VERSION - 1}`)
      db.close()
      const url = await newTarget()
      const err = await copySqliteToPostgres(old, url, log).catch((e: unknown) => e)
      expect((err as DbCopyError).code).toBe('SOURCE_VERSION')
      expect((err as Error).message).toContain(`源数据库结构版本为 ${SCHEMA_VERSION - 1}`)
      // Not upgraded in place by the attempt.
      expect(liteRows(old, 'PRAGMA user_version')[0]).toEqual({ user_version: SCHEMA_VERSION - 1 })
      const missing = await copySqliteToPostgres(join(old, 'nothing-here'), url, log).catch((e: unknown) => e)
      expect((missing as DbCopyError).code).toBe('SOURCE_MISSING')
    } finally {
      await rm(old, { recursive: true, force: true })
    }
  })

  it('copies rows that refer to rows stored after them in the same table (certificates.renews)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleet-copy-fwd-'))
    try {
      await cp(source, dir, { recursive: true })
      // The first-stored certificate now names the later one: a copy in storage order would break its foreign key.
      const db = new Database(join(dir, DB_FILE))
      expect(db.prepare("UPDATE certificates SET renews = 'CERT-HONEY-2' WHERE certificate_no = 'CERT-HONEY'").run().changes).toBe(1)
      db.close()
      const url = await newTarget()
      await copySqliteToPostgres(dir, url, log, { batchRows: 1 })
      const q = 'SELECT * FROM certificates ORDER BY certificate_no'
      expect(await withTarget(url, (t) => pgRows(t, q))).toEqual(liteRows(dir, q))
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('reads the source as one moment while another connection keeps writing', async () => {
    const live = await mkdtemp(join(tmpdir(), 'fleet-copy-live-'))
    try {
      await cp(source, live, { recursive: true })
      const writer = new Database(join(live, DB_FILE))
      writer.pragma('busy_timeout = 5000')
      const [cab] = liteRows(live, 'SELECT cabinet_id FROM cabinets LIMIT 1')
      let n = 0
      const url = await newTarget()
      // Between the copy's batches a server would keep committing: a new event row each time.
      await copySqliteToPostgres(live, url, log, {
        batchRows: 3,
        onProgress: () => {
          writer.prepare('INSERT INTO cabinet_events (event_id, cabinet_id, kind, at, detail, received_at) VALUES (?, ?, ?, ?, ?, ?)').run(`ev-${++n}`, cab!.cabinet_id, 'door', '2026-12-05T00:00:00.000Z', '{}', '2026-12-05T00:00:00.000Z')
        },
      })
      writer.close()
      expect(n).toBeGreaterThan(10)
      const copied = await withTarget(url, (t) => pgRows(t, "SELECT count(*) AS n FROM cabinet_events WHERE event_id LIKE 'ev-%'"))
      expect(copied).toEqual([{ n: 0 }])
      expect(liteRows(live, "SELECT count(*) AS n FROM cabinet_events WHERE event_id LIKE 'ev-%'")).toEqual([{ n }])
    } finally {
      await rm(live, { recursive: true, force: true })
    }
  })

  it('copies from a running fleet as of one moment while its cabinets keep selling', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleet-copy-running-'))
    const fleet = await fleetWith({ dataDir: dir, manualClose: true, env: SQLITE_SOURCE })
    try {
      await aCatalog(fleet, { HONEY: { priceFen: 3990, cert: ['2020-01-01'] } })
      const cab = await aDatedCabinet(fleet)
      for (let d = 1; d <= 5; d++) await cab.sell(`2020-09-0${d}`, [line('HONEY', 3990)])
      const url = await newTarget()
      // The fleet commits a sale (over MQTT, on its own connection) as the copy starts and again as it reaches the sales table.
      let day = 5
      // As fleetctl runs it: the running fleet's sales not yet folded are folded from the copy's own connection first.
      const r = await copySqliteToPostgres(dir, url, log, {
        settle: { run: (source) => foldLeftoverSales(source, log), done: salesFolded },
        batchRows: 2,
        onProgress: async (p) => {
          if (p.copied === 0 && (day === 5 || p.table === 'sales')) await cab.sell(`2020-09-${String(++day).padStart(2, '0')}`, [line('HONEY', 3990)])
        },
      })
      expect(cab.sales).toHaveLength(7)
      expect(r.tables.find((t) => t.table === 'sales')!.rows).toBe(5)
      // The copy's chain head is the head of that moment: its last sale is there, and nothing after it.
      const heads = await withTarget(url, (t) => pgRows(t, 'SELECT cs.last_seq, count(s.seq) AS n, max(s.seq) AS top FROM cabinet_sales cs JOIN sales s ON s.cabinet_id = cs.cabinet_id GROUP BY cs.last_seq'))
      expect(heads).toEqual([{ last_seq: 5, n: 5, top: 5 }])
    } finally {
      await fleet.close()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('finds a changed chain head or a missing row when verifying', async () => {
    const url = await newTarget()
    await copySqliteToPostgres(source, url, log)
    const src = await openFleetDb({ dialect: 'sqlite', dataDir: source }, log)
    try {
      await withTarget(url, async (target) => {
        expect(await verifyCopy(src, target)).toEqual([])
        const [head] = liteRows(source, 'SELECT cabinet_id, last_seq FROM cabinet_sales ORDER BY cabinet_id LIMIT 1')
        await sql`UPDATE sales SET hash = 'x' WHERE cabinet_id = ${head!.cabinet_id} AND seq = ${head!.last_seq}`.execute(target.kysely)
        await sql`DELETE FROM catalog_history WHERE id = (SELECT min(id) FROM catalog_history)`.execute(target.kysely)
        const found = await src.exclusive((conn) => compareCopy(conn, target.kysely))
        expect(found).toEqual([expect.stringMatching(/^表 catalog_history：源 (\d+) 行，目标 \d+ 行$/), expect.stringContaining(`专柜 ${String(head!.cabinet_id)}：链头不一致`)])
      })
    } finally {
      await src.close()
    }
  })

  it('runs as `npm run fleetctl -- db copy --to URL` with the data dir from FLEET_DATA_DIR, and exits non-zero when refused', async () => {
    const url = await newTarget()
    const npm = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile('npm', ['run', '-s', 'fleetctl', '--', ...args], { cwd: REPO_ROOT, env: { ...process.env, FLEET_DATA_DIR: source, FLEET_TOKEN: '' }, timeout: 60_000 }, (err, stdout, stderr) =>
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
        )
      })
    const first = await npm(['db', 'copy', '--to', url])
    expect(first.stderr).toBe('')
    expect(first.code).toBe(0)
    expect(first.stdout).toMatch(/^表\s+行数$/m)
    expect(first.stdout).toMatch(/^sales\s+13$/m)
    expect(first.stdout).toContain('复制完成并已核对')
    expect(first.stdout).toContain('2 台专柜的账本链头一致')
    const again = await npm(['db', 'copy', '--to', url, '--data', source])
    expect(again.code).toBe(1)
    expect(again.stderr).toContain('目标数据库已有数据')
    // Bad usage in-process (same run(), a child process less).
    const err: string[] = []
    expect(await run(['db', 'copy', '--to', 'mysql://x'], { FLEET_DATA_DIR: source }, { out: () => {}, err: (l) => err.push(l) })).toBe(2)
    expect(err.join('\n')).toContain('--to 须为 postgres:// 地址')
  }, 90_000)
})
