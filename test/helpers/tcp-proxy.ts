// A real TCP proxy for fault injection (issue 12): put it between agents and
// the broker, or between the fleet server and the platform, and switch its
// fault at run time. Bytes are never reordered, altered or duplicated; a fault
// only delays, stalls, swallows or cuts them, as a bad network would.
import { once } from 'node:events'
import { createConnection, createServer, type Server, type Socket } from 'node:net'

/**
 * - latency: every chunk waits ms (+ up to jitterMs, seeded) in each direction.
 * - drop: both directions stall while connections stay open (a dead route;
 *   TCP would retransmit, so the bytes held arrive after heal).
 * - blackhole: new connections are accepted and swallowed, never answered;
 *   live ones stop answering too. Heal resets them (a NAT dropping its state).
 * - trickle: each direction limited to bytesPerSec.
 * - heal: none of the above.
 */
export type ProxyFault =
  | { kind: 'heal' }
  | { kind: 'latency'; ms: number; jitterMs?: number }
  | { kind: 'drop' }
  | { kind: 'blackhole' }
  | { kind: 'trickle'; bytesPerSec: number }

export interface ProxyStats {
  connections: number
  cuts: number
  bytesUp: number
  bytesDown: number
  swallowedBytes: number
}

export interface TcpProxy {
  readonly port: number
  /** The fault now in force (heal = none). */
  readonly fault: ProxyFault
  set(fault: ProxyFault): void
  heal(): void
  /** Destroys every live connection (both ends see a reset); the proxy keeps accepting. */
  cut(): number
  readonly stats: ProxyStats
  close(): Promise<void>
}

/** A small seeded PRNG (mulberry32 over an FNV-1a hash of the seed): same seed, same faults. */
export function seededRandom(seed: string): () => number {
  let h = 0x811c9dc5
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 0x01000193)
  let a = h >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Trickle releases bytes in ticks of this many ms (20 per second). */
const TRICKLE_TICK_MS = 50
/** Pause the sender once this much waits in one direction (backpressure, not unbounded buffering). */
const HIGH_WATER_BYTES = 1024 * 1024

interface Chunk {
  data: Buffer
  dueAt: number
}

/** One direction of one connection: a FIFO that releases chunks as the fault allows. */
class Pump {
  private readonly queue: Chunk[] = []
  private queuedBytes = 0
  private lastDueAt = 0
  private timer: NodeJS.Timeout | null = null
  private isWriting = false

  constructor(
    private readonly src: Socket,
    private readonly dst: Socket,
    private readonly proxy: ProxyState,
    private readonly onBytes: (n: number) => void,
  ) {
    src.on('data', (data: Buffer) => this.push(data))
  }

  private push(data: Buffer): void {
    const f = this.proxy.fault
    if (f.kind === 'blackhole') {
      this.proxy.stats.swallowedBytes += data.length
      return
    }
    const delay = f.kind === 'latency' ? f.ms + Math.floor(this.proxy.random() * ((f.jitterMs ?? 0) + 1)) : 0
    // Never let jitter reorder bytes within a stream.
    const dueAt = Math.max(Date.now() + delay, this.lastDueAt)
    this.lastDueAt = dueAt
    this.queue.push({ data, dueAt })
    this.queuedBytes += data.length
    if (this.queuedBytes > HIGH_WATER_BYTES) this.src.pause()
    this.pump()
  }

  /** Releases what the fault allows now, and schedules the next release. */
  pump(): void {
    if (this.isWriting || this.dst.destroyed) return
    if (this.timer) {
      clearTimeout(this.timer)
      this.timer = null
    }
    for (;;) {
      const head = this.queue[0]
      if (!head) break
      const f = this.proxy.fault
      if (f.kind === 'drop' || f.kind === 'blackhole') return // heal() pumps again
      const now = Date.now()
      if (head.dueAt > now) {
        this.timer = setTimeout(() => this.pump(), head.dueAt - now)
        return
      }
      let out = head.data
      if (f.kind === 'trickle') {
        const budget = Math.max(1, Math.floor((f.bytesPerSec * TRICKLE_TICK_MS) / 1000))
        if (out.length > budget) {
          head.data = out.subarray(budget)
          out = out.subarray(0, budget)
        } else this.queue.shift()
        this.write(out)
        if (!this.isWriting) this.timer = setTimeout(() => this.pump(), TRICKLE_TICK_MS)
        return
      }
      this.queue.shift()
      this.write(out)
      if (this.isWriting) return
    }
  }

