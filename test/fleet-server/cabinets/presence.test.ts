// Shared presence (cabinets/presence.ts) at the store level: on PostgreSQL
// two processes' views through one database (batched writes, a stale server
// no longer counted, a clean close); on SQLite nothing is written.
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createSharedPresence, type SharedPresence } from '../../../fleet-server/src/cabinets/presence.js'
import { openFleetDb, type FleetDb } from '../../../fleet-server/src/db/database.js'
import { startPostgres, type Postgres } from '../../helpers/postgres.js'
import { tempDir } from '../../helpers/fleet.js'
import { sqlRow } from '../../helpers/test-db.js'

const log = pino({ level: 'silent' })

let server: Postgres
let n = 0
beforeAll(async () => {
  server = await startPostgres({ database: 'presence' })
}, 60_000)
afterAll(() => server?.close())

/** Two "processes" (database handles) on one fresh PostgreSQL database. */
async function twoDbs(): Promise<[FleetDb, FleetDb]> {
  const url = await server.newDatabase(`presence_${++n}`)
  const a = await openFleetDb({ dialect: 'postgres', url }, log)
  const b = await openFleetDb({ dialect: 'postgres', url }, log)
  return [a, b]
}

async function using(dbs: FleetDb[], presences: SharedPresence[], fn: () => Promise<void>): Promise<void> {
  try {
    await fn()
  } finally {
    for (const p of presences) await p.close()
    for (const d of dbs) await d.close()
  }
}

const commits = async (db: FleetDb): Promise<number> =>
  Number((await sqlRow<{ n: number }>(db, 'SELECT xact_commit AS n FROM pg_stat_database WHERE datname = current_database()'))!.n)

describe('shared presence on PostgreSQL', () => {
  it('a reconnect storm is written in a few statements, not one per cabinet, and the other process sees it', async () => {
    const [a, b] = await twoDbs()
    // Timers long: the test drives writes and reads with sync().
    const pa = createSharedPresence(a, { log, flushMs: 60_000, refreshMs: 60_000 })
    const pb = createSharedPresence(b, { log, flushMs: 60_000, refreshMs: 60_000 })
    await using([a, b], [pa, pb], async () => {
      await pa.sync()
      await pb.sync()
      const ids = Array.from({ length: 3_000 }, (_, i) => `341125-${String(i).padStart(5, '0')}`)
      // pg_stat_database is updated when a backend reports (at the latest ~0.5 s after its transaction).
      await new Promise((r) => setTimeout(r, 1_100))
      const before = await commits(b)
      for (const id of ids) pa.up(id)
      await pa.sync()
      await new Promise((r) => setTimeout(r, 1_100))
      // The flush, pa's refresh, and the two counter reads: far from 3,000.
      expect((await commits(b)) - before).toBeLessThan(20)
      await pb.sync()
      expect(pb.others().size).toBe(3_000)
      expect(pa.others().size).toBe(0) // its own cabinets are not "others"
      for (const id of ids.slice(0, 1_000)) pa.down(id)
      await pa.sync()
      await pb.sync()
      expect(pb.others().size).toBe(2_000)
    })
  })

  it("a server that stops heartbeating (killed) stops counting after three of the reader's intervals", async () => {
    const [a, b] = await twoDbs()
    // a heartbeats once (at start); b judges with a 200 ms interval: stale after 600 ms.
    const pa = createSharedPresence(a, { log, flushMs: 60_000, heartbeatMs: 60_000, refreshMs: 60_000 })
    const pb = createSharedPresence(b, { log, flushMs: 60_000, heartbeatMs: 200, refreshMs: 60_000 })
    await using([a, b], [pa, pb], async () => {
      pa.up('C1')
      await pa.sync()
      await pb.sync()
      expect([...pb.others()]).toEqual(['C1'])
      await new Promise((r) => setTimeout(r, 800))
      await pb.sync()
      expect([...pb.others()]).toEqual([])
    })
  })

  it("a clean close deletes the server's rows; a cabinet's row moves with it and a late disconnect elsewhere leaves it", async () => {
    const [a, b] = await twoDbs()
    const pa = createSharedPresence(a, { log, flushMs: 60_000, refreshMs: 60_000 })
    const pb = createSharedPresence(b, { log, flushMs: 60_000, refreshMs: 60_000 })
    await using([a, b], [pa, pb], async () => {
      pa.up('C1')
      pa.up('C2')
      await pa.sync()
      // C2 moves to b, then a notices its old session ended.
      pb.up('C2')
      await pb.sync()
      pa.down('C2')
      await pa.sync()
      await pb.sync()
      expect([...pa.others()]).toEqual(['C2'])
      expect([...pb.others()]).toEqual(['C1'])
      await pa.close()
      await pb.sync()
      expect([...pb.others()]).toEqual([])
      expect(await sqlRow(b, 'SELECT count(*) AS n FROM cabinet_presence')).toEqual({ n: 1 })
    })
  })
})

describe('presence on SQLite', () => {
  it('stays in memory: nothing is written', async () => {
    const db = await openFleetDb({ dialect: 'sqlite', dataDir: await tempDir() }, log)
    const p = createSharedPresence(db, { log })
    await using([db], [p], async () => {
      p.up('C1')
      await p.sync()
      expect(p.others().size).toBe(0)
      expect(await sqlRow(db, 'SELECT (SELECT count(*) FROM cabinet_presence) + (SELECT count(*) FROM fleet_servers) AS n')).toEqual({ n: 0 })
    })
  })
})
