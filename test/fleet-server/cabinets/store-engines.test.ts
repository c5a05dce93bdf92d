// The access, cabinets and rollout stores give the same answers on SQLite and
// on PostgreSQL (issue 13): the same checks run against a migrated SQLite file
// and a fresh PostgreSQL database, through the stores' own interfaces.
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BUNDLED_PLANS, type CabinetStatus } from '../../../shared/src/index.js'
import { ensureAdminToken } from '../../../fleet-server/src/access/admin-token.js'
import { createUserStore, type UserStore } from '../../../fleet-server/src/access/store.js'
import { hashToken } from '../../../fleet-server/src/access/tokens.js'
import { createCabinetStore, type CabinetRow, type CabinetStore, type TransitionRecord } from '../../../fleet-server/src/cabinets/store.js'
import { openFleetDb, type FleetDb } from '../../../fleet-server/src/db/database.js'
import { createPlanStore } from '../../../fleet-server/src/rollout/plan-store.js'
import { createRolloutStore } from '../../../fleet-server/src/rollout/store.js'
import { startPostgres, type Postgres } from '../../helpers/postgres.js'
import { tempDir } from '../../helpers/fleet.js'
import { sqlRow, sqlRows } from '../../helpers/test-db.js'

const log = pino({ level: 'silent' })
const AT = '2020-10-01T02:00:00.000Z'

const aCabinet = (cabinetId: string, over: Partial<CabinetRow> = {}): CabinetRow => ({
  cabinetId,
  countyCode: '341125',
  operator: null,
  siteName: null,
  venueType: null,
  siteAddress: null,
  latitude: null,
  longitude: null,
  status: 'planned',
  statusSince: AT,
  secretHash: 'ab'.repeat(32),
  credentialsIssuedAt: AT,
  lastSeenAt: null,
  createdAt: AT,
  updatedAt: AT,
  ...over,
})

const created = (r: CabinetRow, by = 'admin'): TransitionRecord => ({ cabinetId: r.cabinetId, countyCode: r.countyCode, operator: r.operator, from: null, to: r.status, at: r.createdAt, by, reason: null })

/** What the cabinets service does: rows and their first steps in one transaction, all or none. */
async function provision(db: FleetDb, store: CabinetStore, rows: CabinetRow[]): Promise<string[]> {
  try {
    return await db.transaction(async (tx) => {
      const taken = await store.insert(tx, rows)
      if (taken.length) throw Object.assign(new Error('taken'), { taken })
      await store.recordTransitions(tx, rows.map((r) => created(r)))
      return []
    })
  } catch (err) {
    const taken = (err as { taken?: string[] }).taken
    if (taken) return taken
    throw err
  }
}

const engines: Array<{ name: 'sqlite' | 'postgres'; open: () => Promise<FleetDb>; openTwo: () => Promise<[FleetDb, FleetDb]> }> = []
let pgServer: Postgres | null = null
let pgDatabases = 0
engines.push({
  name: 'sqlite',
  open: async () => openFleetDb({ dialect: 'sqlite', dataDir: await tempDir() }, log),
  openTwo: async () => {
    const dataDir = await tempDir()
    return [await openFleetDb({ dialect: 'sqlite', dataDir }, log), await openFleetDb({ dialect: 'sqlite', dataDir }, log)]
  },
})
engines.push({
  name: 'postgres',
  open: async () => openFleetDb({ dialect: 'postgres', url: await pgServer!.newDatabase(`acc_${++pgDatabases}`) }, log),
  openTwo: async () => {
    const url = await pgServer!.newDatabase(`acc_${++pgDatabases}`)
    return [await openFleetDb({ dialect: 'postgres', url }, log), await openFleetDb({ dialect: 'postgres', url }, log)]
  },
})

beforeAll(async () => {
  pgServer = await startPostgres()
})
afterAll(() => pgServer?.close())

