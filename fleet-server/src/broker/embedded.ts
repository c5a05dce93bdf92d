// The embedded MQTT broker: aedes on a plain TCP listener and/or an MQTT-over-TLS
// listener, in this process, so ingest consumes messages through an in-process
// subscription (a consumer outside the process would cost aedes most of its throughput).
//
// Invariants:
// - username = cabinet id, client id = username (a credential can only hold its own session);
// - a cabinet publishes only under cabinets/{own id}/up/ and subscribes only to its own down/ topics;
// - packets above maxPacketBytes are cut at the transport; connections above maxConnections are refused;
// - both listeners hand every socket to the same onSocket(), so TLS gets exactly the plain guards;
// - before login a socket gets a smaller packet cap, a short connect timeout and per-address
//   limits (connection-guard.ts); cabinets retain only presence, capped (retain-cap.ts).
import type { EventEmitter } from 'node:events'
import { createServer, type Server, type Socket } from 'node:net'
import { createServer as createTlsServer } from 'node:tls'
import { Readable } from 'node:stream'
import { Aedes, type AuthenticateError, type Client, type ConnectPacket, type PublishPacket, type Subscription } from 'aedes'
import type { Logger } from 'pino'
import { isUpTopicOf, isWildcardOrSystem, parseTopic, topics, type ParsedTopic } from '../../../shared/src/index.js'
import type { BusSink, MessageBus, PublishOptions } from './bus.js'
import { connectionGuardStats, createConnectionGuard, DEFAULT_CONNECTION_LIMITS, guardConnection, type ConnectionGuardStats, type ConnectionLimits } from './connection-guard.js'
import { createRetainCap, DEFAULT_RETAIN_LIMITS, type RetainCap, type RetainLimits } from './retain-cap.js'

export interface CredentialVerifier {
  /** True when `password` is the cabinet's current MQTT secret and the cabinet may connect. */
  verify(cabinetId: string, password: Buffer): Promise<boolean>
}

export interface EmbeddedBusOptions {
  readonly host: string
  /** Plain MQTT port (0 = any); null = no plain listener. */
  readonly port: number | null
  /** MQTT over TLS: certificate chain and key (PEM) and port (0 = any); null = no TLS listener. */
  readonly tls?: { readonly cert: string; readonly key: string; readonly port: number } | null
  /** TLS_HANDSHAKE_TIMEOUT_MS unless set (tests shorten it). */
  readonly tlsHandshakeTimeoutMs?: number
  readonly maxConnections: number
  readonly maxPacketBytes: number
  readonly credentials: CredentialVerifier
  readonly log: Logger
  /** What cabinets may retain; DEFAULT_RETAIN_LIMITS (presence only, 2 messages, 4 KiB) when absent. */
  readonly retain?: RetainLimits
  /** Limits before login (connection-guard.ts); each absent field takes its DEFAULT_CONNECTION_LIMITS value. */
  readonly connectionLimits?: Partial<ConnectionLimits>
}

/** The embedded bus, with what it holds for hostile-client tests and metrics. */
export interface EmbeddedBus extends MessageBus {
  stats(): EmbeddedBusStats
}

export interface EmbeddedBusStats {
  readonly connections: ConnectionGuardStats
  /** Retained messages cabinets hold (the server's own retained catalog not included). */
  readonly retainedByCabinets: { readonly messages: number; readonly bytes: number }
}

// CONNACK return codes, MQTT-3.1.1 §3.2.2.3 (aedes' AuthErrorCode is a const enum we cannot import).
const IDENTIFIER_REJECTED = 2
const SERVER_UNAVAILABLE = 3
const BAD_USERNAME_OR_PASSWORD = 4

/**
 * Pending TCP connections the kernel queues until the event loop accepts
 * them; it caps this at net.core.somaxconn (4,096 on current Linux). Node's
 * default of 511 overflowed when a fleet reconnected at once after an outage:
 * the dropped SYNs are retried by the cabinets' kernels only after 1, 3, 7 s …,
 * which stretched a 1,000-cabinet backlog drain by about a third.
 */
