// A light MQTT load generator: raw mqtt-packet over net sockets, no mqtt.js
// client machinery, run in its own process so the broker under test keeps a
// core to itself. On 2 cores, mqtt.js clients would be the bottleneck of any
// throughput figure. Reads a JSON spec file, prints one JSON result line.
import { readFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { createInterface } from 'node:readline'
import mqttPacket from 'mqtt-packet'
import { createPrivateKey, type KeyObject } from 'node:crypto'
import { GENESIS_HASH, saleHash, signBatch, topics, uuidv7 } from '../shared/src/index.js'

export type LoadSpec =
  | {
      mode: 'raw'
      host: string
      port: number
      clients: number
      messagesPerClient: number
      payloadBytes: number
      /** QoS 1 publishes in flight per connection. */
      window: number
      credentials?: Array<{ username: string; password: string }>
    }
  | {
      mode: 'sales'
      host: string
      port: number
      /** One per simulated cabinet; the client id is the username. signingKeyPem: an enrolled cabinet's key, every batch signed (issue 16 §2). */
      credentials: Array<{ username: string; password: string; signingKeyPem?: string }>
      salesPerClient: number
      batchSize: number
      /** Sale batches awaiting their application ack per cabinet. */
      window: number
      /** Brokers to spread the cabinets over (cabinet i dials servers[i % n]); host and port when absent. */
      servers?: Array<{ host: string; port: number }>
      /**
       * QoS of the replies subscription (default 1). The edge agent subscribes
       * at QoS 0 on a NATS cluster: there a QoS 1 subscription becomes a
       * replicated JetStream consumer per cabinet.
       */
      replyQos?: 0 | 1
      /**
       * On a SALE_SEQ_GAP reply, send again from the seq the server asks for,
       * as the edge agent does (default false: counted as a reject). Needed
       * with several replicas: the work queue hands a cabinet's batches in
       * flight to different replicas, which may commit them out of order.
       */
      resendOnGap?: boolean
    }
  | {
      /**
       * Connects every credential (client id = username) as fast as it can,
       * `concurrency` CONNECTs in flight, then holds them and follows commands
       * on stdin: `extra` tries one more connection (expected to be refused at
       * the cap), `storm` drops every connection at once and reconnects them all
       * (a refused attempt retries after 100–500 ms, as a cabinet would),
       * `quit` ends. Each step prints one JSON line.
       */
      mode: 'connect'
      host: string
      port: number
      credentials: Array<{ username: string; password: string }>
      concurrency: number
      extra: { username: string; password: string }
      /** Bound on each connect phase. */
      deadlineMs: number
      /** Brokers to spread the cabinets over (cabinet i dials servers[i % n]); host and port when absent. */
      servers?: Array<{ host: string; port: number }>
      /** Bound on one connect attempt (default 10 s). */
      attemptTimeoutMs?: number
      /**
       * As the edge agent does on every connect: subscribe to the cabinet's
       * replies, catalog and commands at QoS 0, a connection counting once
       * its SUBACK is in (default false: CONNACK alone).
       */
      subscribeDown?: boolean
    }

export interface LoadResult {
  mode: string
  clients: number
  connectMs: number
  durationMs: number
  messages: number
  sales: number
  messagesPerS: number
  salesPerS: number
  rejects: number
  errors: string[]
  /** Batches sent again after a SALE_SEQ_GAP reply (resendOnGap). */
  resent?: number
  /** CPU the load generator itself used in the timed window (user + system, ms): on 2 cores it competes with the server. */
  cpuMs?: number
}

function cpuSince(start: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(start)
  return (u.user + u.system) / 1000
}

interface Conn {
  sock: Socket
  send(p: mqttPacket.Packet): void
}

function open(host: string, port: number, clientId: string, auth: { username: string; password: string } | undefined, onPacket: (p: mqttPacket.Packet) => void, onClose?: () => void): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, host)
    sock.setNoDelay(true)
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    const send = (p: mqttPacket.Packet) => sock.write(mqttPacket.generate(p))
    let connected = false
    parser.on('packet', (p) => {
      if (!connected) {
        if (p.cmd === 'connack' && (p as mqttPacket.IConnackPacket).returnCode === 0) {
          connected = true
          if (onClose) sock.once('close', onClose)
          resolve({ sock, send })
        } else reject(new Error(`${clientId}: connack ${(p as mqttPacket.IConnackPacket).returnCode}`))
        return
      }
      onPacket(p)
    })
    parser.on('error', reject)
    sock.on('data', (d) => parser.parse(d))
    sock.once('error', reject)
    sock.once('connect', () =>
      send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 120, ...(auth && { username: auth.username, password: Buffer.from(auth.password) }) }),
    )
  })
}