  private write(out: Buffer): void {
    this.queuedBytes -= out.length
    if (this.queuedBytes <= HIGH_WATER_BYTES && this.src.isPaused()) this.src.resume()
    this.onBytes(out.length)
    if (!this.dst.write(out)) {
      this.isWriting = true
      this.dst.once('drain', () => {
        this.isWriting = false
        this.pump()
      })
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    this.queue.length = 0
  }
}

interface ProxyState {
  fault: ProxyFault
  random: () => number
  stats: ProxyStats
}

interface Conn {
  client: Socket
  upstream: Socket | null
  pumps: Pump[]
  isBlackholed: boolean
}

export interface TcpProxyOptions {
  target: { host?: string; port: number }
  /** Seeds latency jitter; default 'tcp-proxy'. */
  seed?: string
  /** Listen port; 0 (default) = any free port. A restart test can pass its old port back. */
  port?: number
}

/** Starts a proxy on 127.0.0.1 that forwards to `target`. */
export async function startTcpProxy(opts: TcpProxyOptions): Promise<TcpProxy> {
  const host = opts.target.host ?? '127.0.0.1'
  const state: ProxyState = {
    fault: { kind: 'heal' },
    random: seededRandom(opts.seed ?? 'tcp-proxy'),
    stats: { connections: 0, cuts: 0, bytesUp: 0, bytesDown: 0, swallowedBytes: 0 },
  }
  const conns = new Set<Conn>()

  const destroy = (c: Conn) => {
    for (const p of c.pumps) p.stop()
    c.client.destroy()
    c.upstream?.destroy()
    conns.delete(c)
  }

  const server: Server = createServer((client) => {
    state.stats.connections++
    client.setNoDelay(true)
    const conn: Conn = { client, upstream: null, pumps: [], isBlackholed: false }
    conns.add(conn)
    client.on('error', () => destroy(conn))
    client.on('close', () => destroy(conn))
    if (state.fault.kind === 'blackhole') {
      // Accept and swallow: the peer sees a connection that never answers.
      conn.isBlackholed = true
      client.on('data', (d: Buffer) => (state.stats.swallowedBytes += d.length))
      return
    }
    const upstream = createConnection({ host, port: opts.target.port })
    upstream.setNoDelay(true)
    conn.upstream = upstream
    upstream.on('error', () => destroy(conn))
    upstream.on('close', () => destroy(conn))
    conn.pumps.push(
      new Pump(client, upstream, state, (n) => (state.stats.bytesUp += n)),
      new Pump(upstream, client, state, (n) => (state.stats.bytesDown += n)),
    )
  })
  server.listen(opts.port ?? 0, '127.0.0.1')
  await once(server, 'listening')
  const addr = server.address()
  const port = typeof addr === 'object' && addr ? addr.port : 0

  const cut = (): number => {
    const n = conns.size
    for (const c of [...conns]) destroy(c)
    state.stats.cuts += n
    return n
  }

  const set = (fault: ProxyFault): void => {
    const was = state.fault
    state.fault = fault
    if (was.kind === 'blackhole' && fault.kind !== 'blackhole') {
      // Swallowed bytes are gone: a connection that lost them cannot resume, so reset it.
      cut()
    } else if (fault.kind === 'blackhole') {
      for (const c of conns) c.isBlackholed = true
    }
    for (const c of conns) for (const p of c.pumps) p.pump()
  }

  return {
    port,
    get fault() {
      return state.fault
    },
    set,
    heal: () => set({ kind: 'heal' }),
    cut,
    stats: state.stats,
    async close() {
      cut()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
