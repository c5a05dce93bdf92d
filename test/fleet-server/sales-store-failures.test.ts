// The sales store sorts a tick's failed batches by the dialect-neutral driver
// error classifier (db/dialect.ts): a batch of a cabinet the database does not
// know is `unknown_cabinet`, a (cabinet, seq) already stored is `conflict`, a
// later batch of a failed cabinet is `after_failure`; the rest commit.
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { openFleetDb } from '../../fleet-server/src/db/database.js'
import { createSalesStore, type TickWrite } from '../../fleet-server/src/sales/store.js'
import type { BatchWrite, SaleRecord } from '../../fleet-server/src/sales/types.js'
import { tempDir } from '../helpers/fleet.js'
import { sqlRows, sqlRun } from '../helpers/test-db.js'

const at = '2020-10-01T01:00:00.000Z'
const sale = (seq: number): SaleRecord => ({
  saleId: `00000000-0000-7000-8000-${String(seq).padStart(12, '0')}`, seq, soldAt: at, soldAtMs: Date.parse(at), soldOn: '2020-10-01',
  recordedAt: at, recordedAtMs: Date.parse(at), payment: 'wechat', totalFen: 500, lines: [{ sku: 'X', qty: 1, unitPriceFen: 500 }],
  linesJson: '[{"sku":"X","qty":1,"unitPriceFen":500}]', prevHash: 'p', hash: `h${seq}`, skewFlag: 0,
})
const batch = (cabinetId: string, ...seqs: number[]): BatchWrite => ({ cabinetId, receivedAt: at, sales: seqs.map(sale) })

describe('sales store: failed batches in a tick', () => {
  it('commits the good batches and names why each other one failed', async () => {
    const db = await openFleetDb({ dialect: 'sqlite', dataDir: await tempDir() }, pino({ level: 'silent' }))
    try {
      await sqlRun(db, `INSERT INTO cabinets (cabinet_id, county_code, operator, status, secret_hash, credentials_issued_at, created_at, updated_at)
                  VALUES ('C-1', '341125', NULL, 'operating', 'x', ?, ?, ?)`, at, at, at)
      const store = createSalesStore(db)
      const commit = (tick: TickWrite) => db.transaction((tx) => store.commitTick(tx, tick))
      expect((await commit({ batches: [batch('C-1', 1)], tampered: [] })).failed.size).toBe(0)

      const r = await commit({ batches: [batch('C-1', 1), batch('C-1', 2), batch('NOBODY', 1)], tampered: [] })
      expect([...r.failed.entries()]).toEqual([[0, 'conflict'], [1, 'after_failure'], [2, 'unknown_cabinet']])
      expect(await sqlRows(db, 'SELECT cabinet_id, seq FROM sales ORDER BY seq')).toEqual([{ cabinet_id: 'C-1', seq: 1 }])
    } finally {
      await db.close()
    }
  })
})