async function runRaw(spec: Extract<LoadSpec, { mode: 'raw' }>): Promise<LoadResult> {
  const payload = Buffer.alloc(spec.payloadBytes, 'x')
  const errors: string[] = []
  let done = 0
  let finish!: () => void
  const allDone = new Promise<void>((r) => (finish = r))
  const t0 = performance.now()
  const conns = await Promise.all(
    Array.from({ length: spec.clients }, async (_, i) => {
      const auth = spec.credentials?.[i]
      const clientId = auth?.username ?? `load-${i}`
      let sent = 0
      let acked = 0
      let nextId = 1
      const topic = `bench/${clientId}`
      // eslint-disable-next-line prefer-const -- assigned once, but closures above it read it
      let conn!: Conn
      const pump = () => {
        while (sent < spec.messagesPerClient && sent - acked < spec.window) {
          sent++
          const messageId = nextId
          nextId = nextId === 65535 ? 1 : nextId + 1
          conn.send({ cmd: 'publish', topic, payload, qos: 1, messageId, retain: false, dup: false })
        }
      }
      conn = await open(spec.host, spec.port, clientId, auth, (p) => {
        if (p.cmd !== 'puback') return
        acked++
        if (acked === spec.messagesPerClient) {
          if (++done === spec.clients) finish()
        } else pump()
      })
      return { conn, pump }
    }),
  )
  const connectMs = performance.now() - t0
  const t1 = performance.now()
  const cpu0 = process.cpuUsage()
  for (const c of conns) c.pump()
  await allDone
  const durationMs = performance.now() - t1
  const cpuMs = cpuSince(cpu0)
  for (const c of conns) c.conn.sock.destroy()
  const messages = spec.clients * spec.messagesPerClient
  return { mode: 'raw', clients: spec.clients, connectMs, durationMs, messages, sales: 0, messagesPerS: (messages / durationMs) * 1000, salesPerS: 0, rejects: 0, errors, cpuMs }
}

/** Pre-builds each cabinet's chained sale batches (signed with `key` when given) so hashing and signing stay off the clock. */
function buildBatches(cabinetId: string, salesPerClient: number, batchSize: number, key?: KeyObject): Buffer[] {
  const batches: Buffer[] = []
  let prevHash = GENESIS_HASH
  let seq = 0
  const start = Date.parse('2020-10-01T00:00:00Z')
  while (seq < salesPerClient) {
    const sales = []
    for (let k = 0; k < batchSize && seq < salesPerClient; k++) {
      seq++
      const at = new Date(start + seq * 60_000).toISOString()
      const lines = [
        { sku: `SKU-${seq % 40}`, qty: 1 + (seq % 3), unitPriceFen: 500 + (seq % 7) * 100 },
        { sku: `SKU-${(seq * 7) % 40}`, qty: 1, unitPriceFen: 1200 },
      ]
      const totalFen = lines.reduce((s, l) => s + l.qty * l.unitPriceFen, 0)
      const sale = { saleId: uuidv7(start + seq * 60_000), seq, soldAt: at, recordedAt: at, payment: 'wechat' as const, lines, totalFen, prevHash, hash: '' }
      sale.hash = saleHash(cabinetId, sale)
      prevHash = sale.hash
      sales.push(sale)
    }
    const batchId = uuidv7()
    const sig = key && signBatch(key, cabinetId, batchId, sales.map((x) => x.hash))
    batches.push(Buffer.from(JSON.stringify({ v: 1, type: 'sales', batchId, cabinetId, sales, ...(sig && { sig }) })))
  }
  return batches
}