const LISTEN_BACKLOG = 65_535

/**
 * A socket must finish its TLS handshake within this, or it is destroyed
 * (Node's default is 120 s): a client that opens TCP and never says hello must
 * not hold a connection slot. A TLS 1.3 handshake is one round trip (1.2: two);
 * 5 s leaves room for a 1-2 s cellular round trip; aedes' CONNECT timeout
 * starts only after it.
 */
const TLS_HANDSHAKE_TIMEOUT_MS = 5_000

/**
 * Distinct topics parseTopicMemo keeps before it starts over. Only topics that
 * parse are kept: a cabinet's up/ topics (authorizePublish lets through only
 * its own) and the down/ topics the server writes, 7 per cabinet, so this
 * holds a fleet of ~9,000 cabinets; past that it is a bound on memory
 * (~140 bytes an entry), and a miss costs only a parse.
 */
const TOPIC_MEMO_MAX = 65_536

/**
 * parseTopic() for the per-message path: every sale message and every reply
 * has its topic parsed, and split() with its checks cost ~220 ns where a map
 * lookup of the same (freshly made) string costs ~22 ns. Entries are shared:
 * callers only read them.
 */
function createTopicMemo(): (topic: string) => ParsedTopic | null {
  const parsed = new Map<string, ParsedTopic>()
  return (topic) => {
    const hit = parsed.get(topic)
    if (hit !== undefined) return hit
    const t = parseTopic(topic)
    if (t === null) return null
    if (parsed.size >= TOPIC_MEMO_MAX) parsed.clear()
    parsed.set(topic, t)
    return t
  }
}

function authError(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError
}

