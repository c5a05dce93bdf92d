// Online backups of the embedded store (issue 13): POST /api/v1/admin/backups,
// retention, the daily job, `fleetctl db backup FILE`, and that nothing which
// is not a verified, durable copy ever carries a backup's name. On PostgreSQL
// the service is off (BACKUP_NOT_SQLITE, no daily job); the catch-up after a
// restore works on both.
import { existsSync } from 'node:fs'
import { copyFile, readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import cron from 'node-cron'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import type { Fleet } from '../../fleet-server/src/app.js'
import { BACKUP_CRON, PARTIAL_SUFFIX, takeBackup, verifyCopy } from '../../fleet-server/src/backup/index.js'
import { run } from '../../fleet-server/src/cli/fleetctl.js'
import { DB_FILE, openFleetDb } from '../../fleet-server/src/db/database.js'
import { Database } from '../../fleet-server/src/db/sqlite.js'
import { foldLeftoverSales } from '../../fleet-server/src/sales/fold-leftover.js'
import { api, connectCabinet, provision, startFleet, tempDir } from '../helpers/fleet.js'
import { aBatch, aChain } from '../helpers/sales.js'
import { onPostgres } from '../helpers/test-db.js'
import { CommandMsg, topics } from '../../shared/src/index.js'

const NAME = /^fleet-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ(-\d+)?\.db$/

interface BackupReply { name: string; bytes: number; takenAt: string }

const backupNow = (fleet: Fleet, token?: string) => api<BackupReply>(fleet, 'POST', '/api/v1/admin/backups', undefined, token)

const silent = pino({ level: 'silent' })

function rowsOf(path: string, sql: string): unknown[] {
  const db = new Database(path, { readonly: true, fileMustExist: true })
  try {
    return db.prepare(sql).all()
  } finally {
    db.close()
  }
}

/** A clock that moves only when told to. */
function aClock(iso: string) {
  let t = Date.parse(iso)
  return { now: () => new Date(t), advance: (ms: number) => (t += ms) }
}

async function fleetctl(args: string[], env: Record<string, string>) {
  const out: string[] = []
  const err: string[] = []
  const code = await run(args, env, { out: (l) => out.push(l), err: (l) => err.push(l) })
  return { code, out: out.join('\n'), err: err.join('\n') }
}

describe.skipIf(onPostgres)('database backups', () => {
  it('takes a verified online backup while sales are being committed; the copy holds a consistent prefix of every chain', async () => {
    const fleet = await startFleet({ FLEET_BACKUP_SCHEDULE: 'off' })
    const cab = await provision(fleet)
    const cabinet = await connectCabinet(fleet.mqttUrl, cab)
    const chain = aChain(cab.cabinetId, 400)
    // Sales keep arriving while the backup runs.
    const sending = (async () => {
      for (let i = 0; i < chain.length; i += 20) expect((await cabinet.send(aBatch(cab.cabinetId, chain.slice(i, i + 20)))).status).toBe('committed')
    })()
    const r = await backupNow(fleet)
    await sending
    expect(r.status, JSON.stringify(r.body)).toBe(201)
    expect(r.body.name).toMatch(NAME)
    const path = join(fleet.config.dataDir, 'backups', r.body.name)
    expect(await readdir(join(fleet.config.dataDir, 'backups'))).toEqual([r.body.name])

    // One self-contained file (no -wal needed), sound, with a gapless prefix of the chain
    // and aggregates that agree with it once opened: a transactionally consistent snapshot.
    expect(rowsOf(path, 'PRAGMA journal_mode')).toEqual([{ journal_mode: 'delete' }])
    expect((await verifyCopy(path)).problems).toEqual([])
    const seqs = (rowsOf(path, `SELECT seq FROM sales WHERE cabinet_id = '${cab.cabinetId}' ORDER BY seq`) as Array<{ seq: number }>).map((s) => s.seq)
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1))
    // Sales committed while the backup ran may be beyond the fold's watermark in it (sales/fold.ts);
    // the aggregates hold exactly the sales up to it, and whoever opens the copy folds the rest.
    const watermark = Number((rowsOf(path, "SELECT value FROM meta WHERE key = 'sales_folded_rowid'") as Array<{ value: string }>)[0]!.value)
    const folded = rowsOf(path, `SELECT count(*) AS n, coalesce(max(seq), 0) AS top FROM sales WHERE cabinet_id = '${cab.cabinetId}' AND rowid <= ${watermark}`) as Array<{ n: number; top: number }>
    const head = rowsOf(path, `SELECT sales_count, last_seq FROM cabinet_sales WHERE cabinet_id = '${cab.cabinetId}'`) as Array<{ sales_count: number; last_seq: number }>
    expect(head.length === 0 ? { n: 0, top: 0 } : { n: head[0]!.sales_count, top: head[0]!.last_seq }).toEqual(folded[0])
    const restored = await tempDir()
    await copyFile(path, join(restored, DB_FILE))
    const db = await openFleetDb({ dialect: 'sqlite', dataDir: restored }, silent)
    try {
      await foldLeftoverSales(db, silent)
      expect(await db.exclusive((c) => c.prepare('SELECT sales_count, last_seq FROM cabinet_sales WHERE cabinet_id = ?').get(cab.cabinetId))).toEqual({ sales_count: seqs.length, last_seq: seqs.length })
    } finally {
      await db.close()
    }
    expect(rowsOf(path, 'SELECT cabinet_id FROM cabinets')).toEqual([{ cabinet_id: cab.cabinetId }])
  })

  it('only an admin may take, list or download backups', async () => {
    const fleet = await startFleet({ FLEET_BACKUP_SCHEDULE: 'off' })
    const user = await api<{ token: string }>(fleet, 'POST', '/api/v1/users', { username: 'dy-official', role: 'county', countyCode: '341125' })
    const mine = await backupNow(fleet)
    expect((await backupNow(fleet, user.body.token)).status).toBe(403)
    expect((await api(fleet, 'GET', '/api/v1/admin/backups', undefined, user.body.token)).status).toBe(403)
    expect((await api(fleet, 'GET', `/api/v1/admin/backups/${mine.body.name}`, undefined, user.body.token)).status).toBe(403)
    expect(await readdir(join(fleet.config.dataDir, 'backups'))).toEqual([mine.body.name])
    // Names outside the backup directory's listing are not found, whatever they point at.
    const traversal = await api<{ error: { code: string } }>(fleet, 'GET', `/api/v1/admin/backups/${encodeURIComponent('../fleet.db')}`)
    expect([traversal.status, traversal.body.error.code]).toEqual([404, 'BACKUP_NOT_FOUND'])
  })

  it('keeps the newest FLEET_BACKUP_KEEP backups, names them by UTC time, and never lists or keeps an interrupted one', async () => {
    const clock = aClock('2026-12-01T19:00:00Z')
    const dir = await tempDir('backups-')
    const fleet = await startFleet({ FLEET_BACKUP_DIR: dir, FLEET_BACKUP_KEEP: '2', FLEET_BACKUP_SCHEDULE: 'off' }, { now: clock.now })
    // What a backup killed mid-copy leaves behind.
    const leftover = join(dir, `fleet-2026-11-30T19-00-00Z.db${PARTIAL_SUFFIX}`)
    await writeFile(leftover, 'half a database')
    expect((await api<{ backups: string[] }>(fleet, 'GET', '/api/v1/admin/backups')).body.backups).toEqual([])

    const names: string[] = []
    for (let day = 0; day < 4; day++) {
      names.push((await backupNow(fleet)).body.name)
      clock.advance(24 * 3600_000)
    }
    // Two in the same second get distinct names, the later one listed first.
    clock.advance(-24 * 3600_000)
    names.push((await backupNow(fleet)).body.name)
    expect(names.slice(0, 4)).toEqual(['fleet-2026-12-01T19-00-00Z.db', 'fleet-2026-12-02T19-00-00Z.db', 'fleet-2026-12-03T19-00-00Z.db', 'fleet-2026-12-04T19-00-00Z.db'])
    expect(names[4]).toBe('fleet-2026-12-04T19-00-00Z-2.db')
    expect((await api<{ backups: string[] }>(fleet, 'GET', '/api/v1/admin/backups')).body.backups).toEqual([names[4], names[3]])
    expect((await readdir(dir)).sort()).toEqual([names[3], names[4]].sort())
    expect(existsSync(leftover)).toBe(false)
  })

  it('answers BACKUP_FAILED in Chinese-catalogued JSON when the backup directory is unusable, and the server keeps running', async () => {
    const blocker = join(await tempDir('blocked-'), 'not-a-dir')
    await writeFile(blocker, 'a file where the backup directory should be')
    const fleet = await startFleet({ FLEET_BACKUP_DIR: join(blocker, 'backups'), FLEET_BACKUP_SCHEDULE: 'off' })
    const r = await api<{ error: { code: string; message: string } }>(fleet, 'POST', '/api/v1/admin/backups')
    expect([r.status, r.body.error.code]).toEqual([500, 'BACKUP_FAILED'])
    expect(r.body.error.message).toMatch(/^数据库备份失败，未生成备份文件：备份目录 “.+” 不可用$/)
    expect((await api(fleet, 'GET', '/healthz')).status).toBe(200)
  })

  it('finds a damaged copy unsound', async () => {
    const fleet = await startFleet({ FLEET_BACKUP_SCHEDULE: 'off' })
    await provision(fleet)
    const r = await backupNow(fleet)
    const path = join(fleet.config.dataDir, 'backups', r.body.name)
    const bytes = await readFile(path)
    // Garble everything after the first two pages (the schema stays readable).
    for (let i = 8192; i < bytes.length; i++) bytes[i] = (i * 7) & 0xff
    const damaged = join(await tempDir('damaged-'), 'copy.db')
    await writeFile(damaged, bytes)
    expect((await verifyCopy(damaged)).problems.length).toBeGreaterThan(0)
    expect((await verifyCopy(join(fleet.config.dataDir, 'no-such.db'))).problems.length).toBeGreaterThan(0)
  })

  it('never names a copy that fails its check: a database with a damaged page leaves no backup behind', async () => {
    const work = await tempDir('damaged-live-')
    const path = join(work, 'live.db')
    const setup = new Database(path)
    setup.exec('CREATE TABLE t (x TEXT NOT NULL); CREATE INDEX t_x ON t (x)')
    const insert = setup.prepare('INSERT INTO t (x) VALUES (?)')
    setup.transaction(() => { for (let i = 0; i < 3000; i++) insert.run(`row-${i}-${'x'.repeat(40)}`) })()
    setup.close()
    const bytes = await readFile(path)
    // Scribble over the middle of the file: pages the backup API copies as they are.
    for (let i = Math.floor(bytes.length / 2); i < Math.floor(bytes.length / 2) + 8192; i++) bytes[i] = (i * 13) & 0xff
    await writeFile(path, bytes)
    const live = new Database(path)
    try {
      const dir = await tempDir('damaged-out-')
      await expect(takeBackup(live, dir, new Date('2026-12-05T02:00:00Z'))).rejects.toMatchObject({ code: 'BACKUP_FAILED' })
      expect(await readdir(dir)).toEqual([])
    } finally {
      live.close()
    }
  })

  it('runs a daily 03:00 Asia/Shanghai job that takes a backup, and stops it on close', async () => {
    const fleet = await startFleet({}, { manualClose: true })
    const taskOf = () => [...cron.getTasks().values()].find((t) => t.name === `backup@${fleet.config.dataDir}`)
    try {
      const task = taskOf()
      expect(task, 'cron task').toBeDefined()
      expect(task!.getPattern()).toBe(BACKUP_CRON)
      expect(BACKUP_CRON).toBe('0 3 * * *')
      await task!.execute()
      expect((await readdir(fleet.config.backup.dir)).filter((n) => NAME.test(n))).toHaveLength(1)
    } finally {
      await fleet.close()
    }
    expect(taskOf()).toBeUndefined()
    expect((await startFleet({ FLEET_BACKUP_SCHEDULE: 'off' })).config.backup).toMatchObject({ isScheduled: false, keep: 7 })
  })
})