async function runSales(spec: Extract<LoadSpec, { mode: 'sales' }>): Promise<LoadResult> {
  const errors: string[] = []
  let rejects = 0
  let resent = 0
  let done = 0
  let finish!: () => void
  let fail!: (err: Error) => void
  const allDone = new Promise<void>((resolve, reject) => {
    finish = resolve
    fail = reject
  })
  // A broker may drop a cabinet mid-run: said at once, not a hang (or an empty event loop).
  allDone.catch(() => {})
  const t0 = performance.now()
  const clients = await Promise.all(
    spec.credentials.map(async (cred, i) => {
      const cabinetId = cred.username
      const server = serverOf(spec, i)
      const batches = buildBatches(cabinetId, spec.salesPerClient, spec.batchSize, cred.signingKeyPem === undefined ? undefined : createPrivateKey(cred.signingKeyPem))
      let next = 0
      let committed = 0
      let isDone = false
      let messageId = 1
      // eslint-disable-next-line prefer-const -- assigned once, but closures above it read it
      let conn!: Conn
      const pump = () => {
        while (next < batches.length && next - committed < spec.window) {
          conn.send({ cmd: 'publish', topic: topics.sales(cabinetId), payload: batches[next]!, qos: 1, messageId, retain: false, dup: false })
          messageId = messageId === 65535 ? 1 : messageId + 1
          next++
        }
      }
      let subscribed!: () => void
      const isSubscribed = new Promise<void>((r) => (subscribed = r))
      conn = await open(server.host, server.port, cabinetId, cred, (p) => {
        if (p.cmd === 'suback') return subscribed()
        if (p.cmd !== 'publish') return
        const pub = p as mqttPacket.IPublishPacket
        if (pub.qos > 0 && pub.messageId !== undefined) conn.send({ cmd: 'puback', messageId: pub.messageId })
        const reply = JSON.parse(pub.payload.toString()) as { status: string; ackedSeq?: number; code?: string; message?: string; expectedSeq?: number }
        if (spec.resendOnGap && reply.code === 'SALE_SEQ_GAP' && reply.expectedSeq !== undefined) {
          rejects++
          // The batch holding the seq asked for; older than what is committed, the reply is stale.
          const from = Math.floor((reply.expectedSeq - 1) / spec.batchSize)
          if (from < committed) return
          resent += next - from
          committed = from
          next = from
          return pump()
        }
        if (reply.status !== 'committed') {
          rejects++
          if (errors.length < 5) errors.push(`${cabinetId}: ${reply.code} ${reply.message}`)
          return
        }
        committed = Math.max(committed, Math.ceil((reply.ackedSeq ?? 0) / spec.batchSize))
        // ackedSeq is cumulative: several replies of one tick may all carry the final seq.
        if (reply.ackedSeq === spec.salesPerClient) {
          if (!isDone) {
            isDone = true
            if (++done === spec.credentials.length) finish()
          }
        } else pump()
      }, () => {
        if (!isDone) fail(new Error(`${cabinetId}: the broker closed the connection after ${committed} of ${batches.length} batches committed`))
      })
      conn.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: topics.replies(cabinetId), qos: spec.replyQos ?? 1 }] })
      await isSubscribed
      return { conn, pump }
    }),
  )
  const connectMs = performance.now() - t0
  const t1 = performance.now()
  const cpu0 = process.cpuUsage()
  for (const c of clients) c.pump()
  await allDone
  const durationMs = performance.now() - t1
  const cpuMs = cpuSince(cpu0)
  for (const c of clients) c.conn.sock.destroy()
  const sales = spec.credentials.length * spec.salesPerClient
  const messages = spec.credentials.length * Math.ceil(spec.salesPerClient / spec.batchSize)
  return { mode: 'sales', clients: spec.credentials.length, connectMs, durationMs, messages, sales, messagesPerS: (messages / durationMs) * 1000, salesPerS: (sales / durationMs) * 1000, rejects, errors, cpuMs, ...(spec.resendOnGap && { resent }) }
}

/** The broker cabinet `i` dials: spread round-robin over `servers` when given. */
function serverOf(spec: { host: string; port: number; servers?: Array<{ host: string; port: number }> }, i: number): { host: string; port: number } {
  return spec.servers?.length ? spec.servers[i % spec.servers.length]! : spec
}

