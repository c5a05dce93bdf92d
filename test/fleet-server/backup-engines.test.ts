// The backup service on each engine (issue 13): it copies an SQLite database;
// on PostgreSQL it is off and says so with BACKUP_NOT_SQLITE (pg_dump and
// streaming replication are that engine's tools), listing and serving nothing.
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ERROR_CODES } from '../../shared/src/index.js'
import { createBackupService } from '../../fleet-server/src/backup/index.js'
import { openFleetDb, type FleetDb } from '../../fleet-server/src/db/database.js'
import { tempDir } from '../helpers/fleet.js'
import { startPostgres, type Postgres } from '../helpers/postgres.js'

const log = pino({ level: 'silent' })
const now = () => new Date('2026-12-05T02:00:00Z')

describe('backup service on each engine', () => {
  let server: Postgres
  const open: FleetDb[] = []
  beforeAll(async () => {
    server = await startPostgres()
  })
  afterAll(async () => {
    for (const db of open) await db.close()
    await server?.close()
  })

  it('takes, lists and serves a backup of an SQLite database', async () => {
    const database = await openFleetDb({ dialect: 'sqlite', dataDir: await tempDir('backup-lite-') }, log)
    open.push(database)
    const dir = join(await tempDir('backup-lite-out-'), 'backups')
    const svc = createBackupService({ database, dir, keep: 3, now, log })
    expect(svc.available).toBe(true)
    const f = await svc.runOnce('api')
    expect(await svc.list()).toEqual([f.name])
    expect(await svc.pathOf(f.name)).toBe(join(dir, f.name))
    await svc.close()
  })

  it('is off on PostgreSQL: BACKUP_NOT_SQLITE (409, zh-CN text pointing at pg_dump), nothing listed, no file written', async () => {
    const database = await openFleetDb({ dialect: 'postgres', url: await server.newDatabase('backup_off') }, log)
    open.push(database)
    const dir = join(await tempDir('backup-pg-out-'), 'backups')
    const svc = createBackupService({ database, dir, keep: 3, now, log })
    expect(svc.available).toBe(false)
    await expect(svc.runOnce('api')).rejects.toMatchObject({ code: 'BACKUP_NOT_SQLITE', statusCode: 409 })
    expect(ERROR_CODES.BACKUP_NOT_SQLITE).toContain('pg_dump')
    expect(await svc.list()).toEqual([])
    await expect(svc.pathOf('fleet-2026-12-05T02-00-00Z.db')).rejects.toMatchObject({ code: 'BACKUP_NOT_FOUND' })
    expect(await readdir(dir).catch(() => [])).toEqual([])
    await svc.close()
  })
})
