// The login throttle's windows, its count shared by every process on one
// database, and the pruning of old rows, on SQLite and on PostgreSQL (the
// HTTP side is in dashboard.test.ts).
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLoginThrottle, type LoginThrottleOptions } from '../../fleet-server/src/access/index.js'
import { openFleetDb, type FleetDb } from '../../fleet-server/src/db/database.js'
import { startPostgres, type Postgres } from '../helpers/postgres.js'
import { tempDir } from '../helpers/fleet.js'
import { sqlRows } from '../helpers/test-db.js'

const log = pino({ level: 'silent' })

const clock = (iso: string) => {
  let t = new Date(iso)
  return { now: () => t, advance: (ms: number) => void (t = new Date(t.getTime() + ms)) }
}

const opts = (o: Partial<LoginThrottleOptions>): LoginThrottleOptions => ({ maxPerUser: 3, maxPerAddress: 100, windowMs: 60_000, lockMs: 60_000, pruneEveryMs: 0, ...o })

let pgServer: Postgres | null = null
let pgDatabases = 0
beforeAll(async () => {
  pgServer = await startPostgres()
})
afterAll(() => pgServer?.close())

/** Two handles on one new database: two server processes' views of it. */
const engines = [
  {
    name: 'sqlite',
    open: async (): Promise<[FleetDb, FleetDb]> => {
      const dataDir = await tempDir()
      return [await openFleetDb({ dialect: 'sqlite', dataDir }, log), await openFleetDb({ dialect: 'sqlite', dataDir }, log)]
    },
  },
  {
    name: 'postgres',
    open: async (): Promise<[FleetDb, FleetDb]> => {
      const url = await pgServer!.newDatabase(`throttle_${++pgDatabases}`)
      return [await openFleetDb({ dialect: 'postgres', url }, log), await openFleetDb({ dialect: 'postgres', url }, log)]
    },
  },
]

describe.each(engines)('login throttle on $name', ({ open }) => {
  const withDbs = async (fn: (a: FleetDb, b: FleetDb) => Promise<void>): Promise<void> => {
    const [a, b] = await open()
    try {
      await fn(a, b)
    } finally {
      await a.close()
      await b.close()
    }
  }

  it('forgets failures older than the window, so slow typos never lock anyone', () =>
    withDbs(async (db) => {
      const c = clock('2020-10-10T00:00:00Z')
      const t = createLoginThrottle(db, c.now, log, opts({}))
      for (let i = 0; i < 10; i++) {
        await t.failed('Dingyuan', '10.0.0.1')
        c.advance(31_000) // two failures per window at most
        expect(await t.retryAfterS('dingyuan', '10.0.0.1')).toBe(0)
      }
      c.advance(60_000) // a fresh window
      await t.failed('dingyuan', '10.0.0.1')
      await t.failed('DINGYUAN', '10.0.0.1')
      expect(await t.retryAfterS('dingyuan', '10.0.0.1')).toBe(0)
      await t.failed('dingYuan', '10.0.0.1')
      expect(await t.retryAfterS('dingyuan', '10.0.0.1')).toBe(60) // usernames compare case-insensitively
      expect(await t.retryAfterS('dingyuan', '10.0.0.2')).toBe(0) // another office is not locked out
      c.advance(30_000)
      await t.succeeded('dingyuan', '10.0.0.2') // a login from elsewhere does not lift the lock here
      expect(await t.retryAfterS('dingyuan', '10.0.0.1')).toBe(30)
      c.advance(30_000)
      expect(await t.retryAfterS('dingyuan', '10.0.0.1')).toBe(0)
    }))

  it('counts the failures every process sees: a guesser spread over two servers is locked at the same count', () =>
    withDbs(async (a, b) => {
      const c = clock('2020-10-10T00:00:00Z')
      const one = createLoginThrottle(a, c.now, log, opts({ maxPerUser: 4 }))
      const two = createLoginThrottle(b, c.now, log, opts({ maxPerUser: 4 }))
      // Concurrent failures are each counted once (one atomic upsert per key).
      await Promise.all([one.failed('admin', '10.0.0.9'), two.failed('admin', '10.0.0.9'), one.failed('admin', '10.0.0.9')])
      expect(await one.retryAfterS('admin', '10.0.0.9')).toBe(0)
      await two.failed('admin', '10.0.0.9')
      expect(await one.retryAfterS('admin', '10.0.0.9')).toBe(60)
      expect(await two.retryAfterS('admin', '10.0.0.9')).toBe(60)
      // A success on either clears the pair for both.
      await one.succeeded('admin', '10.0.0.9')
      expect(await two.retryAfterS('admin', '10.0.0.9')).toBe(0)
    }))

  it('locks an address that tries many usernames, and prunes rows past their window', () =>
    withDbs(async (db) => {
      const c = clock('2020-10-10T00:00:00Z')
      const t = createLoginThrottle(db, c.now, log, opts({ maxPerAddress: 5 }))
      for (let i = 0; i < 5; i++) await t.failed(`user${i}`, '10.0.0.7')
      expect(await t.retryAfterS('someone-else', '10.0.0.7')).toBe(60)
      expect(await t.retryAfterS('someone-else', '10.0.0.8')).toBe(0)
      const rows = async () => (await sqlRows<{ kind: string; address: string }>(db, 'SELECT kind, address FROM login_failures ORDER BY kind, username, address')).map((r) => `${r.kind}:${r.address}`)
      expect(await rows()).toHaveLength(6)
      c.advance(45_000)
      await t.failed('late', '10.0.0.8') // within its window: kept; the others are still locked: kept
      expect(await rows()).toHaveLength(8)
      c.advance(30_000)
      await t.failed('later', '10.0.0.9') // prunes what is past its window and unlocked
      expect(await rows()).toEqual(['address:10.0.0.8', 'address:10.0.0.9', 'pair:10.0.0.8', 'pair:10.0.0.9'])
    }))
})
