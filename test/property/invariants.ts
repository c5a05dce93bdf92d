// What the property suites check after each hostile input: the stored data
// (a content hash per table, every table in sqlite_master, so a table added
// by a later migration is covered without editing this), and the routes the
// running server serves (read from Fastify itself, so a new route is fuzzed
// without editing the tests).
import { createHash } from 'node:crypto'
import type { FastifyInstance, HTTPMethods } from 'fastify'
import type { FleetDb } from '../../fleet-server/src/db/database.js'
import { sqlRow, sqlRows } from '../helpers/test-db.js'

export type TableHashes = ReadonlyMap<string, string>

/**
 * A content hash of each table whose name passes `include` (all by default).
 * Row order is ignored (PostgreSQL returns rows in no fixed order): each row
 * is hashed and the sorted row hashes make the table's hash.
 */
export async function snapshotTables(db: FleetDb, include: (table: string) => boolean = () => true): Promise<TableHashes> {
  const names = (
    db.dialect === 'sqlite'
      ? await sqlRows<{ name: string }>(db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
      : await sqlRows<{ name: string }>(db, "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations' ORDER BY 1")
  ).map((r) => r.name)
  const out = new Map<string, string>()
  for (const name of names.filter(include)) {
    const rows = await sqlRows(db, `SELECT * FROM "${name.replaceAll('"', '""')}"`)
    const h = createHash('sha256')
    for (const r of rows.map((row) => createHash('sha256').update(JSON.stringify(row)).digest('hex')).sort()) h.update(r)
    out.set(name, h.digest('hex'))
  }
  return out
}

/**
 * snapshotTables(), recomputed only when the database says something may have
 * been written. SQLite: total_changes() counts every row this connection
 * inserted, updated or deleted (the fleet server has one connection),
 * data_version moves when another connection commits. PostgreSQL: the WAL
 * insert position moves with any write on the server. Unchanged counters mean
 * unchanged rows, so most rejected requests cost a counter read, not a full hash.
 */
export function tableSnapshots(db: FleetDb, include?: (table: string) => boolean): () => Promise<TableHashes> {
  const counter = async (): Promise<string> => {
    if (db.dialect === 'sqlite') {
      const c = await sqlRow<{ changes: number; version: number }>(db, 'SELECT total_changes() AS changes, (SELECT data_version FROM pragma_data_version) AS version')
      return `${c!.changes}:${c!.version}`
    }
    return (await sqlRow<{ lsn: string }>(db, 'SELECT pg_current_wal_insert_lsn()::text AS lsn'))!.lsn
  }
  let key = ''
  let hashes: TableHashes = new Map()
  return async () => {
    const k = await counter()
    if (k !== key) {
      hashes = await snapshotTables(db, include)
      key = k
    }
    return hashes
  }
}

/** Tables whose hash differs between two snapshots (added or dropped tables count). */
export function changedTables(before: TableHashes, after: TableHashes): string[] {
  const names = new Set([...before.keys(), ...after.keys()])
  return [...names].filter((n) => before.get(n) !== after.get(n)).sort()
}

export interface RouteEntry {
  readonly method: HTTPMethods
  /** Fastify's form: /api/v1/cabinets/:id */
  readonly url: string
}

/**
 * Every method + URL the app serves, parsed from printRoutes() (Fastify has
 * no route list after ready, and onRoute is too late by then). Each parsed
 * entry is confirmed with hasRoute(), so a change in the print format fails
 * loudly instead of shrinking the list.
 */
export function routeTable(app: FastifyInstance): RouteEntry[] {
  const text = app.printRoutes({ commonPrefix: false })
  const stack: string[] = [] // path at each depth
  const out: RouteEntry[] = []
  for (const line of text.split('\n')) {
    const m = /^(.*?)[├└]── (.+?)(?: \(([A-Z, ]+)\))?$/.exec(line)
    if (!m) continue
    const depth = m[1]!.length / 4
    const parent = depth === 0 ? '' : stack[depth - 1]!
    const seg = m[2]!
    const path = parent.endsWith('/') && seg.startsWith('/') ? parent + seg.slice(1) : parent + seg
    stack[depth] = path
    stack.length = depth + 1
    for (const method of (m[3] ?? '').split(', ').filter(Boolean)) out.push({ method: method as HTTPMethods, url: path })
  }
  for (const r of out) {
    if (!app.hasRoute({ method: r.method, url: r.url })) throw new Error(`route table parse gave ${r.method} ${r.url}, which the app does not serve`)
  }
  return out
}

/**
 * Errors that escape to the process (a handler throwing inside an aedes or
 * timer callback). In production they end the server; under vitest they are
 * only reported at the end, so the suites collect them and fail the input.
 */
export function watchUncaught(): { readonly errors: unknown[]; stop(): void } {
  const errors: unknown[] = []
  const onError = (err: unknown): void => void errors.push(err)
  process.on('uncaughtException', onError)
  process.on('unhandledRejection', onError)
  return {
    errors,
    stop() {
      process.off('uncaughtException', onError)
      process.off('unhandledRejection', onError)
    },
  }
}
