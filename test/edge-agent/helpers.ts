// Real parts for edge agent tests: temp dirs, an aedes broker on port 0, agents
// with fast timings, and a small responder that stands in for the fleet
// server's sale ingest (protocol.md step 3) until the real one exists.
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { createServer as createTlsServer } from 'node:tls'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Aedes, type AedesOptions, type AedesPublishPacket } from 'aedes'
import { onTestFinished } from 'vitest'
import {
  GENESIS_HASH, SaleBatchMsg, decodeMessage, lineTotalFen, parseTopic, saleHash, topics,
  type PostSaleBody, type ReplyMsg, type Sale,
} from '../../shared/src/index.js'
import { createAgent, makeConfig, type Agent, type AgentDeps, type AgentOptions } from '../../edge-agent/src/index.js'

export async function tempDir(prefix = 'edge-agent-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  return dir
}

export interface TestBroker {
  broker: Aedes
  port: number
  url: string
  /** Everything published under cabinets/+/up/#, parsed. */
  uplink: Array<{ topic: string; msg: Record<string, unknown> }>
  publish(topic: string, payload: string | Buffer, opts?: { retain?: boolean }): Promise<void>
  close(): Promise<void>
}

/** An aedes broker on `port` (0 = any), over TLS with `tls`; closed when the test finishes. */
export async function startBroker(opts: AedesOptions & { port?: number; tls?: { cert: Buffer; key: Buffer } } = {}): Promise<TestBroker> {
  const { port = 0, tls, ...aedesOpts } = opts
  const broker = await Aedes.createBroker({ maxClientsIdLength: 64, ...aedesOpts })
  const server = tls ? createTlsServer(tls, broker.handle) : createServer(broker.handle)
  const sockets = new Set<Socket>()
  server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve())
  })
  const actual = (server.address() as AddressInfo).port
  const uplink: TestBroker['uplink'] = []
  await new Promise<void>((resolve) => {
    broker.subscribe('cabinets/+/up/#', (packet: AedesPublishPacket, cb: () => void) => {
      try {
        uplink.push({ topic: packet.topic, msg: JSON.parse(packet.payload.toString()) as Record<string, unknown> })
      } catch {
        uplink.push({ topic: packet.topic, msg: {} })
      }
      cb()
    }, resolve)
  })
  let closing: Promise<void> | null = null
  const tb: TestBroker = {
    broker,
    port: actual,
    url: `${tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${actual}`,
    uplink,
    publish: (topic, payload, o = {}) =>
      new Promise((resolve, reject) => {
        broker.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: o.retain ?? false, dup: false }, (err) => (err ? reject(err) : resolve()))
      }),
    close: () => {
      closing ??= (async () => {
        // Stop accepting first, or a client reconnecting in between reaches a closed broker.
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()))
        await new Promise<void>((resolve) => broker.close(() => resolve()))
        for (const socket of sockets) socket.destroy()
        await serverClosed
      })()
      return closing
    },
  }
  onTestFinished(() => tb.close())
  return tb
}

/** An agent on a temp dir with test timings, closed when the test finishes. */
export async function startAgent(options: Partial<AgentOptions> = {}, deps: AgentDeps = {}): Promise<Agent> {
  const config = makeConfig({
    cabinetId: 'C1',
    dataDir: options.dataDir ?? (await tempDir()),
    serverUrl: 'mqtt://127.0.0.1:1',
    apiPort: null,
    logLevel: 'silent',
    ackTimeoutMs: 2_000,
    heartbeatIntervalMs: 60_000,
    backoffMinMs: 20,
    backoffMaxMs: 200,
    ...options,
  })
  const agent = await createAgent(config, deps)
  onTestFinished(() => agent.close())
  return agent
}

export function aSale(over: Partial<PostSaleBody> = {}): PostSaleBody {
  return { items: [{ sku: 'AH-341125-RICE-5KG', qty: 2, unitPriceFen: 4_990 }], payment: 'wechat', ...over }
}

type Rejected = Extract<ReplyMsg, { status: 'rejected' }>

/**
 * Stands in for the fleet server's ingest in these unit tests: validates each
 * SaleBatchMsg like protocol.md step 3, keeps committed sales in memory and
 * replies on the cabinet's replies topic.
 */
