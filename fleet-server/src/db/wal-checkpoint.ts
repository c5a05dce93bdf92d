// SQLite only: checkpoints the WAL in a worker thread, for a writer that
// knows it is about to write a lot (issue 13: a forwarding pass asks before
// each slice). A month-end pass writes a few thousand WAL frames (~4,700
// at 2,700 cabinets, ~35,000 at 20,000); whenever a commit leaves the WAL past
// WAL_AUTOCHECKPOINT_PAGES, SQLite checkpoints inside that commit — up to
// 10,000 pages copied back and fsynced on the main thread: a 100-230 ms event
// loop block measured in the pass (bench/micro/forwarding-pass.ts, FWD_CKPT).
// Before each slice the pass asks here; past half the threshold, a PASSIVE
// checkpoint runs on a connection of its own in a worker, and the pass waits
// for it with the event loop free. With every frame copied back, the next
// write restarts the WAL, so the pass's own commits stay below the automatic
// threshold. PASSIVE never waits on readers or writers; a checkpoint from any
// connection is safe (it only copies committed pages into the database file).
import { closeSync, openSync, readSync } from 'node:fs'
import { createRequire } from 'node:module'
import { endianness } from 'node:os'
import { Worker } from 'node:worker_threads'
import type { Logger } from 'pino'
import { sqliteModuleFor } from '../../../shared/src/sqlite.js'
import { WAL_AUTOCHECKPOINT_PAGES } from './index.js'

const moduleFile = createRequire(import.meta.url).resolve(sqliteModuleFor(process.versions.node))

/** WAL frames past which a checkpoint runs off the main thread: half the automatic threshold, so the caller's next commits cannot reach it first. */
export const OFF_THREAD_CHECKPOINT_FRAMES = WAL_AUTOCHECKPOINT_PAGES / 2

// Plain CommonJS (eval: true), so the worker needs no TypeScript loader (as backup/verify.ts).
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.moduleFile)
let db
try {
  db = new Database(workerData.path, { fileMustExist: true })
  const [r] = db.pragma('wal_checkpoint(PASSIVE)')
  parentPort.postMessage({ walFrames: r.log, checkpointed: r.checkpointed })
} catch (err) {
  parentPort.postMessage({ error: String((err && err.message) || err) })
} finally {
  if (db) db.close()
}
`

/**
 * Frames in the WAL (mxFrame of the wal-index header, offset 16 of the -shm
 * file, native byte order: sqlite.org/walformat.html), read without a lock or
 * a query; null when there is no such file. A heuristic only: a torn read
 * just moves a checkpoint by a slice.
 */
export function walFrames(dbFile: string): number | null {
  let fd: number | undefined
  try {
    fd = openSync(`${dbFile}-shm`, 'r')
    const b = Buffer.alloc(4)
    if (readSync(fd, b, 0, 4, 16) !== 4) return null
    return endianness() === 'LE' ? b.readUInt32LE(0) : b.readUInt32BE(0)
  } catch {
    return null
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

function checkpointInWorker(path: string): Promise<{ walFrames: number; checkpointed: number }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { eval: true, workerData: { path, moduleFile } })
    let answer: { walFrames: number; checkpointed: number } | { error: string } | null = null
    worker.once('message', (m: typeof answer) => (answer = m))
    worker.once('error', reject)
    worker.once('exit', (code) => {
      if (answer && !('error' in answer)) resolve(answer)
      else reject(new Error(answer?.error ?? `WAL checkpoint worker exited with code ${code}`))
    })
  })
}

export interface WalCheckpointer {
  /** Checkpoints off the main thread when the WAL has grown past OFF_THREAD_CHECKPOINT_FRAMES (call before a run of writes); never throws. */
  checkpointIfLarge(): Promise<void>
}

export function createWalCheckpointer(dbFile: string, log: Logger): WalCheckpointer {
  // Frames when the last checkpoint could not copy them all (a reader held
  // older ones): the WAL will not restart, so the next try waits until as
  // many frames again were written. 0 after a complete checkpoint.
  let lastFrames = 0
  return {
    async checkpointIfLarge() {
      const frames = walFrames(dbFile)
      if (frames === null || frames < OFF_THREAD_CHECKPOINT_FRAMES) return
      if (frames >= lastFrames && frames - lastFrames < OFF_THREAD_CHECKPOINT_FRAMES) return
      lastFrames = frames
      try {
        const r = await checkpointInWorker(dbFile)
        if (r.checkpointed >= r.walFrames) lastFrames = 0 // the next write restarts the WAL
        log.debug({ walFrames: r.walFrames, checkpointed: r.checkpointed }, 'WAL checkpointed off the main thread')
      } catch (err) {
        log.warn({ err }, 'WAL checkpoint in a worker failed; SQLite checkpoints at a commit instead')
      }
    },
  }
}