export async function startEmbeddedBus(opts: EmbeddedBusOptions, sink: BusSink): Promise<EmbeddedBus> {
  const { log } = opts
  const emptyClientIds = new WeakSet<Client>()
  let quiesced = false

  const limits: ConnectionLimits = { ...DEFAULT_CONNECTION_LIMITS, ...opts.connectionLimits }
  const parseTopicMemo = createTopicMemo()

  const broker = await Aedes.createBroker({
    maxClientsIdLength: 64, // cabinet ids are at most 64 characters
    connectTimeout: limits.connectTimeoutMs, // a silent socket must not hold a slot (connection-guard.ts)
    preConnect(client: Client, packet: ConnectPacket, done: (err: Error | null, ok: boolean) => void) {
      // aedes assigns a random id to an empty client id before authenticate runs;
      // remember that it was empty so authenticate refuses it. Accepting one is a
      // server's option [MQTT-3.1.3-6]; refusing answers 0x02 [MQTT-3.1.3-9].
      if (!packet.clientId) emptyClientIds.add(client)
      // The will is kept for the whole connection: bytes of its own, not a view of the read (ownBytes).
      if (packet.will) packet.will.payload = ownBytes(packet.will.payload)
      done(null, true)
    },
    authenticate(client, username, password, done) {
      if (emptyClientIds.has(client) || !username || client.id !== username) {
        log.warn({ clientId: emptyClientIds.has(client) ? '' : client.id, username }, 'mqtt login refused: client id must equal the username')
        return done(authError('client id must equal the username (the cabinet id)', IDENTIFIER_REJECTED), null)
      }
      if (!password) return done(authError('password required', BAD_USERNAME_OR_PASSWORD), null)
      opts.credentials.verify(username, password).then(
        (ok) => {
          if (ok) return done(null, true)
          log.warn({ cabinetId: username }, 'mqtt login refused: bad credentials')
          done(authError('bad user name or password', BAD_USERNAME_OR_PASSWORD), null)
        },
        (err: unknown) => {
          log.error({ err, cabinetId: username }, 'mqtt credential check failed')
          done(authError('server unavailable', SERVER_UNAVAILABLE), null)
        },
      )
    },
    // Identity only: an error here drops the connection, so payload problems
    // are left to ingest, which answers them with a reject reply.
    authorizePublish(client: Client | null, packet: PublishPacket, done: (err?: Error | null) => void) {
      // A will published at close comes with its client; one restored from
      // persistence without a live client carries the client id on the packet.
      const id = client?.id ?? (packet as PublishPacket & { clientId?: string }).clientId
      if (id && isUpTopicOf(packet.topic, id)) return done(null)
      log.warn({ cabinetId: id, topic: packet.topic }, 'mqtt publish refused: outside the cabinet up/ topics; disconnecting')
      done(new Error(`cabinet ${id ?? '?'} may publish only under ${topics.upPrefix(id ?? '{id}')}`))
    },
    authorizeSubscribe(client: Client, sub: Subscription, done: (err: Error | null, sub?: Subscription | null) => void) {
      if (isAllowedSubscription(client.id, sub.topic)) return done(null, sub)
      log.warn({ cabinetId: client.id, topic: sub.topic }, 'mqtt subscription refused')
      done(null, null) // SUBACK 0x80 for this filter (MQTT-3.9.3), the session stays up
    },
  })

  const retainedByCabinets = indexRetainedByTopic(broker, createRetainCap(opts.retain ?? DEFAULT_RETAIN_LIMITS), log)

  broker.on('client', (client: Client) => sink.connected(client.id))
  broker.on('clientDisconnect', (client: Client) => sink.disconnected(client.id))
  broker.on('clientError', (client: Client, err: Error) => log.debug({ cabinetId: client.id, err }, 'mqtt client error'))
  broker.on('connectionError', (_client: Client, err: Error) => log.debug({ err }, 'mqtt connection error before CONNECT'))
  // Not in aedes' typings, but emitted (e.g. by persistence): without a listener it would throw.
  ;(broker as unknown as EventEmitter).on('error', (err: Error) => log.error({ err }, 'mqtt broker error'))

  await new Promise<void>((resolve) => {
    broker.subscribe(
      topics.allUp,
      (packet, cb) => {
        const parsed = parseTopicMemo(packet.topic)
        if (quiesced || !parsed || parsed.direction !== 'up') return cb()
        const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload)
        // mqemitter hands over the next queued message from inside cb(): a sink
        // that answers synchronously (heartbeats, presence) would recurse once
        // per queued message, and after a reconnect storm of thousands of
        // cabinets that overflowed the stack. Answer on the next tick instead.
        let isSync = true
        sink.message({ cabinetId: parsed.cabinetId, kind: parsed.kind, payload }, () => (isSync ? process.nextTick(cb) : cb()))
        isSync = false
      },
      () => resolve(),
    )
  })

  let lastDropLog = 0
  const onDrop = (): void => {
    sink.transportRefused('max_connections')
    const now = Date.now()
    if (now - lastDropLog > 10_000) {
      lastDropLog = now
      log.warn({ maxConnections: opts.maxConnections }, 'mqtt connection refused: connection cap reached')
    }
  }

  // Every accepted socket, so close() can end the ones aedes does not know as
  // clients (not yet CONNECTed, mid-authentication or mid-TLS-handshake when
  // the broker closed: aedes leaves those open, and server.close() would wait
  // on them forever).
  const sockets = new Set<Socket>()
  const track = (socket: Socket): void => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  }
  const guard = createConnectionGuard({ broker, limits, maxPacketBytes: opts.maxPacketBytes, log, sink, sockets })
  /** One MQTT connection, whichever listener accepted it (TLS: after the handshake); guardConnection tracks it. */
  const onSocket = (socket: Socket): void => guardConnection(socket, guard)

  // Past maxConnections Node closes each new socket at once, before any JS
  // runs: a clean refusal instead of an EMFILE failure of accept() when
  // descriptors run out. With both listeners on, the cap is for the two
  // together (descriptors are one pool), counted here: Node's own count is per
  // server, and its maxConnections = 0 means "no limit", so it cannot hand one
  // listener's unused share to the other.
  let open = 0
  const admit = (socket: Socket): boolean => {
    if (open >= opts.maxConnections) {
      socket.destroy()
      onDrop()
      return false
    }
    open++
    socket.once('close', () => open--)
    return true
  }

  const listeners: Array<{ server: Server; kind: 'mqtt' | 'mqtts'; port: number }> = []
  try {
    if (opts.port !== null) {
      const server = createServer((socket: Socket) => {
        if (admit(socket)) onSocket(socket)
      })
      listeners.push({ server, kind: 'mqtt', port: opts.port })
    }
    if (opts.tls) {
      const handshakeTimeout = opts.tlsHandshakeTimeoutMs ?? TLS_HANDSHAKE_TIMEOUT_MS
      const server = createTlsServer({ cert: opts.tls.cert, key: opts.tls.key, handshakeTimeout }, onSocket)
      // The raw TCP socket, before the handshake: counted against the cap and
      // tracked so close() can end it. Destroying it also ends its TLS socket.
      server.on('connection', (socket: Socket) => {
        if (admit(socket)) track(socket)
      })
      // Node (20) reports a handshake timeout or failure here but leaves the
      // socket open: destroy it, or handshakeTimeout frees no slot.
      server.on('tlsClientError', (err, tlsSocket) => {
        log.debug({ err }, 'mqtts handshake failed')
        tlsSocket.destroy()
      })
      listeners.push({ server, kind: 'mqtts', port: opts.tls.port })
    }
    for (const l of listeners) {
      l.server.maxConnections = opts.maxConnections
      l.server.on('drop', onDrop)
      l.server.on('error', (err) => log.error({ err, listener: l.kind }, 'mqtt listener error'))
      l.port = await listen(l.server, opts.host, l.port)
      log.info({ host: opts.host, port: l.port, listener: l.kind, maxConnections: opts.maxConnections }, 'embedded mqtt broker listening')
    }
  } catch (err) {
    for (const { server } of listeners) if (server.listening) server.close()
    await new Promise<void>((resolve) => broker.close(() => resolve()))
    throw err
  }
  const deliverDirect = createDirectDelivery(broker, parseTopicMemo)
  const plain = listeners.find((l) => l.kind === 'mqtt') ?? null
  const secure = listeners.find((l) => l.kind === 'mqtts') ?? null

  const serversClosed = Promise.all(listeners.map(({ server }) => new Promise<void>((resolve) => server.once('close', () => resolve()))))
  let closing: Promise<void> | null = null

  return {
    mode: 'embedded',
    port: plain?.port ?? null,
    tlsPort: secure?.port ?? null,
    // Cabinets are pointed at the plain listener while it is on (today's fleet), else at TLS.
    url: plain ? `mqtt://${urlHost(opts.host)}:${plain.port}` : `mqtts://${urlHost(opts.host)}:${secure!.port}`,
    tracksConnections: true,
    stats: () => ({ connections: connectionGuardStats(guard), retainedByCabinets: retainedByCabinets() }),
    publish(topic: string, payload: Buffer, p: PublishOptions = {}) {
      if (broker.closed) return
      if ((p.qos ?? 1) === 0 && !(p.retain ?? false) && deliverDirect(topic, payload)) return
      broker.publish({ cmd: 'publish', topic, payload, qos: p.qos ?? 1, retain: p.retain ?? false, dup: false }, (err) => {
        if (err) log.warn({ err, topic }, 'mqtt publish failed')
      })
    },
    disconnect(cabinetId: string) {
      const clients = (broker as unknown as { clients: Record<string, Client | undefined> }).clients
      const client = clients[cabinetId]
      if (client) {
        log.info({ cabinetId }, 'mqtt session ended by the server')
        client.close()
      }
    },
    async quiesce() {
      quiesced = true
      for (const { server } of listeners) if (server.listening) server.close()
    },
    close() {
      closing ??= (async () => {
        quiesced = true
        for (const { server } of listeners) if (server.listening) server.close()
        await new Promise<void>((resolve) => broker.close(() => resolve()))
        for (const socket of sockets) socket.destroy()
        await serversClosed
        log.info('embedded mqtt broker closed')
      })()
      return closing
    },
  }
}

