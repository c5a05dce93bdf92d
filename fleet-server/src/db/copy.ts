// Moves an embedded deployment (SQLite under FLEET_DATA_DIR) into PostgreSQL
// (issue 13, `fleetctl db copy --to postgres://…`). The source is read inside
// one SQLite read transaction, so it may be copied while its server keeps
// writing and the copy is one consistent moment of it. The target is written
// in one PostgreSQL transaction and verified (row counts per table, every
// cabinet's chain head) before it commits: a failed or mismatched copy leaves
// the target empty, so the remedy is always "fix and run again". One
// transaction rather than a resumable copy: a resumed copy of a live source
// would join two moments of it (chain heads of one, sales of another).
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { sql, type Kysely } from 'kysely'
import type { Logger } from 'pino'
import { DB_FILE, openFleetDb, SCHEMA_VERSION, type Executor, type FleetDb } from './database.js'
import type { Schema } from './schema.js'
import { Database, type SqliteDatabase } from './sqlite.js'

/**
 * Every name of schema.ts, table or view. `satisfies` makes a table added to
 * the schema without a line here a compile error, so none is left behind.
 */
const RELATIONS = {
  alerts: 'table',
  bootstrap_codes: 'table',
  cabinet_certified_state: 'table',
  cabinet_clock_flags: 'table',
  cabinet_commands: 'table',
  cabinet_day_certified: 'table',
  cabinet_day_sales: 'table',
  cabinet_day_sku_sales: 'table',
  cabinet_events: 'table',
  cabinet_keys: 'table',
  cabinet_planograms: 'table',
  cabinet_stock: 'table',
  cabinet_stock_reports: 'table',
  // Presence of a running process; copied as it is (empty when the source is SQLite).
  cabinet_presence: 'table',
  cabinet_month_certified: 'table',
  cabinet_sales: 'table',
  cabinet_transitions: 'table',
  cabinets: 'table',
  catalog_history: 'table',
  catalog_versions: 'table',
  cert_application_events: 'table',
  cert_applications: 'table',
  cert_objections: 'table',
  certificates: 'table',
  certified_spans: 'view',
  fleet_servers: 'table',
  forwarding_outbox: 'table',
  forwarding_periods: 'table',
  forwarding_retries: 'table',
  forwarding_sync_marks: 'table',
  login_failures: 'table',
  meta: 'table',
  notification_outbox: 'table',
  notification_subscriptions: 'table',
  products: 'table',
  product_facts: 'table',
  reports: 'table',
  rollout_day_steps: 'table',
  sale_batch_signatures: 'table',
  sale_flags: 'table',
  sale_signature_flags: 'table',
  // SQLite's sale-id lookup (sales/fold.ts); PostgreSQL keeps it as copied and does not use it.
  sale_ids: 'table',
  sales: 'table',
  sessions: 'table',
  suppliers: 'table',
  supplier_owners: 'table',
  tamper_reviews: 'table',
  telemetry_hourly: 'table',
  telemetry_latest: 'table',
  telemetry_raw: 'table',
  users: 'table',
} as const satisfies Record<keyof Schema, 'table' | 'view'>

/** The tables copied (views are derived, not copied). */
export const COPIED_TABLES: readonly string[] = Object.entries(RELATIONS)
  .filter(([, kind]) => kind === 'table')
  .map(([name]) => name)
  .sort()

/**
 * Rows per INSERT: one JSON parameter per batch, so no bind-parameter limit;
 * 2,000 sale rows are ~1 MiB of JSON. Measured copying 100,000 sales (a
 * loaded 2-core box): 500 rows 9.0k sales/s, 2,000 11.2k, 8,000 12.2k; the
 * server's inserts and index updates are the cost, so larger batches buy
 * little and hold more memory.
 */
export const BATCH_ROWS = 2_000

export type CopyRefusal =
  | 'SOURCE_MISSING'
  | 'SOURCE_BUSY'
  | 'SOURCE_VERSION'
  | 'TARGET_UNREACHABLE'
  | 'TARGET_VERSION'
  | 'TARGET_NOT_EMPTY'
  | 'SCHEMA_MISMATCH'
  | 'VERIFY_FAILED'