/** One authenticated connection attempt: the socket once CONNACK 0 arrives, or why not. */
function tryConnect(host: string, port: number, auth: { username: string; password: string }, timeoutMs: number, subscribe: string[] = []): Promise<Socket | string> {
  return new Promise((resolve) => {
    const sock = connect(port, host)
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    let isSettled = false
    const settle = (v: Socket | string): void => {
      if (isSettled) return
      isSettled = true
      clearTimeout(timer)
      if (typeof v === 'string') sock.destroy()
      resolve(v)
    }
    const timer = setTimeout(() => settle('timeout'), timeoutMs)
    parser.on('packet', (p) => {
      if (p.cmd === 'suback') {
        const granted = (p as mqttPacket.ISubackPacket).granted
        settle(granted.every((g) => typeof g === 'number' && g < 0x80) ? sock : 'suback refused')
        return
      }
      if (p.cmd !== 'connack') return
      const rc = (p as mqttPacket.IConnackPacket).returnCode ?? 0
      if (rc !== 0) settle(`connack ${rc}`)
      else if (subscribe.length === 0) settle(sock)
      else sock.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: subscribe.map((topic) => ({ topic, qos: 0 as const })) }))
    })
    parser.on('error', () => settle('bad packet'))
    sock.on('data', (d) => parser.parse(d))
    sock.on('error', (err: NodeJS.ErrnoException) => settle(err.code ?? 'error'))
    sock.on('close', () => settle('closed before CONNACK'))
    sock.once('connect', () =>
      sock.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: auth.username, keepalive: 600, username: auth.username, password: Buffer.from(auth.password) })),
    )
  })
}

async function runConnect(spec: Extract<LoadSpec, { mode: 'connect' }>): Promise<void> {
  const out = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(o)}\n`)
  const socks: Array<Socket | null> = spec.credentials.map(() => null)
  const phase = async (retry: boolean) => {
    const t0 = performance.now()
    const deadline = t0 + spec.deadlineMs
    const reasons: Record<string, number> = {}
    let next = 0
    let attempts = 0
    const lane = async (): Promise<void> => {
      while (next < spec.credentials.length) {
        const i = next++
        for (;;) {
          attempts++
          const server = serverOf(spec, i)
          const cabinetId = spec.credentials[i]!.username
          const down = spec.subscribeDown ? [topics.replies(cabinetId), topics.catalog(cabinetId), topics.commands(cabinetId)] : []
          const r = await tryConnect(server.host, server.port, spec.credentials[i]!, spec.attemptTimeoutMs ?? 10_000, down)
          if (typeof r !== 'string') {
            socks[i] = r
            r.on('error', () => {})
            break
          }
          reasons[r] = (reasons[r] ?? 0) + 1
          if (!retry || performance.now() > deadline) break
          await new Promise((res) => setTimeout(res, 100 + Math.random() * 400))
        }
      }
    }
    await Promise.all(Array.from({ length: spec.concurrency }, lane))
    return { connected: socks.filter((s) => s !== null && !s.destroyed).length, attempts, failures: reasons, ms: Math.round(performance.now() - t0) }
  }
  out({ event: 'connected', ...(await phase(false)) })
  const lines = createInterface({ input: process.stdin })
  for await (const line of lines) {
    const cmd = line.trim()
    if (cmd === 'extra') {
      const t = performance.now()
      const r = await tryConnect(spec.host, spec.port, spec.extra, 5_000)
      if (typeof r !== 'string') r.destroy()
      out({ event: 'extra', outcome: typeof r === 'string' ? 'refused' : 'accepted', reason: typeof r === 'string' ? r : null, ms: Math.round(performance.now() - t) })
    } else if (cmd === 'storm') {
      for (const [i, s] of socks.entries()) {
        s?.destroy()
        socks[i] = null
      }
      out({ event: 'reconnected', ...(await phase(true)) })
    } else if (cmd === 'quit') break
  }
  for (const s of socks) s?.destroy()
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as LoadSpec
  if (spec.mode === 'connect') {
    await runConnect(spec)
  } else {
    try {
      const result = spec.mode === 'raw' ? await runRaw(spec) : await runSales(spec)
      process.stdout.write(`${JSON.stringify(result)}\n`)
    } catch (err) {
      process.stdout.write(`${JSON.stringify({ error: (err as Error).message })}\n`)
      process.exit(1)
    }
  }
  process.exit(0)
}