/** The parts of an aedes client a direct delivery reads (aedes 1.x). */
interface LiveClient {
  readonly connected: boolean
  readonly errored?: boolean
  readonly conn: NodeJS.WritableStream
  readonly subscriptions: Record<string, { readonly qos: number } | undefined>
}

/**
 * QoS 0 messages to one cabinet, written straight onto its connection.
 * Only that cabinet can subscribe to its down/ topics (isAllowedSubscription,
 * no wildcards), so aedes' routing adds nothing for it: a topic match, two
 * packet objects and a setImmediate per delivery. Anything else — not
 * connected, not subscribed, not a down/ topic — goes through aedes.
 *
 * Everything delivered to one connection in one synchronous run (an ingest
 * tick's replies) leaves in ONE buffer, written at the end of that run: the
 * topic's bytes come from a per-connection template, each fixed header is
 * written straight into that buffer, and the socket sees one write instead of
 * a cork, three chunk writes and an uncork per reply. The bytes are exactly those of
 * mqtt-packet's v4 QoS 0 PUBLISH. Measured on one-sale-per-message ingest.
 */
export function createDirectDelivery(broker: Aedes, parse: (topic: string) => ParsedTopic | null = parseTopic): (topic: string, payload: Buffer) => boolean {
  const clients = (broker as unknown as { clients: Record<string, LiveClient | undefined> }).clients
  const templates = new WeakMap<LiveClient, { readonly topic: string; readonly bytes: Buffer }>()
  // Per connection, what this run delivers: packets as (topic field, payload), and their encoded size.
  const pending = new Map<LiveClient, { parts: Buffer[]; bytes: number }>()
  let isFlushScheduled = false

  const flush = (): void => {
    isFlushScheduled = false
    for (const [client, { parts, bytes }] of pending) {
      if (!client.connected || client.errored) continue
      // The run's packets in one buffer, written once: no header buffer per packet.
      const out = Buffer.allocUnsafe(bytes)
      let at = 0
      for (let i = 0; i < parts.length; i += 2) {
        const topicBytes = parts[i]!
        const payload = parts[i + 1]!
        at = writePublishQos0Header(out, at, topicBytes.length + payload.length)
        at += topicBytes.copy(out, at)
        at += payload.copy(out, at)
      }
      client.conn.write(out)
    }
    pending.clear()
  }

  return (topic, payload) => {
    const t = parse(topic)
    if (!t || t.direction !== 'down') return false
    const client = clients[t.cabinetId]
    if (!client?.connected || client.errored || !client.subscriptions[topic]) return false
    let template = templates.get(client)
    if (template?.topic !== topic) {
      template = { topic, bytes: topicField(topic) }
      templates.set(client, template)
    }
    let run = pending.get(client)
    if (!run) {
      run = { parts: [], bytes: 0 }
      pending.set(client, run)
    }
    const remaining = template.bytes.length + payload.length
    run.parts.push(template.bytes, payload)
    run.bytes += 1 + remainingLengthBytes(remaining) + remaining
    if (!isFlushScheduled) {
      isFlushScheduled = true
      process.nextTick(flush)
    }
    return true
  }
}

