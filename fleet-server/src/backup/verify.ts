// Checks a backup copy before it may carry a backup's name: it opens, the
// whole file passes PRAGMA integrity_check, and its schema version is the
// live database's. Runs in a worker thread: integrity_check reads every page,
// and on the main thread it would stall sale ingest for as long as that takes.
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import { sqliteModuleFor } from '../../../shared/src/sqlite.js'

const moduleFile = createRequire(import.meta.url).resolve(sqliteModuleFor(process.versions.node))

// Plain CommonJS (eval: true), so the worker needs no TypeScript loader.
// journal_mode=DELETE makes the copy one self-contained file (the live
// database is in WAL mode and the copy's header says so).
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.moduleFile)
let db
try {
  db = new Database(workerData.path, { fileMustExist: true })
  db.pragma('journal_mode = DELETE')
  const rows = db.pragma('integrity_check')
  const problems = rows.map((r) => r.integrity_check).filter((v) => v !== 'ok')
  const userVersion = db.pragma('user_version', { simple: true })
  parentPort.postMessage({ problems, userVersion })
} catch (err) {
  parentPort.postMessage({ problems: [String(err && err.message || err)], userVersion: null })
} finally {
  if (db) db.close()
}
`

export interface Verdict {
  /** Empty when the copy is sound. */
  readonly problems: readonly string[]
  readonly userVersion: number | null
}

/** Opens `path` in a worker and checks it; never throws for a bad file, reports it. */
export function verifyCopy(path: string): Promise<Verdict> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { eval: true, workerData: { path, moduleFile } })
    let verdict: Verdict | null = null
    worker.once('message', (v: Verdict) => (verdict = v))
    worker.once('error', reject)
    worker.once('exit', (code) => (verdict ? resolve(verdict) : reject(new Error(`backup verification worker exited with code ${code}`))))
  })
}