describe.skipIf(onPostgres)('fleetctl db backup', () => {
  it('writes a verified backup to FILE; refuses a non-admin in Chinese with exit 1 and a missing FILE with exit 2', async () => {
    const fleet = await startFleet({ FLEET_BACKUP_SCHEDULE: 'off' })
    const cab = await provision(fleet)
    const env = { FLEET_URL: fleet.httpUrl, FLEET_TOKEN: fleet.adminToken }
    const file = join(await tempDir('ctl-backup-'), 'city.db')
    const ok = await fleetctl(['db', 'backup', file], env)
    expect(ok.code, ok.err).toBe(0)
    expect(ok.out).toContain('已备份数据库')
    expect((await verifyCopy(file)).problems).toEqual([])
    expect(rowsOf(file, 'SELECT cabinet_id FROM cabinets')).toEqual([{ cabinet_id: cab.cabinetId }])

    const user = await api<{ token: string }>(fleet, 'POST', '/api/v1/users', { username: 'auditor-1', role: 'auditor' })
    const refused = await fleetctl(['db', 'backup', `${file}.2`], { ...env, FLEET_TOKEN: user.body.token })
    expect(refused.code).toBe(1)
    expect(refused.err).toContain('ACCESS_OUT_OF_SCOPE')
    expect(existsSync(`${file}.2`)).toBe(false)
    expect((await fleetctl(['db', 'backup'], env)).code).toBe(2)
  })
})