/** The topic name as a PUBLISH carries it: a 2-byte length, then UTF-8 (MQTT-3.1.1 §1.5.3, §3.3.2.1). */
function topicField(topic: string): Buffer {
  const len = Buffer.byteLength(topic)
  const b = Buffer.allocUnsafe(2 + len)
  b.writeUInt16BE(len, 0)
  b.write(topic, 2)
  return b
}

/** Bytes the remaining length takes (1-4, §2.2.3). */
function remainingLengthBytes(remaining: number): number {
  return remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4
}

/** Writes the fixed header of a QoS 0 PUBLISH, no DUP, no RETAIN, at `at`: 0x30 and the remaining length (§2.2.3). Returns the offset after it. */
function writePublishQos0Header(out: Buffer, at: number, remaining: number): number {
  out[at++] = 0x30
  do {
    let digit = remaining % 128
    remaining = Math.floor(remaining / 128)
    if (remaining > 0) digit |= 0x80
    out[at++] = digit
  } while (remaining > 0)
  return at
}

type RetainedPacket = { readonly topic: string; readonly payload: Buffer | string }
interface RetainedPersistence {
  storeRetained(packet: RetainedPacket, cb?: (err: Error | null) => void): unknown
  createRetainedStreamCombi(patterns: string[]): Readable
}