/** Why a copy was refused or failed; `message` is Chinese, for the operator. */
export class DbCopyError extends Error {
  constructor(
    readonly code: CopyRefusal,
    message: string,
    readonly details: readonly string[] = [],
  ) {
    super(message)
    this.name = 'DbCopyError'
  }
}

export interface CopyProgress {
  readonly table: string
  readonly copied: number
  readonly total: number
}

export interface CopyOptions {
  readonly batchRows?: number
  /** Called when a table starts and after each batch; the copy waits for a returned promise. */
  readonly onProgress?: (p: CopyProgress) => void | Promise<void>
  /**
   * What is derived in the source and may lag it (the sales fold): `run`
   * brings it up to date, `done` tells, inside the copy's snapshot, whether
   * the snapshot has it up to date. A running server may commit between the
   * two; the copy then takes a new snapshot (fleetctl passes sales/fold-leftover.ts).
   */
  readonly settle?: { run(source: FleetDb): Promise<void>; done(conn: SqliteDatabase): boolean }
}

/** Snapshots tried before a copy of a source its server writes too fast to catch settled gives up. */
const SETTLE_ATTEMPTS = 20

export interface CopyReport {
  readonly schemaVersion: number
  /** Rows per table, in the order copied (parents before children). */
  readonly tables: ReadonlyArray<{ readonly table: string; readonly rows: number }>
  /** Cabinets whose chain head (last_seq, last_hash, hash of that sale) matched on both. */
  readonly chainHeads: number
  readonly elapsedMs: number
}

/** A difference found by {@link compareCopy}, in words for the operator. */
export type Mismatch = string

/**
 * Copies the SQLite database under `dataDir` into the PostgreSQL database at
 * `targetUrl` (created schema or empty), verifies it, and commits. Throws
 * {@link DbCopyError} for a refusal or a mismatch, leaving the target as it was.
 */
export async function copySqliteToPostgres(dataDir: string, targetUrl: string, log: Logger, opts: CopyOptions = {}): Promise<CopyReport> {
  const started = Date.now()
  const file = join(dataDir, DB_FILE)
  if (!existsSync(file)) throw new DbCopyError('SOURCE_MISSING', `找不到源数据库 ${file}（请用 --data 或 FLEET_DATA_DIR 指定数据目录）`)
  // Checked before openFleetDb, which would upgrade an older file in place.
  const version = sourceVersion(file)
  if (version !== SCHEMA_VERSION) {
    throw new DbCopyError('SOURCE_VERSION', `源数据库结构版本为 ${version}，本程序为 ${SCHEMA_VERSION}：请先用同一版本的专柜管理平台打开它（升级），或换用与之匹配的版本执行复制`)
  }
  const source = await openFleetDb({ dialect: 'sqlite', dataDir }, log)
  try {
    let target: FleetDb
    try {
      target = await openFleetDb({ dialect: 'postgres', url: targetUrl }, log)
    } catch (err) {
      const msg = (err as Error).message
      if (/newer than this server knows/.test(msg)) throw new DbCopyError('TARGET_VERSION', `目标 PostgreSQL 数据库的结构版本高于本程序（${SCHEMA_VERSION}），拒绝复制`)
      throw new DbCopyError('TARGET_UNREACHABLE', `无法打开目标 PostgreSQL 数据库（${msg}）`)
    }
    try {
      const plan = await planCopy(source, target.kysely)
      let result: Awaited<ReturnType<typeof copyInSnapshot>> = null
      for (let attempt = 1; result === null; attempt++) {
        if (attempt > SETTLE_ATTEMPTS) throw new DbCopyError('SOURCE_BUSY', `源数据库写入过于频繁，${SETTLE_ATTEMPTS} 次都未能取得销售汇总完整的一致快照：请在业务低峰时重试`)
        await opts.settle?.run(source)
        result = await source.exclusive((conn) => copyInSnapshot(conn, target, plan, opts))
      }
      log.info({ tables: result.tables.length, chainHeads: result.chainHeads }, 'database copied to PostgreSQL')
      return { schemaVersion: SCHEMA_VERSION, ...result, elapsedMs: Date.now() - started }
    } finally {
      await target.close()
    }
  } finally {
    await source.close()
  }
}

function sourceVersion(file: string): number {
  const db = new Database(file, { readonly: true, fileMustExist: true })
  try {
    return db.pragma('user_version', { simple: true }) as number
  } finally {
    db.close()
  }
}

