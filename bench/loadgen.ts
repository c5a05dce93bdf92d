// A light MQTT load generator: raw mqtt-packet over net sockets, no mqtt.js
// client machinery, run in its own process so the broker under test keeps a
// core to itself. On 2 cores, mqtt.js clients would be the bottleneck of any
// throughput figure. Reads a JSON spec file, prints one JSON result line.
import { readFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import mqttPacket from 'mqtt-packet'
import { GENESIS_HASH, saleHash, topics, uuidv7 } from '../shared/src/index.js'

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
      /** One per simulated cabinet; the client id is the username. */
      credentials: Array<{ username: string; password: string }>
      salesPerClient: number
      batchSize: number
      /** Sale batches awaiting their application ack per cabinet. */
      window: number
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
}

interface Conn {
  sock: Socket
  send(p: mqttPacket.Packet): void
}

function open(host: string, port: number, clientId: string, auth: { username: string; password: string } | undefined, onPacket: (p: mqttPacket.Packet) => void): Promise<Conn> {
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
  for (const c of conns) c.pump()
  await allDone
  const durationMs = performance.now() - t1
  for (const c of conns) c.conn.sock.destroy()
  const messages = spec.clients * spec.messagesPerClient
  return { mode: 'raw', clients: spec.clients, connectMs, durationMs, messages, sales: 0, messagesPerS: (messages / durationMs) * 1000, salesPerS: 0, rejects: 0, errors }
}

/** Pre-builds each cabinet's chained sale batches so hashing stays off the clock. */
function buildBatches(cabinetId: string, salesPerClient: number, batchSize: number): Buffer[] {
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
    batches.push(Buffer.from(JSON.stringify({ v: 1, type: 'sales', batchId: uuidv7(), cabinetId, sales })))
  }
  return batches
}

async function runSales(spec: Extract<LoadSpec, { mode: 'sales' }>): Promise<LoadResult> {
  const errors: string[] = []
  let rejects = 0
  let done = 0
  let finish!: () => void
  const allDone = new Promise<void>((r) => (finish = r))
  const t0 = performance.now()
  const clients = await Promise.all(
    spec.credentials.map(async (cred) => {
      const cabinetId = cred.username
      const batches = buildBatches(cabinetId, spec.salesPerClient, spec.batchSize)
      let next = 0
      let committed = 0
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
      conn = await open(spec.host, spec.port, cabinetId, cred, (p) => {
        if (p.cmd === 'suback') return subscribed()
        if (p.cmd !== 'publish') return
        const pub = p as mqttPacket.IPublishPacket
        if (pub.qos > 0 && pub.messageId !== undefined) conn.send({ cmd: 'puback', messageId: pub.messageId })
        const reply = JSON.parse(pub.payload.toString()) as { status: string; ackedSeq?: number; code?: string; message?: string }
        if (reply.status !== 'committed') {
          rejects++
          if (errors.length < 5) errors.push(`${cabinetId}: ${reply.code} ${reply.message}`)
          return
        }
        committed = Math.ceil((reply.ackedSeq ?? 0) / spec.batchSize)
        if (reply.ackedSeq === spec.salesPerClient) {
          if (++done === spec.credentials.length) finish()
        } else pump()
      })
      conn.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: topics.replies(cabinetId), qos: 1 }] })
      await isSubscribed
      return { conn, pump }
    }),
  )
  const connectMs = performance.now() - t0
  const t1 = performance.now()
  for (const c of clients) c.pump()
  await allDone
  const durationMs = performance.now() - t1
  for (const c of clients) c.conn.sock.destroy()
  const sales = spec.credentials.length * spec.salesPerClient
  const messages = spec.credentials.length * Math.ceil(spec.salesPerClient / spec.batchSize)
  return { mode: 'sales', clients: spec.credentials.length, connectMs, durationMs, messages, sales, messagesPerS: (messages / durationMs) * 1000, salesPerS: (sales / durationMs) * 1000, rejects, errors }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as LoadSpec
  const result = spec.mode === 'raw' ? await runRaw(spec) : await runSales(spec)
  process.stdout.write(`${JSON.stringify(result)}\n`)
  process.exit(0)
}
