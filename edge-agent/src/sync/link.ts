// The MQTT link to the fleet server: connect with a retained "offline" last
// will, then on every connect subscribe to the cabinet's concrete downlink
// topics, announce presence, heartbeat, and hand downlink messages over.
// Reconnects forever with jittered exponential backoff, even after a refused login.
import type { Duplex } from 'node:stream'
import { MqttClient, type IClientOptions } from 'mqtt'
import type { Logger } from 'pino'
import {
  CatalogMsg, DownCommandMsg, ReplyMsg, decodeMessage, topics, uuidv7,
  type EventMsg, type HeartbeatMsg, type PresenceMsg,
} from '../../../shared/src/edge.js'
import { backoffMs } from '../backoff.js'
import { openBrokerStream, ServerRotation, type BrokerAddress } from './servers.js'

export interface LinkOptions {
  cabinetId: string
  /** The brokers, dialed in turn (servers.ts); one for a single fleet server. */
  servers: readonly string[]
  /** PEM CA(s) for an mqtts:// server; null/absent = the system store. */
  ca?: string | null
  username: string
  password: string | undefined
  heartbeatIntervalMs: number
  backoffMinMs: number
  backoffMaxMs: number
  /**
   * Opens the byte stream to the attempt's broker instead of dialing it: the
   * simulator's network gate (an uplink that is down fails here).
   */
  dial?: (server: BrokerAddress) => Duplex
}

export interface LinkHandlers {
  connected(): void
  disconnected(): void
  reply(msg: ReplyMsg): void
  catalog(msg: CatalogMsg): void
  /** The server's own commands and operators' remote commands (checked by the agent: cabinet id, expiry, duplicates). */
  command(msg: DownCommandMsg): void
  /** The heartbeat's current figures, built fresh each time. */
  heartbeat(): HeartbeatMsg
}

/** A full catalog (up to 5,000 items) is larger than the uplink limit; 4 MiB bounds it. */
const MAX_CATALOG_BYTES = 4 * 1024 * 1024
/** How long close() waits for the offline presence and in-flight acks before dropping the socket. */
const END_TIMEOUT_MS = 2_000

export class Link {
  private client: MqttClient | null = null
  private isUp = false
  private isClosed = false
  private heartbeatTimer: NodeJS.Timeout | null = null
  private reconnectAttempt = 0
  private failuresSinceUp = 0
  private readonly downTopics: { replies: string; catalog: string; commands: string }
  private readonly rotation: ServerRotation