interface TablePlan {
  readonly table: string
  /** Columns referencing this same table (certificates.renews): filled after all its rows exist. */
  readonly selfRefs: readonly string[]
  readonly primaryKey: readonly string[]
  readonly identity: readonly string[]
}

/** Checks both schemas hold the same tables and columns, and orders the tables parents first. */
async function planCopy(source: FleetDb, target: Kysely<Schema>): Promise<TablePlan[]> {
  const liteCols = await source.exclusive((c) => {
    const out = new Map<string, string[]>()
    const tables = c.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[]
    for (const { name } of tables) out.set(name, (c.prepare(`PRAGMA table_info(${quote(name)})`).all() as { name: string }[]).map((x) => x.name).sort())
    return out
  })
  const pgRows = await sql<{ table_name: string; column_name: string; is_identity: string }>`
    SELECT c.table_name, c.column_name, c.is_identity FROM information_schema.columns c
    JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
    WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' AND c.table_name <> 'schema_migrations'`.execute(target)
  const pgCols = new Map<string, string[]>()
  const identity = new Map<string, string[]>()
  for (const r of pgRows.rows) {
    pgCols.set(r.table_name, [...(pgCols.get(r.table_name) ?? []), r.column_name])
    if (r.is_identity === 'YES') identity.set(r.table_name, [...(identity.get(r.table_name) ?? []), r.column_name])
  }
  const problems: string[] = []
  const names = new Set([...COPIED_TABLES, ...liteCols.keys(), ...pgCols.keys()])
  for (const t of [...names].sort()) {
    const a = liteCols.get(t)
    const b = pgCols.get(t)?.sort()
    if (!COPIED_TABLES.includes(t)) problems.push(`表 ${t} 不在本程序的数据结构中`)
    else if (!a) problems.push(`源数据库缺少表 ${t}`)
    else if (!b) problems.push(`目标数据库缺少表 ${t}`)
    else if (a.join(',') !== b.join(',')) problems.push(`表 ${t} 的列不一致：源 ${a.join(',')}；目标 ${b.join(',')}`)
  }
  if (problems.length > 0) throw new DbCopyError('SCHEMA_MISMATCH', `源与目标的数据结构不一致，拒绝复制：\n${problems.join('\n')}`, problems)

  const fks = await sql<{ child: string; parent: string; columns: string[] }>`
    SELECT ch.relname AS child, pa.relname AS parent,
           array(SELECT a.attname::text FROM unnest(c.conkey) k JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k) AS columns
    FROM pg_constraint c
    JOIN pg_class ch ON ch.oid = c.conrelid
    JOIN pg_class pa ON pa.oid = c.confrelid
    WHERE c.contype = 'f' AND ch.relnamespace = current_schema()::regnamespace`.execute(target)
  const pks = await sql<{ table: string; columns: string[] }>`
    SELECT t.relname AS table, array(SELECT a.attname::text FROM unnest(i.indkey) k JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k) AS columns
    FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
    WHERE i.indisprimary AND t.relnamespace = current_schema()::regnamespace`.execute(target)
  const primaryKey = new Map(pks.rows.map((r) => [r.table, r.columns]))

  const parents = new Map<string, Set<string>>(COPIED_TABLES.map((t) => [t, new Set()]))
  const selfRefs = new Map<string, string[]>()
  for (const fk of fks.rows) {
    if (fk.child === fk.parent) selfRefs.set(fk.child, [...(selfRefs.get(fk.child) ?? []), ...fk.columns])
    else parents.get(fk.child)?.add(fk.parent)
  }
  // Parents first (Kahn's algorithm, ties by name so the order is stable).
  const order: TablePlan[] = []
  const done = new Set<string>()
  while (done.size < COPIED_TABLES.length) {
    const next = COPIED_TABLES.find((t) => !done.has(t) && [...parents.get(t)!].every((p) => done.has(p)))
    if (!next) throw new DbCopyError('SCHEMA_MISMATCH', '目标数据库的外键成环，无法确定复制顺序')
    done.add(next)
    const self = selfRefs.get(next) ?? []
    const pk = primaryKey.get(next) ?? []
    if (self.length > 0 && pk.length === 0) throw new DbCopyError('SCHEMA_MISMATCH', `表 ${next} 引用自身却没有主键，无法复制`)
    order.push({ table: next, selfRefs: self, primaryKey: pk, identity: identity.get(next) ?? [] })
  }
  return order
}

