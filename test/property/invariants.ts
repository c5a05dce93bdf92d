// What the property suites check after each hostile input: the stored data
// (a content hash per table, every table in sqlite_master, so a table added
// by a later migration is covered without editing this), and the routes the
// running server serves (read from Fastify itself, so a new route is fuzzed
// without editing the tests).
import { createHash } from 'node:crypto'
import type { FastifyInstance, HTTPMethods } from 'fastify'
import type { Db } from '../../fleet-server/src/db/index.js'

export type TableHashes = ReadonlyMap<string, string>

/** A content hash of each table whose name passes `include` (all by default). */
export function snapshotTables(db: Db, include: (table: string) => boolean = () => true): TableHashes {
  const names = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    .pluck()
    .all() as string[]
  const out = new Map<string, string>()
  for (const name of names.filter(include)) {
    const h = createHash('sha256')
    for (const row of db.prepare(`SELECT * FROM "${name.replaceAll('"', '""')}"`).iterate()) h.update(JSON.stringify(row)).update('\n')
    out.set(name, h.digest('hex'))
  }
  return out
}

/**
 * snapshotTables(), recomputed only when SQLite says something may have
 * been written: total_changes() counts every row this connection inserted,
 * updated or deleted (the fleet server has one connection), data_version
 * moves when another connection commits. Unchanged counters mean unchanged
 * rows, so most rejected requests cost two counter reads, not a full hash.
 */
export function tableSnapshots(db: Db, include?: (table: string) => boolean): () => TableHashes {
  const counters = db.prepare('SELECT total_changes() AS changes, (SELECT data_version FROM pragma_data_version) AS version')
  let key = ''
  let hashes: TableHashes = new Map()
  return () => {
    const c = counters.get() as { changes: number; version: number }
    const k = `${c.changes}:${c.version}`
    if (k !== key) {
      hashes = snapshotTables(db, include)
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
