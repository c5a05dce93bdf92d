// SQLite only: the WAL is checkpointed in a worker once it is past half the
// automatic threshold (a forwarding pass asks before each slice), so no commit
// runs SQLite's own checkpoint on the main thread; below that nothing happens.
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { openFleetDb, type FleetDb } from '../../../fleet-server/src/db/database.js'
import { createWalCheckpointer, OFF_THREAD_CHECKPOINT_FRAMES, walFrames } from '../../../fleet-server/src/db/wal-checkpoint.js'
import { tempDir } from '../../helpers/fleet.js'

const log = pino({ level: 'silent' })
const AT = '2020-11-01T00:00:00.000Z'

/** `n` outbox rows of ~8 KiB each (three pages apiece) in one transaction. */
async function write(db: FleetDb, from: number, n: number): Promise<void> {
  const body = 'x'.repeat(8_000)
  await db.transaction(async (tx) => {
    for (let i = from; i < from + n; i += 100) {
      const rows = Array.from({ length: Math.min(100, from + n - i) }, (_, j) => ({
        batch_key: `K-${i + j}`, kind: 'report', cabinet_id: `C-${i + j}`, period_id: '2020-10', revision: 0, body, state: 'pending', created_at: AT,
      }))
      await tx.insertInto('forwarding_outbox').values(rows).execute()
    }
  })
}

describe('WAL checkpoint off the main thread', () => {
  it('checkpoints past half the automatic threshold, after which the next write restarts the WAL', async () => {
    const db = await openFleetDb({ dialect: 'sqlite', dataDir: await tempDir() }, log)
    try {
      const file = db.sqlite!.name
      const checkpointer = createWalCheckpointer(file, log)
      await write(db, 0, 100)
      const small = walFrames(file)!
      expect(small).toBeGreaterThan(0)
      expect(small).toBeLessThan(OFF_THREAD_CHECKPOINT_FRAMES)
      await checkpointer.checkpointIfLarge()
      await write(db, 100, 1)
      // Below the mark nothing was checkpointed: the WAL only grew.
      expect(walFrames(file)!).toBeGreaterThan(small)

      await write(db, 1_000, 3_000)
      expect(walFrames(file)!).toBeGreaterThanOrEqual(OFF_THREAD_CHECKPOINT_FRAMES)
      await checkpointer.checkpointIfLarge()
      await write(db, 9_000, 1)
      expect(walFrames(file)!).toBeLessThan(100)
      expect((await db.kysely.selectFrom('forwarding_outbox').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n).toBe(3_102)
    } finally {
      await db.close()
    }
  })
})
