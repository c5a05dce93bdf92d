// Migration 6 rebuilds the sales table without the global sale_id index: the
// rows, their order and (cabinet_id, seq) uniqueness must survive it.
import { join } from 'node:path'
import { Database } from '../../fleet-server/src/db/sqlite.js'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { migrate, openDatabase } from '../../fleet-server/src/db/index.js'
import { MIGRATIONS } from '../../fleet-server/src/db/migrations.js'
import { tempDir } from '../helpers/fleet.js'

const silent = pino({ level: 'silent' })

describe('migration 6: sales keyed by (cabinet, seq)', () => {
  it('keeps every stored sale, drops only the sale_id uniqueness, and still refuses a second seq', async () => {
    const dataDir = await tempDir()
    const old = new Database(join(dataDir, 'fleet.db'))
    migrate(old, MIGRATIONS.filter((m) => m.version < 6), silent)
    old.prepare(`INSERT INTO cabinets (cabinet_id, county_code, operator, status, secret_hash, credentials_issued_at, created_at, updated_at)
                 VALUES ('C-1', '341125', NULL, 'operating', 'x', '2020-09-01T00:00:00.000Z', '2020-09-01T00:00:00.000Z', '2020-09-01T00:00:00.000Z')`).run()
    const add = old.prepare(`INSERT INTO sales (sale_id, cabinet_id, seq, sold_at, sold_on, recorded_at, received_at, payment, total_fen, lines, prev_hash, hash)
                             VALUES (?, 'C-1', ?, '2020-10-01T01:00:00.000Z', '2020-10-01', '2020-10-01T01:00:00.000Z', '2020-10-01T01:00:01.000Z', 'wechat', 500, '[]', ?, ?)`)
    for (let seq = 1; seq <= 3; seq++) add.run(`id-${seq}`, seq, `p${seq}`, `h${seq}`)
    old.close()

    const db = openDatabase(dataDir, silent)
    try {
      expect(db.pragma('user_version', { simple: true })).toBeGreaterThanOrEqual(6)
      expect(db.prepare('SELECT seq, sale_id, hash FROM sales ORDER BY rowid').all()).toEqual([
        { seq: 1, sale_id: 'id-1', hash: 'h1' },
        { seq: 2, sale_id: 'id-2', hash: 'h2' },
        { seq: 3, sale_id: 'id-3', hash: 'h3' },
      ])
      const insert = db.prepare(`INSERT INTO sales (sale_id, cabinet_id, seq, sold_at, sold_on, recorded_at, received_at, payment, total_fen, lines, prev_hash, hash)
                                 VALUES (?, 'C-1', ?, '2020-10-01T02:00:00.000Z', '2020-10-01', '2020-10-01T02:00:00.000Z', '2020-10-01T02:00:01.000Z', 'cash', 100, '[]', 'h3', 'h4')`)
      expect(() => insert.run('id-new', 3)).toThrow(/UNIQUE/)
      insert.run('id-1', 4) // a reused sale id is an agent bug, not a reason to lose the sale
      expect(db.prepare('SELECT count(*) AS n FROM sales').get()).toEqual({ n: 4 })
      expect(db.pragma('foreign_key_check')).toEqual([])
    } finally {
      db.close()
    }
  })
})