/**
 * The copy proper, holding the source connection: one read transaction on
 * SQLite (WAL gives it a snapshot; the server's writers are not blocked, only
 * checkpoints wait for it to end) and one write transaction on PostgreSQL.
 */
/** The copy of one snapshot of the source; null when that snapshot is not settled (see CopyOptions.settle). */
async function copyInSnapshot(conn: SqliteDatabase, target: FleetDb, plan: readonly TablePlan[], opts: CopyOptions): Promise<Omit<CopyReport, 'schemaVersion' | 'elapsedMs'> | null> {
  const batchRows = opts.batchRows ?? BATCH_ROWS
  conn.exec('BEGIN')
  try {
    // The first read fixes the snapshot; everything after reads the same moment.
    if (opts.settle && !opts.settle.done(conn)) return null
    const totals = new Map(plan.map((p) => [p.table, countRows(conn, p.table)]))
    return await target.kysely.transaction().execute(async (tx) => {
      const busy = await nonEmptyTables(tx, plan)
      if (busy.length > 0) {
        throw new DbCopyError('TARGET_NOT_EMPTY', `目标数据库已有数据（${busy.join('、')}），拒绝复制：请指定一个新建的空数据库`, busy)
      }
      for (const p of plan) {
        const total = totals.get(p.table)!
        let copied = 0
        await opts.onProgress?.({ table: p.table, copied, total })
        const flush = async (rows: Record<string, unknown>[]): Promise<void> => {
          const json = JSON.stringify(p.selfRefs.length === 0 ? rows : rows.map((r) => ({ ...r, ...Object.fromEntries(p.selfRefs.map((c) => [c, null])) })))
          await sql`INSERT INTO ${sql.table(p.table)} SELECT * FROM json_populate_recordset(NULL::${sql.table(p.table)}, ${json}::json)`.execute(tx)
          copied += rows.length
          await opts.onProgress?.({ table: p.table, copied, total })
        }
        await inBatches(conn, `SELECT * FROM ${quote(p.table)}`, batchRows, flush)
        if (p.selfRefs.length > 0) await fillSelfRefs(conn, tx, p, batchRows)
        for (const col of p.identity) {
          // Rows came with their ids; the next id the server draws must follow the largest.
          await sql`SELECT setval(pg_get_serial_sequence(${p.table}, ${col}), max(${sql.ref(col)})) FROM ${sql.table(p.table)}`.execute(tx)
        }
      }
      const mismatches = await compareCopy(conn, tx, plan.map((p) => p.table))
      if (mismatches.length > 0) {
        throw new DbCopyError('VERIFY_FAILED', `复制后校验不一致，已回滚（目标数据库未写入）：\n${mismatches.slice(0, 20).join('\n')}`, mismatches)
      }
      return { tables: plan.map((p) => ({ table: p.table, rows: totals.get(p.table)! })), chainHeads: (await chainHeadsOf(tx)).size }
    })
  } finally {
    conn.exec('COMMIT')
  }
}

/** Streams a statement's rows to `flush` in batches; never more than one batch in memory. */
async function inBatches(conn: SqliteDatabase, query: string, batchRows: number, flush: (rows: Record<string, unknown>[]) => Promise<void>): Promise<void> {
  let batch: Record<string, unknown>[] = []
  for (const row of conn.prepare<[], Record<string, unknown>>(query).iterate()) {
    batch.push(row)
    if (batch.length >= batchRows) {
      await flush(batch)
      batch = []
    }
  }
  if (batch.length > 0) await flush(batch)
}

/** Second pass for self-references: every row now exists, so each may point at any other. */
async function fillSelfRefs(conn: SqliteDatabase, tx: Executor, p: TablePlan, batchRows: number): Promise<void> {
  const set = sql.join(p.selfRefs.map((c) => sql`${sql.ref(c)} = j.${sql.ref(c)}`))
  const on = sql.join(p.primaryKey.map((c) => sql`d.${sql.ref(c)} = j.${sql.ref(c)}`), sql` AND `)
  const cols = [...p.primaryKey, ...p.selfRefs].map(quote).join(', ')
  const where = p.selfRefs.map((c) => `${quote(c)} IS NOT NULL`).join(' OR ')
  await inBatches(conn, `SELECT ${cols} FROM ${quote(p.table)} WHERE ${where}`, batchRows, async (rows) => {
    await sql`UPDATE ${sql.table(p.table)} AS d SET ${set} FROM json_populate_recordset(NULL::${sql.table(p.table)}, ${JSON.stringify(rows)}::json) AS j WHERE ${on}`.execute(tx)
  })
}

