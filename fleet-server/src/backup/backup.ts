// One online backup of the live database: SQLite's backup API copies it page
// by page between event-loop turns (consistent while the server keeps
// writing; a hand copy of a WAL database is not), into a .partial file that
// is verified and fsynced before it is renamed to a backup's name. A crash or
// a failed check at any point leaves no file that looks like a good backup.
import { open, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { AppError } from '../../../shared/src/index.js'
import type { Db } from '../db/index.js'
import { backupName, PARTIAL_SUFFIX } from './files.js'
import { verifyCopy } from './verify.js'

export interface BackupFile {
  /** File name inside the backup directory, e.g. fleet-2026-12-05T02-00-00Z.db. */
  readonly name: string
  readonly path: string
  readonly bytes: number
  /** When the copy was started (UTC ISO): it holds what was committed by then, or a little later. */
  readonly takenAt: string
}

async function fsyncPath(path: string): Promise<void> {
  const h = await open(path, 'r')
  try {
    await h.sync()
  } finally {
    await h.close()
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false)
}

/**
 * Copies `db` into `dir` (which must exist) under a new timestamped name.
 * Throws AppError BACKUP_FAILED, leaving nothing under a backup's name, when
 * the copy or its check fails.
 */
export async function takeBackup(db: Db, dir: string, at: Date): Promise<BackupFile> {
  let n = 1
  while (await exists(join(dir, backupName(at, n)))) n++
  const name = backupName(at, n)
  const path = join(dir, name)
  const partial = `${path}${PARTIAL_SUFFIX}`
  try {
    // On the shared connection but outside FleetDb.exclusive(), which would
    // stall every query for the whole copy: each step of SQLite's backup
    // answers BUSY (better-sqlite3 tries again next turn) while the connection
    // is inside a write transaction, so one open across awaits is never copied
    // half-done; the pragma only reads the file header.
    await db.backup(partial)
    const verdict = await verifyCopy(partial)
    const expected = db.pragma('user_version', { simple: true }) as number
    if (verdict.problems.length > 0) throw new Error(`integrity_check: ${verdict.problems.slice(0, 5).join('; ')}`)
    if (verdict.userVersion !== expected) throw new Error(`schema version ${verdict.userVersion} in the copy, ${expected} in the database`)
    // Durable before it is named: the rename must never expose a file whose pages are still in the page cache.
    await fsyncPath(partial)
    await rename(partial, path)
    await fsyncPath(dir)
  } catch (err) {
    await rm(partial, { force: true })
    await rm(`${partial}-journal`, { force: true })
    throw new AppError('BACKUP_FAILED', `backup ${name} failed: ${(err as Error).message}`, 500, { name })
  }
  return { name, path, bytes: (await stat(path)).size, takenAt: at.toISOString() }
}