/**
 * A retained payload as bytes of its own. One parsed from a socket is a view
 * of the whole read it arrived in (up to 64 KiB, often beside a sales batch),
 * so keeping the view kept that read alive for as long as the message stayed
 * retained: a cabinet's presence for good. In a backlog drain of 2,700
 * cabinets that pinned ~95 MiB of reads, and after it glibc held 250 MiB of
 * heap for 84 in use (113 for 99 with copies; issue 13). A will, kept while
 * its client is connected, is the same. Small copies share Node's buffer pool.
 */
function ownBytes(payload: Buffer | string): Buffer | string {
  return typeof payload === 'string' ? payload : Buffer.from(payload)
}

/**
 * aedes' memory persistence answers every SUBSCRIBE by testing the filter
 * against every retained message. Each cabinet keeps two retained messages
 * (presence, catalog) and subscribes to three concrete topics, so a reconnect
 * storm of N cabinets cost O(N²) topic tests: 14% of the server's CPU while
 * 1,000 cabinets drained a backlog. Cabinets may subscribe only to concrete
 * topics (isAllowedSubscription), whose retained message is one map lookup;
 * anything else (none today) still goes through aedes' own scan.
 *
 * Every retained store passes the retain cap first (retain-cap.ts): what it
 * refuses is not stored, but aedes still delivers and we still ingest it, and
 * the cabinet stays connected. Wills come through here too.
 */
function indexRetainedByTopic(broker: Aedes, cap: RetainCap, log: Logger): () => { messages: number; bytes: number } {
  const persistence = (broker as unknown as { persistence: RetainedPersistence }).persistence
  const byTopic = new Map<string, RetainedPacket>()
  const store = persistence.storeRetained.bind(persistence)
  const combi = persistence.createRetainedStreamCombi.bind(persistence)
  persistence.storeRetained = (packet, cb) => {
    const verdict = cap.admit(packet.topic, packet.payload.length)
    if (!verdict.store) {
      log.warn({ cabinetId: verdict.cabinetId, topic: packet.topic, payloadBytes: packet.payload.length, reason: verdict.reason }, 'mqtt retained message not stored')
      cb?.(null)
      return Promise.resolve()
    }
    // The same rule as aedes-persistence: an empty retained payload deletes.
    if (packet.payload.length === 0) {
      byTopic.delete(packet.topic)
      return store(packet, cb)
    }
    const kept = { ...packet, payload: ownBytes(packet.payload) }
    byTopic.set(packet.topic, kept)
    return store(kept, cb)
  }
  persistence.createRetainedStreamCombi = (patterns) => {
    if (patterns.some(isWildcardOrSystem)) return combi(patterns)
    const found: RetainedPacket[] = []
    for (const t of patterns) {
      const p = byTopic.get(t)
      if (p) found.push(p)
    }
    return Readable.from(found)
  }
  // What was handed to aedes' store under cabinets' up/ topics, counted from the index.
  return () => {
    let messages = 0
    let bytes = 0
    for (const p of byTopic.values()) {
      if (parseTopic(p.topic)?.direction === 'down') continue
      messages++
      bytes += p.payload.length
    }
    return { messages, bytes }
  }
}

/**
 * A cabinet may subscribe only to concrete topics under its own down/ prefix:
 * no wildcards (not even its own down/#) and no $SYS (protocol.md "Topics").
 */
export function isAllowedSubscription(cabinetId: string, filter: string): boolean {
  if (isWildcardOrSystem(filter)) return false
  const t = parseTopic(filter)
  return t !== null && t.direction === 'down' && t.cabinetId === cabinetId
}

async function listen(server: Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address()
  return typeof address === 'object' && address ? address.port : port
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1'
  return host.includes(':') ? `[${host}]` : host
}