async function nonEmptyTables(tx: Executor, plan: readonly TablePlan[]): Promise<string[]> {
  const busy: string[] = []
  for (const p of plan) {
    const r = await sql<{ any: boolean }>`SELECT EXISTS (SELECT 1 FROM ${sql.table(p.table)}) AS any`.execute(tx)
    if (r.rows[0]?.any) busy.push(p.table)
  }
  return busy
}

const countRows = (conn: SqliteDatabase, table: string): number => (conn.prepare(`SELECT count(*) AS n FROM ${quote(table)}`).get() as { n: number }).n

interface ChainHead {
  readonly lastSeq: number
  readonly lastHash: string
  /** Hash of the stored sale at last_seq; null when that sale is missing. */
  readonly saleHash: string | null
}

const HEADS_SQL = `
  SELECT cs.cabinet_id, cs.last_seq, cs.last_hash, s.hash AS sale_hash
  FROM cabinet_sales cs LEFT JOIN sales s ON s.cabinet_id = cs.cabinet_id AND s.seq = cs.last_seq`

type HeadRow = { cabinet_id: string; last_seq: number; last_hash: string; sale_hash: string | null }

const toHeads = (rows: readonly HeadRow[]): Map<string, ChainHead> => new Map(rows.map((r) => [r.cabinet_id, { lastSeq: r.last_seq, lastHash: r.last_hash, saleHash: r.sale_hash }]))

async function chainHeadsOf(ex: Executor): Promise<Map<string, ChainHead>> {
  return toHeads((await sql<HeadRow>`${sql.raw(HEADS_SQL)}`.execute(ex)).rows)
}

/**
 * Differences between the SQLite source (read on `conn`, inside the caller's
 * snapshot) and the PostgreSQL target: row counts of every table, and every
 * cabinet's chain head — last_seq, last_hash and the hash of the sale stored
 * at last_seq.
 */
export async function compareCopy(conn: SqliteDatabase, target: Executor, tables: readonly string[] = COPIED_TABLES): Promise<Mismatch[]> {
  const out: Mismatch[] = []
  for (const t of tables) {
    const a = countRows(conn, t)
    const r = await sql<{ n: number }>`SELECT count(*) AS n FROM ${sql.table(t)}`.execute(target)
    const b = r.rows[0]!.n
    if (a !== b) out.push(`表 ${t}：源 ${a} 行，目标 ${b} 行`)
  }
  const src = toHeads(conn.prepare(HEADS_SQL).all() as HeadRow[])
  const dst = await chainHeadsOf(target)
  for (const [id, a] of src) {
    const b = dst.get(id)
    if (!b) out.push(`专柜 ${id}：目标缺少账本链头`)
    else if (a.lastSeq !== b.lastSeq || a.lastHash !== b.lastHash || a.saleHash !== b.saleHash) {
      out.push(`专柜 ${id}：链头不一致（源 第${a.lastSeq}笔 ${a.lastHash.slice(0, 12)}…/${a.saleHash?.slice(0, 12) ?? '无'}，目标 第${b.lastSeq}笔 ${b.lastHash.slice(0, 12)}…/${b.saleHash?.slice(0, 12) ?? '无'}）`)
    }
  }
  for (const id of dst.keys()) if (!src.has(id)) out.push(`专柜 ${id}：目标多出账本链头`)
  return out
}

/**
 * Compares a finished copy with its source as they are now (the source inside
 * one read transaction). For an operator's re-check, and for tests.
 */
export async function verifyCopy(source: FleetDb, target: FleetDb): Promise<Mismatch[]> {
  return source.exclusive(async (conn) => {
    conn.exec('BEGIN')
    try {
      return await compareCopy(conn, target.kysely)
    } finally {
      conn.exec('COMMIT')
    }
  })
}

const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`
