// Migration 7 upgrades a version-6 database in place: every sale kept, reuses
// already stored flagged, the per-cabinet sale-id index in place. Migration 11
// then moves that lookup to sale_ids, written by the sales fold.
import { join } from 'node:path'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { migrate, openDatabase } from '../../fleet-server/src/db/index.js'
import { MIGRATIONS } from '../../fleet-server/src/db/migrations.js'
import { Database } from '../../fleet-server/src/db/sqlite.js'
import { tempDir } from '../helpers/fleet.js'

const silent = pino({ level: 'silent' })

describe('migration 7: sale flags', () => {
  it('keeps every sale and flags the reused sale ids already stored', async () => {
    const dataDir = await tempDir()
    const old = new Database(join(dataDir, 'fleet.db'))
    migrate(old, MIGRATIONS.filter((m) => m.version <= 6), silent)
    for (const id of ['C-1', 'C-2']) {
      old.prepare(`INSERT INTO cabinets (cabinet_id, county_code, operator, status, secret_hash, credentials_issued_at, created_at, updated_at)
                   VALUES (?, '341125', NULL, 'operating', 'x', '2020-09-01T00:00:00.000Z', '2020-09-01T00:00:00.000Z', '2020-09-01T00:00:00.000Z')`).run(id)
    }
    const add = old.prepare(`INSERT INTO sales (sale_id, cabinet_id, seq, sold_at, sold_on, recorded_at, received_at, payment, total_fen, lines, prev_hash, hash)
                             VALUES (?, ?, ?, '2020-10-01T01:00:00.000Z', ?, '2020-10-01T01:00:00.000Z', '2020-10-01T01:00:01.000Z', 'wechat', 500, '[]', 'p', 'h')`)
    add.run('id-a', 'C-1', 1, '2020-09-30')
    add.run('id-b', 'C-1', 2, '2020-10-01')
    add.run('id-a', 'C-1', 3, '2020-10-02') // reuses seq 1's id
    add.run('id-a', 'C-1', 4, '2020-10-03') // and again
    add.run('id-a', 'C-2', 1, '2020-10-01') // another cabinet's id never counts
    migrate(old, MIGRATIONS.filter((m) => m.version === 7), silent)
    const plan7 = old.prepare('EXPLAIN QUERY PLAN SELECT seq FROM sales WHERE cabinet_id = ? AND sale_id = ? ORDER BY seq LIMIT 1').all('C-1', 'id-a') as Array<{ detail: string }>
    expect(plan7.map((p) => p.detail).join(' ')).toContain('sales_by_cabinet_sale_id')
    old.close()

    const db = openDatabase(dataDir, silent)
    try {
      expect(db.pragma('user_version', { simple: true })).toBeGreaterThanOrEqual(11)
      expect(db.prepare('SELECT count(*) AS n FROM sales').get()).toEqual({ n: 5 })
      expect(db.prepare('SELECT kind, cabinet_id, seq, sale_id, earlier_seq, sold_on, earlier_sold_on, resolved_at FROM sale_flags ORDER BY seq').all()).toEqual([
        { kind: 'SALE_ID_REUSED', cabinet_id: 'C-1', seq: 3, sale_id: 'id-a', earlier_seq: 1, sold_on: '2020-10-02', earlier_sold_on: '2020-09-30', resolved_at: null },
        { kind: 'SALE_ID_REUSED', cabinet_id: 'C-1', seq: 4, sale_id: 'id-a', earlier_seq: 1, sold_on: '2020-10-03', earlier_sold_on: '2020-09-30', resolved_at: null },
      ])
      // Migration 11: the lookup is sale_ids' now, holding every stored sale, and all of them counted as folded.
      expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'sales_by_cabinet_sale_id'").all()).toEqual([])
      expect(db.prepare("SELECT seq, sold_on FROM sale_ids WHERE cabinet_id = 'C-1' AND sale_id = 'id-a' ORDER BY seq").all()).toEqual([
        { seq: 1, sold_on: '2020-09-30' }, { seq: 3, sold_on: '2020-10-02' }, { seq: 4, sold_on: '2020-10-03' },
      ])
      expect(db.prepare('SELECT count(*) AS n FROM sale_ids').get()).toEqual({ n: 5 })
      expect(db.prepare("SELECT value FROM meta WHERE key = 'sales_folded_rowid'").get()).toEqual({ value: '5' })
      expect(db.pragma('foreign_key_check')).toEqual([])
    } finally {
      db.close()
    }
  })
})
