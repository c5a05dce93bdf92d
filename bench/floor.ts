// The ingest floor (issue 13, "Performance"): the least a server can do per
// one-sale message and still be an honest ingest, run in its own process and
// driven by the same load generator (sales mode) as the fleet server's
// per-message figure. Bare aedes (no auth, no routing of ours); one SQLite
// transaction per event-loop turn with the fleet's pragmas; per message one
// SHA-256, one bare INSERT and a ~200-byte QoS 0 reply written straight to the
// socket. No decode: the ack names the count of messages a cabinet sent, which
// is its seq when each message carries one sale in order.
//
// Run directly it is the server: prints {"event":"ready","mqtt":PORT}; on a
// `cpu` line prints {"event":"cpu",…}; ends on SIGTERM.
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { Aedes } from 'aedes'
import mqttPacket from 'mqtt-packet'
import { CACHE_KIB, WAL_AUTOCHECKPOINT_PAGES } from '../fleet-server/src/db/index.js'
import { Database } from '../fleet-server/src/db/sqlite.js'
import { runLoad } from './child.js'
import { COMPILED, startProgram } from './procs.js'
import { cpuPerMessage } from './server.js'
import { mainThreadCpuUs } from './thread-cpu.js'

interface CpuReport {
  event: 'cpu'
  /** Whole process (user + system), µs. */
  cpuUs: number
  /** Main thread only, µs (null without /proc). */
  mainThreadUs: number | null
  messages: number
}

/** Server CPU per message of the floor under the load generator's sales mode, as serverIngest() measures the fleet. */
export async function floorIngest(opts: { cabinets: number; salesPerCabinet: number; window: number }) {
  const server = await startProgram(COMPILED, ['bench/floor.ts'], {})
  try {
    const credentials = Array.from({ length: opts.cabinets }, (_, i) => ({ username: `FLOOR-${String(i).padStart(4, '0')}`, password: 'floor' }))
    const cpu = async (): Promise<CpuReport> => {
      server.send('cpu')
      return (await server.nextEvent()) as unknown as CpuReport
    }
    const before = await cpu()
    const r = await runLoad({ mode: 'sales', host: '127.0.0.1', port: Number(server.ready.mqtt), credentials, salesPerClient: opts.salesPerCabinet, batchSize: 1, window: opts.window })
    const after = await cpu()
    const serverCpuMs = (after.cpuUs - before.cpuUs) / 1000
    const mainUs = after.mainThreadUs !== null && before.mainThreadUs !== null ? after.mainThreadUs - before.mainThreadUs : null
    return {
      ...opts,
      ...r,
      stored: after.messages - before.messages,
      serverCpuMs,
      ...cpuPerMessage(r, serverCpuMs),
      mainThreadUsPerMessage: mainUs === null ? null : +(mainUs / r.messages).toFixed(1),
    }
  } finally {
    await server.stop()
  }
}

async function serve(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-floor-'))
  const db = new Database(join(dir, 'floor.db'))
  // The fleet database's pragmas (fleet-server/src/db/index.ts).
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.pragma('foreign_keys = ON')
  db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`)
  db.pragma(`cache_size = -${CACHE_KIB}`)
  db.exec('CREATE TABLE s (cabinet_id TEXT NOT NULL, seq INTEGER NOT NULL, hash TEXT NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (cabinet_id, seq)) WITHOUT ROWID')
  const insert = db.prepare('INSERT INTO s VALUES (?, ?, ?, ?)')

  interface Item { cabinetId: string; seq: number; payload: Buffer; hash: string }
  let queue: Item[] = []
  let scheduled = false
  let messages = 0
  const seqs = new Map<string, number>()
  const commit = db.transaction((items: Item[]) => {
    for (const it of items) {
      it.hash = createHash('sha256').update(it.payload).digest('hex')
      insert.run(it.cabinetId, it.seq, it.hash, it.payload)
    }
  })

  const broker = await Aedes.createBroker()
  const clients = (broker as unknown as { clients: Record<string, { conn: NodeJS.WritableStream } | undefined> }).clients
  const tick = (): void => {
    scheduled = false
    const items = queue
    queue = []
    commit(items)
    messages += items.length
    for (const it of items) {
      const conn = clients[it.cabinetId]?.conn
      if (!conn) continue
      const reply = `{"v":1,"type":"reply","status":"committed","batchId":"00000000-0000-0000-0000-000000000000","ackedSeq":${it.seq},"ackedHash":"${it.hash}"}`
      mqttPacket.writeToStream({ cmd: 'publish', topic: `cabinets/${it.cabinetId}/down/replies`, payload: Buffer.from(reply), qos: 0, retain: false, dup: false }, conn)
    }
  }
  await new Promise<void>((resolve) =>
    broker.subscribe(
      'cabinets/+/up/sales',
      (packet, cb) => {
        const cabinetId = packet.topic.split('/')[1]!
        const seq = (seqs.get(cabinetId) ?? 0) + 1
        seqs.set(cabinetId, seq)
        queue.push({ cabinetId, seq, payload: packet.payload as Buffer, hash: '' })
        if (!scheduled) {
          scheduled = true
          setImmediate(tick)
        }
        cb()
      },
      resolve,
    ),
  )
  const server = createServer(broker.handle)
  server.listen(0, '127.0.0.1', () => {
    const a = server.address()
    process.stdout.write(`${JSON.stringify({ event: 'ready', mqtt: typeof a === 'object' && a ? a.port : 0 })}\n`)
  })
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() !== 'cpu') return
    const u = process.cpuUsage()
    const report: CpuReport = { event: 'cpu', cpuUs: u.user + u.system, mainThreadUs: mainThreadCpuUs(), messages }
    process.stdout.write(`${JSON.stringify(report)}\n`)
  })
  process.once('SIGTERM', () => {
    const exit = (): never => {
      db.close()
      rmSync(dir, { recursive: true, force: true })
      process.exit(0)
    }
    broker.close(exit)
    server.close()
    setTimeout(exit, 3_000).unref()
  })
}

if (import.meta.url === `file://${process.argv[1]}`) await serve()
