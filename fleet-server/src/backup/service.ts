// Backups of the embedded store: one at a time (the API and the daily job
// share a queue), each followed by retention once it is known good.
// SQLite only: on PostgreSQL the service is off (runOnce refuses with
// BACKUP_NOT_SQLITE, nothing is listed): pg_dump and streaming replication
// are that engine's tools (README, "PostgreSQL").
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { AppError } from '../../../shared/src/index.js'
import type { FleetDb } from '../db/database.js'
import { takeBackup, type BackupFile } from './backup.js'
import { isBackupName, listBackups, prune, removePartials } from './files.js'

export interface BackupService {
  readonly dir: string
  /** False on PostgreSQL: no backups are taken, kept or scheduled here. */
  readonly available: boolean
  /**
   * Takes one backup now (queued behind one in progress), then keeps the
   * newest `keep`. AppError BACKUP_NOT_SQLITE on PostgreSQL.
   */
  runOnce(reason: 'api' | 'schedule'): Promise<BackupFile>
  /** Good backups, newest first; none on PostgreSQL. */
  list(): Promise<string[]>
  /** Absolute path of a listed backup; AppError BACKUP_NOT_FOUND otherwise. */
  pathOf(name: string): Promise<string>
  /** Waits for a backup in progress; later calls to runOnce are refused. */
  close(): Promise<void>
}

export const backupNotSqlite = () =>
  new AppError('BACKUP_NOT_SQLITE', 'the server keeps backups of an SQLite database only; back up PostgreSQL with pg_dump or streaming replication', 409)

export function createBackupService(deps: { database: FleetDb; dir: string; keep: number; now: () => Date; log: Logger }): BackupService {
  const { database, dir, keep, now, log } = deps
  const available = database.dialect === 'sqlite'
  // Once at start, so an operator who set FLEET_BACKUP_DIR learns why it stays empty.
  if (!available) log.info({ dialect: database.dialect }, 'built-in backups are off on PostgreSQL; use pg_dump or streaming replication')
  let tail: Promise<unknown> = Promise.resolve()
  let closed = false

  async function once(reason: string): Promise<BackupFile> {
    try {
      await mkdir(dir, { recursive: true })
      await removePartials(dir)
    } catch (err) {
      throw new AppError('BACKUP_FAILED', `backup directory ${dir} is not usable: ${(err as Error).message}`, 500, undefined, `备份目录 “${dir}” 不可用`)
    }
    const started = Date.now()
    const file = await takeBackup(database.sqlite!, dir, now())
    const removed = await prune(dir, keep)
    log.info({ reason, file: file.name, bytes: file.bytes, ms: Date.now() - started, removed }, 'database backed up')
    return file
  }

  return {
    dir,
    available,
    runOnce(reason) {
      if (!available) return Promise.reject(backupNotSqlite())
      if (closed) return Promise.reject(new AppError('BACKUP_FAILED', 'the server is shutting down', 503, undefined, '服务器正在关闭'))
      const run = tail.then(() => once(reason))
      tail = run.catch((err: unknown) => log.error({ err, reason }, 'database backup failed'))
      return run
    },
    list: async () => (available ? listBackups(dir) : []),
    async pathOf(name) {
      if (!available || !isBackupName(name) || !(await listBackups(dir)).includes(name)) {
        throw new AppError('BACKUP_NOT_FOUND', `no backup named ${name}`, 404, undefined, `“${name}”`)
      }
      return join(dir, name)
    },
    async close() {
      closed = true
      await tail
    },
  }
}