describe.each(engines)('stores on $name', ({ name, open, openTwo }) => {
  const withDb = async (fn: (db: FleetDb) => Promise<void>): Promise<void> => {
    const db = await open()
    try {
      await fn(db)
    } finally {
      await db.close()
    }
  }

  it('users: unique usernames, lookups by token, builtin admin, sessions that expire', () =>
    withDb(async (db) => {
      const users: UserStore = createUserStore(db)
      const base = { role: 'county' as const, countyCode: '341125', operator: null, isBuiltin: false, createdAt: AT, passwordHash: 'scrypt$x' }
      expect(await users.insert({ ...base, userId: 'u1', username: 'dingyuan', tokenHash: 't1' })).toBe(true)
      expect(await users.insert({ ...base, userId: 'u2', username: 'dingyuan', tokenHash: 't2' })).toBe(false)
      expect(await users.insert({ ...base, userId: 'a1', username: 'admin', role: 'admin', countyCode: null, tokenHash: 'ta', isBuiltin: true, passwordHash: null })).toBe(true)
      expect(await users.byTokenHash('t1')).toEqual({ userId: 'u1', username: 'dingyuan', role: 'county', countyCode: '341125', operator: null, tokenHash: 't1', isBuiltin: false, createdAt: AT })
      expect(await users.byTokenHash('t2')).toBeNull()
      expect(await users.builtinAdmin()).toMatchObject({ userId: 'a1', isBuiltin: true })
      await users.setTokenHash('a1', 'ta2')
      expect(await users.byTokenHash('ta2')).toMatchObject({ userId: 'a1' })
      expect(await users.byUsername('dingyuan')).toMatchObject({ userId: 'u1', passwordHash: 'scrypt$x' })
      expect(await users.byUsername('DINGYUAN')).toBeNull()

      await users.insertSession({ sessionHash: 's-old', userId: 'u1', createdAt: AT, expiresAt: '2020-10-01T03:00:00.000Z' })
      await users.insertSession({ sessionHash: 's-new', userId: 'u1', createdAt: AT, expiresAt: '2020-10-01T14:00:00.000Z' })
      expect(await users.bySession('s-old', '2020-10-01T04:00:00.000Z')).toBeNull()
      expect(await users.bySession('s-new', '2020-10-01T04:00:00.000Z')).toMatchObject({ userId: 'u1', username: 'dingyuan' })
      expect(await users.purgeSessions('2020-10-01T04:00:00.000Z')).toBe(1)
      await users.deleteSession('s-new')
      expect(await users.bySession('s-new', '2020-10-01T04:00:00.000Z')).toBeNull()
    }))

  it('cabinets: an insert with a taken id writes nothing; steps feed the rollout counts and pace', () =>
    withDb(async (db) => {
      const store = createCabinetStore(db)
      const rollout = createRolloutStore(db)
      const v0 = await rollout.version()
      const rows = [aCabinet('341125-00001'), aCabinet('341125-00002', { status: 'operating', operator: 'op-a', siteName: '站', venueType: '车站' }), aCabinet('341126-00001', { countyCode: '341126' })]
      expect(await provision(db, store, rows)).toEqual([])
      // One new, one taken: the whole batch rolls back, as an import must.
      expect(await provision(db, store, [aCabinet('341125-00003'), aCabinet('341125-00001')])).toEqual(['341125-00001'])
      expect(await store.existing(['341125-00001', '341125-00003', '341126-00001'])).toEqual(new Set(['341125-00001', '341126-00001']))
      expect((await sqlRow<{ n: number }>(db, 'SELECT count(*) AS n FROM cabinet_transitions'))!.n).toBe(3)

      const v1 = await rollout.version()
      expect(v1).not.toBe(v0)
      const all = { countyCode: null, operator: null }
      const byKey = (xs: Array<{ countyCode: string; status: CabinetStatus; n: number }>) => Object.fromEntries(xs.map((x) => [`${x.countyCode}:${x.status}`, x.n]))
      expect(byKey(await rollout.counts(all))).toEqual({ '341125:planned': 1, '341125:operating': 1, '341126:planned': 1 })
      expect(byKey(await rollout.counts({ countyCode: null, operator: 'op-a' }))).toEqual({ '341125:operating': 1 })
      // Sums come back as numbers on both engines (PostgreSQL's SUM of bigint is numeric).
      expect(await rollout.steps('2020-10-01', all)).toEqual([{ countyCode: '341125', sitesAssigned: 1, installed: 1, operating: 1 }])
      expect(await rollout.steps('2020-10-02', all)).toEqual([])

      // A compare-and-set on the status: applied from the right state, refused from a stale one.
      const later = '2020-10-02T01:00:00.000Z'
      const step = (from: CabinetStatus, to: CabinetStatus): TransitionRecord => ({ cabinetId: '341125-00002', countyCode: '341125', operator: 'op-a', from, to, at: later, by: 'dy', reason: '维修' })
      expect(await db.transaction(async (tx) => {
        if (!(await store.update(tx, '341125-00002', { status: 'suspended' }, later, 'operating'))) return false
        await store.recordTransitions(tx, [step('operating', 'suspended')])
        return true
      })).toBe(true)
      expect(await db.transaction((tx) => store.update(tx, '341125-00002', { status: 'retired' }, later, 'operating'))).toBe(false)
      expect(await rollout.version()).not.toBe(v1)
      expect(await store.get('341125-00002')).toMatchObject({ status: 'suspended', statusSince: later, updatedAt: later, siteName: '站' })
      // The same day's steps add up in one row; suspension takes one off operating.
      expect(await rollout.steps('2020-10-02', all)).toEqual([{ countyCode: '341125', sitesAssigned: 0, installed: 0, operating: -1 }])
      expect(await rollout.steps('2020-09-01', all)).toEqual([{ countyCode: '341125', sitesAssigned: 1, installed: 1, operating: 0 }])
      expect(await store.transitions('341125-00002')).toEqual([
        { from: null, to: 'operating', at: AT, by: 'admin', reason: null },
        { from: 'operating', to: 'suspended', at: later, by: 'dy', reason: '维修' },
      ])
      // Site changes alone leave the status and its time alone.
      expect(await db.transaction((tx) => store.update(tx, '341125-00001', { siteName: '定远县政府', venueType: '机关', latitude: 32.5, longitude: 117.7 }, later))).toBe(true)
      expect(await store.get('341125-00001')).toMatchObject({ status: 'planned', statusSince: AT, siteName: '定远县政府', venueType: '机关', latitude: 32.5, longitude: 117.7 })
      expect(await db.transaction((tx) => store.update(tx, 'nope', { siteName: 'x' }, later))).toBe(false)
    }))

  it('cabinets: filters, paging and totals; generated numbers; credentials; owners', () =>
    withDb(async (db) => {
      const store = createCabinetStore(db)
      const rows = [
        ...Array.from({ length: 7 }, (_, i) => aCabinet(`341125-0000${i + 1}`, { operator: i % 2 ? 'op-b' : 'op-a' })),
        // Not of the generator's shape: ignored by maxGeneratedNumber.
        aCabinet('341125-99999x'),
        aCabinet('341125-123'),
        aCabinet('341125-0001a'),
        // The next county's numbers, filed by an admin under another county: still counted for 341126.
        aCabinet('341126-00042', { countyCode: '341125' }),
      ]
      expect(await provision(db, store, rows)).toEqual([])
      expect(await store.maxGeneratedNumber('341125')).toBe(7)
      expect(await store.maxGeneratedNumber('341126')).toBe(42)
      expect(await store.maxGeneratedNumber('341181')).toBe(0)

      const page = await store.list({ countyCode: '341125', operator: 'op-a' }, 2, 1)
      expect(page.total).toBe(4)
      expect(page.rows.map((r) => r.cabinetId)).toEqual(['341125-00003', '341125-00005'])
      expect((await store.list({ status: 'operating' }, 10, 0)).total).toBe(0)
      expect((await store.listAll({ countyCode: '341125' })).map((r) => r.cabinetId)).toEqual([...rows.map((r) => r.cabinetId)].sort())

      await store.setSecretHash(db.kysely, '341125-00001', 'cd'.repeat(32), '2020-10-03T00:00:00.000Z')
      expect(await store.credential('341125-00001')).toEqual({ secretHash: 'cd'.repeat(32), status: 'planned' })
      expect(await store.credential('nope')).toBeNull()
      const creds = await store.credentials(['341125-00001', '341125-00002', 'nope'])
      expect(Object.fromEntries(creds)).toEqual({
        '341125-00001': { secretHash: 'cd'.repeat(32), status: 'planned' },
        '341125-00002': { secretHash: expect.stringMatching(/^[0-9a-f]{64}$/), status: 'planned' },
      })
      expect(await store.get('341125-00001')).toMatchObject({ credentialsIssuedAt: '2020-10-03T00:00:00.000Z', updatedAt: '2020-10-03T00:00:00.000Z' })

      const rollout = createRolloutStore(db)
      expect(await rollout.ownerOf('341125-00002')).toEqual({ countyCode: '341125', operator: 'op-b' })
      expect(await rollout.ownerOf('nope')).toBeNull()
      const owners = await rollout.owners(['341125-00001', '341125-00002', 'nope'])
      expect(Object.fromEntries(owners)).toEqual({ '341125-00001': { countyCode: '341125', operator: 'op-a' }, '341125-00002': { countyCode: '341125', operator: 'op-b' } })
    }))

  it('liveness writes: lastSeenAt in one batch, events stored once per id', () =>
    withDb(async (db) => {
      const store = createCabinetStore(db)
      await provision(db, store, [aCabinet('C1'), aCabinet('C2')])
      await store.saveLastSeen([['C1', '2020-10-05T00:00:00.000Z'], ['C2', '2020-10-05T00:00:01.000Z'], ['gone', '2020-10-05T00:00:02.000Z']])
      expect(await sqlRows(db, 'SELECT cabinet_id, last_seen_at FROM cabinets ORDER BY cabinet_id')).toEqual([
        { cabinet_id: 'C1', last_seen_at: '2020-10-05T00:00:00.000Z' },
        { cabinet_id: 'C2', last_seen_at: '2020-10-05T00:00:01.000Z' },
      ])
      await store.saveLastSeen([])

      const ev = (eventId: string, cabinetId = 'C1') => ({ eventId, cabinetId, kind: 'boot', at: AT, detailJson: '{"v":1}', receivedAt: AT })
      expect(await store.insertEvents([ev('e1'), ev('e2', 'C2')])).toEqual([true, true])
      // A resend, a new one, and an id repeated within the batch: only the first of each is new.
      expect(await store.insertEvents([ev('e1'), ev('e3'), ev('e3')])).toEqual([false, true, false])
      expect(await store.insertEvents([])).toEqual([])
      expect((await sqlRows(db, 'SELECT event_id FROM cabinet_events ORDER BY event_id')).map((r) => r.event_id)).toEqual(['e1', 'e2', 'e3'])
    }))

  it('the plan: stored on first activation, kept over a different configured one later', () =>
    withDb(async (db) => {
      const plans = createPlanStore(db, log)
      const chuzhou = BUNDLED_PLANS['chuzhou-2020']!
      const other = { ...chuzhou, id: 'other-plan' }
      expect((await plans.activate({ source: 'bundled:chuzhou-2020', plan: chuzhou })).id).toBe(chuzhou.id)
      expect((await plans.activate({ source: '/tmp/other.json', plan: other })).id).toBe(chuzhou.id)
      expect(await sqlRow(db, "SELECT value FROM meta WHERE key = 'plan_source'")).toEqual({ value: 'bundled:chuzhou-2020' })
    }))

  it('two servers starting together on one new database both start, on the configured admin token', async () => {
    const [a, b] = await openTwo()
    try {
      const token = 'operator-chosen-token-0001'
      const start = async (db: FleetDb) => ensureAdminToken(createUserStore(db), await tempDir(), token, () => new Date(AT), log)
      await Promise.all([start(a), start(b)])
      expect(await sqlRows(a, 'SELECT username, token_hash FROM users')).toEqual([{ username: 'admin', token_hash: hashToken(token) }])
      // The race above collides on token_hash too, and PostgreSQL may see that
      // conflict first: an insert conflicting on any unique key is "taken", not an error.
      const users = createUserStore(b)
      const clash = { userId: 'u-clash', username: 'someone-else', role: 'auditor' as const, countyCode: null, operator: null, tokenHash: hashToken(token), passwordHash: null, isBuiltin: false, createdAt: AT }
      expect(await users.insert(clash)).toBe(false)
    } finally {
      await a.close()
      await b.close()
    }
  })

  // PostgreSQL only: SQLite has one writer at a time, so its transition ids always commit in order.
  it.skipIf(name === 'sqlite')('rollout version changes when a transition with a lower id commits after a higher one was read', async () => {
    const [a, b] = await openTwo()
    try {
      const [storeA, storeB] = [createCabinetStore(a), createCabinetStore(b)]
      await provision(a, storeA, [aCabinet('C1'), aCabinet('C2', { countyCode: '341126' })])
      const rollout = createRolloutStore(b)
      let release!: () => void
      const held = new Promise<void>((r) => (release = r))
      let started!: () => void
      const isStarted = new Promise<void>((r) => (started = r))
      // A takes the lower id and holds its transaction open; B records a step with a higher id and commits
      // (another county: the day counts' row of A's would make B wait for A).
      const slow = a.transaction(async (tx) => {
        await storeA.recordTransitions(tx, [{ cabinetId: 'C1', countyCode: '341125', operator: null, from: 'planned', to: 'site_assigned', at: AT, by: 'a', reason: null }])
        started()
        await held
      })
      await isStarted
      await b.transaction((tx) => storeB.recordTransitions(tx, [{ cabinetId: 'C2', countyCode: '341126', operator: null, from: 'planned', to: 'site_assigned', at: AT, by: 'b', reason: null }]))
      await new Promise((r) => setTimeout(r, 200)) // B's own notice arrives
      const before = await rollout.version()
      release()
      await slow
      await expect.poll(() => rollout.version()).not.toBe(before)
    } finally {
      await a.close()
      await b.close()
    }
  })
})
