// One leader per job across processes on one PostgreSQL (issue 13): of two
// database handles exactly one leads; closing it, or the server ending its
// lock's session, hands leadership to the other within the retry interval;
// on SQLite the one server always leads.
import pino from 'pino'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { openFleetDb, type FleetDb } from '../../../fleet-server/src/db/database.js'
import { createLeader, type Leader } from '../../../fleet-server/src/db/leader.js'
import { startPostgres, type Postgres } from '../../helpers/postgres.js'
import { tempDir } from '../../helpers/fleet.js'

const log = pino({ level: 'silent' })
const RETRY_MS = 200

let pgServer: Postgres

async function handle(): Promise<FleetDb> {
  const db = await openFleetDb({ dialect: 'postgres', url: pgServer.url }, log)
  onTestFinished(() => db.close())
  return db
}

function leader(db: FleetDb, name = 'jobs'): Leader {
  const l = createLeader(db, name, log, { retryMs: RETRY_MS })
  onTestFinished(() => l.close())
  return l
}

/** Two processes' worth: two handles, each with its leader for `name`, both having tried once. */
async function pair(name = 'jobs'): Promise<[Leader, Leader]> {
  const a = leader(await handle(), name)
  await a.check()
  const b = leader(await handle(), name)
  await b.check()
  return [a, b]
}

async function sessionsHoldingLocks(): Promise<number[]> {
  const c = new pg.Client({ connectionString: pgServer.url })
  await c.connect()
  try {
    const r = await c.query<{ pid: number }>("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2")
    return r.rows.map((x) => x.pid)
  } finally {
    await c.end()
  }
}

describe('leader election', () => {
  beforeAll(async () => {
    pgServer = await startPostgres()
  })
  afterAll(() => pgServer?.close())

  it('lets exactly one of two processes lead a job, and runs leader-only work there only', async () => {
    const [a, b] = await pair()
    expect([a.isLeader(), b.isLeader()]).toEqual([true, false])
    // Later tries change nothing while the leader lives.
    await Promise.all([a.check(), b.check(), a.check(), b.check()])
    expect([a.isLeader(), b.isLeader()]).toEqual([true, false])
    expect(await a.run(async () => 'ran')).toBe('ran')
    let ranOnB = false
    expect(await b.run(async () => (ranOnB = true))).toBeNull()
    expect(ranOnB).toBe(false)
    // Another job's lock is another lock.
    const other = leader(await handle(), 'reports')
    expect(await other.check()).toBe(true)
  })

  it('hands leadership to the other process within the retry interval when the leader closes', async () => {
    const [a, b] = await pair()
    const seen: boolean[] = []
    b.onChange((v) => seen.push(v))
    const t0 = Date.now()
    await a.close()
    expect(a.isLeader()).toBe(false)
    await expect.poll(() => b.isLeader(), { timeout: 5_000, interval: 10 }).toBe(true)
    // The next try after the lock was freed (one interval), with room for a loaded 2-core box's late timers.
    expect(Date.now() - t0).toBeLessThan(RETRY_MS * 10)
    expect(seen).toEqual([false, true])
  })

  it('hands over when the server ends the leader’s session, and the old leader does not take it back', async () => {
    const [a, b] = await pair()
    const [holder] = await sessionsHoldingLocks()
    expect(holder).toBeDefined()
    const c = new pg.Client({ connectionString: pgServer.url })
    await c.connect()
    await c.query('SELECT pg_terminate_backend($1)', [holder])
    await c.end()
    await expect.poll(() => a.isLeader(), { timeout: 5_000, interval: 10 }).toBe(false)
    // The process whose session failed does not grab the free lock back at once: the healthy one takes it.
    expect(await a.check()).toBe(false)
    await expect.poll(() => b.isLeader(), { timeout: 5_000, interval: 10 }).toBe(true)
    // The old leader reconnects and keeps trying, as a follower now.
    await a.check()
    await a.check()
    expect([a.isLeader(), b.isLeader()]).toEqual([false, true])
    expect(await a.run(async () => 'ran')).toBeNull()
    expect(await sessionsHoldingLocks()).toHaveLength(1)
  })

  it('always leads on SQLite (one server per file)', async () => {
    const db = await openFleetDb({ dialect: 'sqlite', dataDir: await tempDir() }, log)
    onTestFinished(() => db.close())
    const l = createLeader(db, 'jobs', log)
    expect(l.isLeader()).toBe(true)
    expect(await l.run(async () => 1)).toBe(1)
    await l.close()
  })
})