  constructor(
    private readonly opts: LinkOptions,
    private readonly handlers: LinkHandlers,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {
    this.downTopics = { replies: topics.replies(opts.cabinetId), catalog: topics.catalog(opts.cabinetId), commands: topics.commands(opts.cabinetId) }
    this.rotation = new ServerRotation(opts.servers, opts.cabinetId)
  }

  /** True once subscribed and announced on the current connection. */
  get isConnected(): boolean {
    return this.isUp
  }

  /** Starts connecting in the background; never waits for the broker. */
  start(): void {
    const { cabinetId } = this.opts
    const will: PresenceMsg = { v: 1, type: 'presence', cabinetId, state: 'offline' }
    const options: IClientOptions = {
      clientId: cabinetId, // the broker accepts only client id = cabinet id (protocol.md "Identity")
      username: this.opts.username,
      ...(this.opts.password !== undefined && { password: this.opts.password }),
      clean: true,
      protocolVersion: 4,
      keepalive: 60, // s
      connectTimeout: 10_000, // ms without CONNACK → drop and retry
      reconnectPeriod: this.nextReconnectDelay(),
      // mqtt.js 5 stops reconnecting after a refused CONNACK unless told otherwise;
      // a cabinet whose credential is fixed on the server must come back by itself.
      reconnectOnConnackError: true,
      // Sales are published only while connected; nothing may pile up in memory.
      queueQoSZero: false,
      resubscribe: false, // subscribed explicitly on every connect
      will: { topic: topics.presence(cabinetId), payload: Buffer.from(JSON.stringify(will)), qos: 1, retain: true },
      // mqtts: Node verifies the chain and the host name (rejectUnauthorized
      // defaults to true and is never turned off); a cabinet talking to the
      // wrong server must stay offline and keep selling into its ledger.
      ...(this.opts.ca && { ca: this.opts.ca }),
    }
    const dial = this.opts.dial
    // Every attempt (the first and each reconnect) dials the next broker in turn.
    const client = new MqttClient((c) => {
      const to = this.rotation.take()
      return dial ? dial(to) : openBrokerStream(c, options, to)
    }, options)
    this.client = client
    // Runs before mqtt.js' own 'close' handler schedules the next attempt, so
    // every wait gets a fresh jittered delay (mqtt.js alone retries at a fixed period).
    client.prependListener('close', () => {
      client.options.reconnectPeriod = this.nextReconnectDelay()
    })
    client.on('connect', () => this.onConnect(client))
    client.on('close', () => this.onClose())
    client.on('error', (err) => this.onError(err))
    client.on('message', (topic, payload) => this.onMessage(topic, payload))
  }

  publishBatch(payload: string): boolean {
    const client = this.client
    if (!this.isUp || client === null || !client.connected) return false
    client.publish(topics.sales(this.opts.cabinetId), payload, { qos: 1 }, (err) => {
      if (err) this.log.debug({ err }, 'batch publish not acknowledged by the broker')
    })
    return true
  }

  /** The stock report (issue 16 §3), QoS 1. False when not connected. */
  publishStock(payload: string): boolean {
    const client = this.client
    if (!this.isUp || client === null || !client.connected) return false
    client.publish(topics.stock(this.opts.cabinetId), payload, { qos: 1 })
    return true
  }

  publishEvent(kind: EventMsg['kind'], detail: EventMsg['detail']): void {
    const nowMs = this.now()
    const msg: EventMsg = { v: 1, type: 'event', cabinetId: this.opts.cabinetId, eventId: uuidv7(nowMs), at: new Date(nowMs).toISOString(), kind, detail }
    this.publishIfUp(topics.events(this.opts.cabinetId), JSON.stringify(msg), 1)
  }

  /**
   * Asks the broker for the retained catalog again (a remote catalog-refresh):
   * subscribing anew delivers the retained message [MQTT-3.3.1-6]. False when
   * not connected.
   */
  requestCatalog(): boolean {
    const client = this.client
    if (!this.isUp || client === null || !client.connected) return false
    const topic = this.downTopics.catalog
    client.unsubscribe(topic, () => {
      if (this.client === client && client.connected) client.subscribe(topic, { qos: 0 })
    })
    return true
  }

  /** A telemetry reading at QoS 0 (issue 16 §4); false when not connected (it is not kept). */
  publishTelemetry(payload: string): boolean {
    const client = this.client
    if (!this.isUp || client === null || !client.connected) return false
    client.publish(topics.telemetry(this.opts.cabinetId), payload, { qos: 0 })
    return true
  }

  publishHeartbeat(): void {
    this.publishIfUp(topics.heartbeat(this.opts.cabinetId), JSON.stringify(this.handlers.heartbeat()), 0)
  }

  /**
   * The uplink is back (a modem reporting carrier, say): try the broker now
   * instead of at the end of the backoff wait, which after a long outage is
   * up to backoffMaxMs. Does nothing while connected or while an attempt is
   * under way, so it cannot open a second connection.
   */
  retryNow(): void {
    const client = this.client
    if (this.isClosed || client === null || client.connected || !client.reconnecting) return
    const stream = client.stream as Duplex | undefined
    if (stream !== undefined && !stream.destroyed) return
    this.reconnectAttempt = 0
    client.options.reconnectPeriod = this.nextReconnectDelay()
    this.log.debug({}, 'uplink reported up; connecting now')
    client.reconnect()
  }

  /** Announces offline presence when connected, then ends the client. */
  async close(): Promise<void> {
    if (this.isClosed) return
    this.isClosed = true
    this.stopHeartbeat()
    const client = this.client
    if (client === null) return
    // Not connected: nothing could be flushed, and a graceful end would wait
    // for acks of packets mqtt.js still holds from the lost connection.
    const isGraceful = client.connected
    if (isGraceful) {
      const offline: PresenceMsg = { v: 1, type: 'presence', cabinetId: this.opts.cabinetId, state: 'offline', at: new Date(this.now()).toISOString() }
      // A clean DISCONNECT suppresses the will [MQTT-3.14.4-3], so say it ourselves.
      client.publish(topics.presence(this.opts.cabinetId), JSON.stringify(offline), { qos: 1, retain: true })
    }
    await new Promise<void>((resolve) => {
      let isDone = false
      const finish = (): void => {
        if (isDone) return
        isDone = true
        clearTimeout(force)
        client.off('close', forceEnd)
        resolve()
      }
      // Stop waiting for acks when the time is up or the connection is gone anyway.
      const forceEnd = (): void => {
        client.end(true, {}, finish)
      }
      const force = setTimeout(forceEnd, END_TIMEOUT_MS)
      client.once('close', forceEnd)
      client.end(!isGraceful, {}, finish)
    })
    this.markDown()
  }

  private onConnect(client: MqttClient): void {
    const { replies, catalog, commands } = this.downTopics
    // Concrete topics only: the broker refuses wildcards from cabinets.
    // QoS 0: with a clean session QoS 1 guards a message only within one
    // connection, and everything here is safe to lose (an unanswered batch is
    // resent and answered again; a catalog is sent on each connect). On a NATS
    // cluster each QoS 1 subscription is a JetStream consumer, whose creation
    // stalls the login for seconds per topic whenever a node dies (issue 14).
    client.subscribe([replies, catalog, commands], { qos: 0 }, (err, granted) => {
      if (this.isClosed || this.client !== client || !client.connected) return
      const refused = granted?.filter((g) => g.qos === 128).map((g) => g.topic) ?? []
      if (err || refused.length > 0) {
        // Without the replies topic nothing could ever be acknowledged. Drop the
        // connection so mqtt.js reconnects after the (growing) backoff.
        this.log.error({ err, refused }, 'downlink subscription refused; reconnecting')
        client.stream.destroy()
        return
      }
      this.reconnectAttempt = 0
      this.rotation.up()
      const online: PresenceMsg = { v: 1, type: 'presence', cabinetId: this.opts.cabinetId, state: 'online', at: new Date(this.now()).toISOString() }
      client.publish(topics.presence(this.opts.cabinetId), JSON.stringify(online), { qos: 1, retain: true })
      this.isUp = true
      this.failuresSinceUp = 0
      this.log.info({ server: this.rotation.server.url }, 'connected to the fleet server')
      this.startHeartbeat()
      this.handlers.connected()
    })
  }

  private onClose(): void {
    this.markDown()
  }

  private markDown(): void {
    if (!this.isUp) return
    this.isUp = false
    this.stopHeartbeat()
    this.log.info({}, 'disconnected from the fleet server')
    this.handlers.disconnected()
  }

  private onError(err: Error): void {
    this.failuresSinceUp++
    // Log the first failure of an outage loudly, the retries quietly: a fleet
    // of cabinets retrying for hours must not flood the logs.
    const level = this.failuresSinceUp === 1 ? 'warn' : 'debug'
    const code = (err as { code?: unknown }).code
    this.log[level]({ code, reason: err.message, server: this.rotation.server.url }, 'mqtt connection failed; retrying')
  }

  private onMessage(topic: string, payload: Buffer): void {
    const { replies, catalog, commands } = this.downTopics
    try {
      if (topic === replies) {
        const d = decodeMessage(ReplyMsg, payload)
        if (d.ok) this.handlers.reply(d.data)
        else this.log.warn({ topic, code: d.code, reason: d.message }, 'malformed downlink message ignored')
      } else if (topic === catalog) {
        // An empty retained payload clears a retained message; nothing to apply.
        if (payload.byteLength === 0) return
        const d = decodeMessage(CatalogMsg, payload, MAX_CATALOG_BYTES)
        if (d.ok) this.handlers.catalog(d.data)
        else this.log.warn({ topic, code: d.code, reason: d.message }, 'malformed downlink message ignored')
      } else if (topic === commands) {
        const d = decodeMessage(DownCommandMsg, payload)
        if (d.ok) this.handlers.command(d.data)
        else this.log.warn({ topic, code: d.code, reason: d.message }, 'malformed downlink message ignored')
      } else {
        this.log.warn({ topic }, 'message on an unexpected topic ignored')
      }
    } catch (err) {
      // A handler bug must not take the link (and with it the cabinet) down.
      this.log.error({ err, topic }, 'downlink message handling failed')
    }
  }

  private publishIfUp(topic: string, payload: string, qos: 0 | 1): void {
    const client = this.client
    if (!this.isUp || client === null || !client.connected) return
    client.publish(topic, payload, { qos })
  }

  private startHeartbeat(): void {
    this.stopHeartbeat()
    this.publishHeartbeat()
    this.heartbeatTimer = setInterval(() => this.publishHeartbeat(), this.opts.heartbeatIntervalMs)
    this.heartbeatTimer.unref()
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer !== null) {
      clearInterval(this.heartbeatTimer)
      this.heartbeatTimer = null
    }
  }

  private nextReconnectDelay(): number {
    return backoffMs(this.reconnectAttempt++, this.opts.backoffMinMs, this.opts.backoffMaxMs)
  }
}
