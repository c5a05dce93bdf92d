// The fleet database: one SQLite file per server, opened with the durability
// settings the ledger needs, migrated to the latest schema before use.
// Domains reach it only through their own store.ts.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { Database, type SqliteDatabase } from './sqlite.js'
import type { Logger } from 'pino'
import { MIGRATIONS, type Migration } from './migrations.js'

export type Db = SqliteDatabase

export const DB_FILE = 'fleet.db'

/**
 * WAL pages between automatic checkpoints (~40 MiB at 4 KiB pages). Sale
 * ingest is this database's write load: at SQLite's default of 1,000 pages a
 * checkpoint (copy back + fsync) runs every few ticks and was measured at over
 * half the cost of an insert; hot B-tree pages rewritten many times are copied
 * back once per checkpoint, so fewer checkpoints cost less in total.
 */
export const WAL_AUTOCHECKPOINT_PAGES = 10_000

/**
 * Page cache, KiB (SQLite's default is 2 MiB). Sale ids are UUIDv7 of each
 * controller's sale time, so a fleet replaying days of offline sales inserts
 * all over the sales indexes; a cache sized for the hot index pages of a large
 * fleet keeps those inserts from re-reading pages. Costs up to this much RSS.
 */
export const CACHE_KIB = 64 * 1024

/** Opens (creating when absent) `${dataDir}/fleet.db` and applies pending migrations. */
export function openDatabase(dataDir: string, log: Logger): Db {
  mkdirSync(dataDir, { recursive: true })
  const db = new Database(join(dataDir, DB_FILE))
  try {
    db.pragma('journal_mode = WAL')
    // WAL defaults to synchronous=NORMAL in this build, which may lose the last
    // commits on power loss; a committed ack must survive it.
    db.pragma('synchronous = FULL')
    db.pragma('foreign_keys = ON')
    db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`)
    db.pragma(`cache_size = -${CACHE_KIB}`)
    db.pragma('busy_timeout = 5000') // 5 s: a backup or sqlite3 shell holding a lock briefly
    migrate(db, MIGRATIONS, log)
  } catch (err) {
    db.close()
    throw err
  }
  return db
}

/** Applies migrations newer than PRAGMA user_version, each atomically with its version bump. */
export function migrate(db: Db, migrations: readonly Migration[], log: Logger): void {
  const current = db.pragma('user_version', { simple: true }) as number
  const latest = migrations.at(-1)?.version ?? 0
  if (current > latest) {
    throw new Error(`database schema version ${current} is newer than this server knows (${latest}); refusing to run an older server on it`)
  }
  for (const m of migrations) {
    if (m.version <= current) continue
    db.transaction(() => {
      db.exec(m.sql)
      db.pragma(`user_version = ${m.version}`)
    })()
    log.info({ version: m.version, name: m.name }, 'database migrated')
  }
}

/**
 * A slice of the cabinets in id order: ids after `after` up to and including
 * `through` (SQLite's binary order, which is JS's for the ASCII ids). Work over
 * the whole fleet that would hold the event loop too long runs slice by slice.
 */
export interface CabinetRange {
  readonly after: string
  readonly through: string
}

/** Above every cabinet id (ids are ASCII). */
const ID_MAX = '\uffff'

/** Every cabinet. */
export const ALL_CABINETS: CabinetRange = Object.freeze({ after: '', through: ID_MAX })

/** The range of ids[from..to) in a sorted list; the last slice is open-ended so nothing is missed. */
export function rangeOf(ids: readonly string[], from: number, to: number): CabinetRange {
  return { after: from === 0 ? '' : ids[from - 1]!, through: to >= ids.length ? ID_MAX : ids[to - 1]! }
}

export const inRange = (r: CabinetRange, id: string): boolean => id > r.after && id <= r.through