describe.runIf(onPostgres)('backups on PostgreSQL', () => {
  it('refuses POST /admin/backups and fleetctl db backup with BACKUP_NOT_SQLITE, lists nothing, and schedules no daily job', async () => {
    const fleet = await startFleet()
    expect(fleet.config.backup.isScheduled).toBe(true)
    expect([...cron.getTasks().values()].find((t) => t.name === `backup@${fleet.config.dataDir}`)).toBeUndefined()
    const r = await api<{ error: { code: string } }>(fleet, 'POST', '/api/v1/admin/backups')
    expect([r.status, r.body.error.code]).toEqual([409, 'BACKUP_NOT_SQLITE'])
    expect((await api<{ backups: string[] }>(fleet, 'GET', '/api/v1/admin/backups')).body).toEqual({ backups: [] })
    const file = join(await tempDir('ctl-backup-pg-'), 'city.db')
    const refused = await fleetctl(['db', 'backup', file], { FLEET_URL: fleet.httpUrl, FLEET_TOKEN: fleet.adminToken })
    expect(refused.code).toBe(1)
    expect(refused.err).toContain('BACKUP_NOT_SQLITE')
    expect(existsSync(file)).toBe(false)
  })
})

describe('catch-up after a restore', () => {
  const heartbeat = (cabinetId: string, lastAckedSeq: number) => JSON.stringify({
    v: 1, type: 'heartbeat', cabinetId, sentAt: new Date().toISOString(), lastSeq: lastAckedSeq, lastAckedSeq, pending: 0,
    oldestPendingAgeS: 0, catalogVersion: null, uptimeS: 1, agentVersion: 'test',
  })

  it('asks a cabinet whose heartbeat acknowledges more than the server committed to resend from the committed head, once per connection', async () => {
    const fleet = await startFleet({ FLEET_BACKUP_SCHEDULE: 'off' })
    const cab = await provision(fleet)
    const cabinet = await connectCabinet(fleet.mqttUrl, cab)
    const commands: CommandMsg[] = []
    cabinet.client.on('message', (topic, payload) => {
      if (topic === topics.commands(cab.cabinetId)) commands.push(CommandMsg.parse(JSON.parse(payload.toString())))
    })
    await cabinet.client.subscribeAsync(topics.commands(cab.cabinetId), { qos: 1 })
    expect((await cabinet.send(aBatch(cab.cabinetId, aChain(cab.cabinetId, 3)))).status).toBe('committed')

    // The cabinet says the server acknowledged up to seq 9; the server holds 3.
    await cabinet.client.publishAsync(topics.heartbeat(cab.cabinetId), heartbeat(cab.cabinetId, 9), { qos: 1 })
    await expect.poll(() => commands.length, { timeout: 10_000 }).toBe(1)
    expect(commands[0]!.command).toEqual({ name: 'resync', fromSeq: 4 })
    // Checked once per connection: a second heartbeat asks nothing more.
    await cabinet.client.publishAsync(topics.heartbeat(cab.cabinetId), heartbeat(cab.cabinetId, 9), { qos: 1 })
    // A cabinet in step with the server is never asked.
    const other = await provision(fleet)
    const inStep = await connectCabinet(fleet.mqttUrl, other)
    const otherCommands: unknown[] = []
    inStep.client.on('message', (topic) => topic === topics.commands(other.cabinetId) && otherCommands.push(topic))
    await inStep.client.subscribeAsync(topics.commands(other.cabinetId), { qos: 1 })
    expect((await inStep.send(aBatch(other.cabinetId, aChain(other.cabinetId, 2)))).status).toBe('committed')
    await inStep.client.publishAsync(topics.heartbeat(other.cabinetId), heartbeat(other.cabinetId, 2), { qos: 1 })
    // A new connection is checked again; by its answer the heartbeats before it were handled.
    await cabinet.client.endAsync(true)
    const again = await connectCabinet(fleet.mqttUrl, cab)
    const seen: string[] = []
    again.client.on('message', (topic) => topic === topics.commands(cab.cabinetId) && seen.push(topic))
    await again.client.subscribeAsync(topics.commands(cab.cabinetId), { qos: 1 })
    await again.client.publishAsync(topics.heartbeat(cab.cabinetId), heartbeat(cab.cabinetId, 9), { qos: 1 })
    await expect.poll(() => seen.length, { timeout: 10_000 }).toBe(1)
    expect(commands).toHaveLength(1)
    expect(otherCommands).toEqual([])
  })
})