export class Responder {
  /** 'silent' receives batches but never replies (broker up, server down). */
  mode: 'commit' | 'silent' = 'commit'
  /** Replaces the normal verdict for the next batches while it returns a reply. */
  override: ((batch: SaleBatchMsg) => ReplyMsg | undefined) | null = null
  readonly batches: SaleBatchMsg[] = []
  readonly replies: ReplyMsg[] = []
  private constructor(
    private readonly tb: TestBroker,
    private readonly committed: Map<string, Sale[]>,
  ) {}

  /**
   * Subscribes on `tb`; `previous` carries its committed sales over (the same
   * server behind a new broker), or with `shared` keeps them in common (one
   * server behind several brokers, as a cluster's replicas share a database).
   */
  static async start(tb: TestBroker, previous?: Responder, shared = false): Promise<Responder> {
    const r = new Responder(tb, shared && previous ? previous.committed : new Map())
    if (!shared) for (const [id, sales] of previous?.committed ?? []) r.committed.set(id, [...sales])
    await new Promise<void>((resolve) => {
      tb.broker.subscribe('cabinets/+/up/sales', (packet: AedesPublishPacket, cb: () => void) => {
        r.onBatch(packet.topic, packet.payload as Buffer).then(cb, cb)
      }, resolve)
    })
    return r
  }

  /** Committed sales of a cabinet, ascending seq. */
  sales(cabinetId: string): readonly Sale[] {
    return this.committed.get(cabinetId) ?? []
  }

  /** Forgets everything after `seq`, as a server restored from an old backup would. */
  truncate(cabinetId: string, seq: number): void {
    this.committed.set(cabinetId, this.sales(cabinetId).slice(0, seq))
  }

  private async onBatch(topic: string, payload: Buffer): Promise<void> {
    const parsed = parseTopic(topic)
    if (parsed === null) return
    const cabinetId = parsed.cabinetId
    const d = decodeMessage(SaleBatchMsg, payload)
    if (!d.ok) return this.reply(cabinetId, { v: 1, type: 'reply', status: 'rejected', code: d.code, message: d.message, ...(d.batchId && { batchId: d.batchId }) })
    const batch = d.data
    this.batches.push(batch)
    if (this.mode === 'silent') return
    const forced = this.override?.(batch)
    if (forced) return this.reply(cabinetId, forced)
    const verdict = this.judge(cabinetId, batch)
    if (verdict.status === 'rejected') return this.reply(cabinetId, verdict)
    const chain = this.sales(cabinetId)
    const last = chain.at(-1)
    return this.reply(cabinetId, { v: 1, type: 'reply', status: 'committed', batchId: batch.batchId, ackedSeq: chain.length, ackedHash: last?.hash ?? GENESIS_HASH })
  }

  private judge(cabinetId: string, batch: SaleBatchMsg): Rejected | { status: 'committed' } {
    const reject = (code: Rejected['code'], message: string, extra: Partial<Rejected> = {}): Rejected =>
      ({ v: 1, type: 'reply', status: 'rejected', batchId: batch.batchId, code, message, ...extra })
    if (batch.cabinetId !== cabinetId) return reject('CABINET_MISMATCH', 'cabinet id differs from the topic')
    const chain = [...this.sales(cabinetId)]
    const committedSeq = chain.length
    const fresh: Sale[] = []
    for (const sale of batch.sales) {
      if (sale.totalFen !== lineTotalFen(sale.lines)) return reject('SALE_TOTAL_MISMATCH', `seq ${sale.seq}`)
      if (saleHash(cabinetId, sale) !== sale.hash) return reject('SALE_CHAIN_BROKEN', `seq ${sale.seq}: hash`)
      if (sale.seq <= committedSeq) {
        if (chain[sale.seq - 1]?.hash !== sale.hash) return reject('SALE_TAMPERED', `seq ${sale.seq}`)
        continue
      }
      const expectedSeq = committedSeq + fresh.length + 1
      if (sale.seq !== expectedSeq) return reject('SALE_SEQ_GAP', `expected seq ${expectedSeq}`, { expectedSeq, committedSeq })
      const prev = fresh.at(-1)?.hash ?? chain.at(-1)?.hash ?? GENESIS_HASH
      if (sale.prevHash !== prev) return reject('SALE_CHAIN_BROKEN', `seq ${sale.seq}: prevHash`)
      fresh.push(sale)
    }
    this.committed.set(cabinetId, [...chain, ...fresh])
    return { status: 'committed' }
  }

  private reply(cabinetId: string, msg: ReplyMsg): Promise<void> {
    this.replies.push(msg)
    return this.tb.publish(topics.replies(cabinetId), JSON.stringify(msg))
  }
}
