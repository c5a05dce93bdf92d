// Baselines measured in the same run as the figures they frame: what bare
// aedes and bare better-sqlite3 can do on this machine with nothing of ours.
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Aedes } from 'aedes'
import { Database } from '../fleet-server/src/db/sqlite.js'
import { uuidv7 } from '../shared/src/index.js'
import { runLoad } from './child.js'
import { cpuMsSince, cpuPerMessage } from './server.js'

/** Bare aedes QoS 1: publishers → in-process no-op subscriber, PUBACK counted. */
export async function bareAedesQos1(opts: { clients: number; messagesPerClient: number; payloadBytes: number; window: number }) {
  const broker = await Aedes.createBroker()
  let received = 0
  await new Promise<void>((r) => broker.subscribe('bench/#', (_p, cb) => { received++; cb() }, r))
  const server = createServer(broker.handle)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  try {
    const cpu0 = process.cpuUsage()
    const r = await runLoad({ mode: 'raw', host: '127.0.0.1', port, ...opts })
    const serverCpuMs = cpuMsSince(cpu0)
    return { ...r, delivered: received, serverCpuMs, ...cpuPerMessage(r, serverCpuMs) }
  } finally {
    await new Promise<void>((res) => broker.close(() => res()))
    await new Promise<void>((res) => server.close(() => res()))
  }
}

/** Bare better-sqlite3: batched inserts of sale-shaped rows with a secondary unique index. */
export async function bareSqliteInserts(opts: { rows: number; batch: number }) {
  const dir = await mkdtemp(join(tmpdir(), 'bench-sqlite-'))
  const db = new Database(join(dir, 'b.db'))
  try {
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL')
    db.exec(`CREATE TABLE s (sale_id TEXT PRIMARY KEY, cabinet_id TEXT NOT NULL, seq INTEGER NOT NULL, sold_at TEXT NOT NULL,
      total_fen INTEGER NOT NULL, lines TEXT NOT NULL, hash TEXT NOT NULL, UNIQUE (cabinet_id, seq)) WITHOUT ROWID`)
    const ins = db.prepare('INSERT INTO s VALUES (?, ?, ?, ?, ?, ?, ?)')
    const lines = JSON.stringify([{ sku: 'SKU-1', qty: 2, unitPriceFen: 600 }, { sku: 'SKU-2', qty: 1, unitPriceFen: 1200 }])
    const hash = 'a'.repeat(64)
    const rows = Array.from({ length: opts.rows }, (_, i) => [uuidv7(), `C${i % 200}`, Math.floor(i / 200) + 1, new Date().toISOString(), 2400, lines, hash] as const)
    const tx = db.transaction((chunk: typeof rows) => { for (const r of chunk) ins.run(...r) })
    const t0 = performance.now()
    for (let i = 0; i < rows.length; i += opts.batch) tx(rows.slice(i, i + opts.batch))
    const ms = performance.now() - t0
    return { rows: opts.rows, batch: opts.batch, durationMs: ms, rowsPerS: (opts.rows / ms) * 1000 }
  } finally {
    db.close()
    await rm(dir, { recursive: true, force: true })
  }
}
