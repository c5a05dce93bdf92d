// Attaching to an external broker (e.g. Mosquitto, whose ACL then confines
// each cabinet: `pattern write cabinets/%u/up/#`, `pattern read cabinets/%u/down/#`).
// The server is one more MQTT client: it subscribes to every cabinet's up/
// topics at QoS 1 and reconnects forever. Start returns only once that first
// subscription holds: a server that said "ready" without it would accept
// cabinets' HTTP calls while ingesting nothing.
import { randomBytes } from 'node:crypto'
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt'
import type { Logger } from 'pino'
import { parseTopic, topics } from '../../../shared/src/index.js'
import type { BusSink, MessageBus, PublishOptions } from './bus.js'

export interface ExternalBusOptions {
  readonly url: string
  readonly username: string | null
  readonly password: string | null
  /** PEM CA bundle for an mqtts:// broker; null = the system store. The broker's certificate and host name are always verified. */
  readonly ca?: string | null
  readonly log: Logger
  /** Aborts the wait for the first subscription (a SIGTERM during start): start then rejects with the signal's reason. */
  readonly signal?: AbortSignal
  /** How often the wait for the first subscription logs at warn; WAIT_LOG_EVERY_MS unless set. */
  readonly waitLogEveryMs?: number
}

/** 3 s: soon enough that an operator sees why there is no ready line, rarely enough not to flood. */
const WAIT_LOG_EVERY_MS = 3_000

export async function startExternalBus(opts: ExternalBusOptions, sink: BusSink): Promise<MessageBus> {
  const { log } = opts
  let quiesced = false
  const client: MqttClient = mqtt.connect(opts.url, {
    clientId: `fleet-server-${randomBytes(6).toString('hex')}`,
    ...(opts.username !== null && { username: opts.username }),
    ...(opts.password !== null && { password: opts.password }),
    ...(opts.ca && { ca: opts.ca }),
    clean: true,
    keepalive: 30, // s
    reconnectPeriod: 1000, // ms between attempts, forever
    connectTimeout: 10_000, // ms
    reconnectOnConnackError: true, // a broker that refuses us now (restarting, ACL reload) may accept later
    resubscribe: false, // we subscribe on every 'connect' ourselves
  })

  // handleMessage is mqtt.js' flow-control hook: the PUBACK for a QoS 1
  // message goes out only after its callback, and the next packet is handled
  // after that, so a slow ingest slows the broker's delivery to us.
  client.handleMessage = (packet: IPublishPacket, callback: (err?: Error) => void) => {
    const parsed = parseTopic(packet.topic)
    if (quiesced || !parsed || parsed.direction !== 'up') return callback()
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : Buffer.from(packet.payload.buffer, packet.payload.byteOffset, packet.payload.byteLength)
    sink.message({ cabinetId: parsed.cabinetId, kind: parsed.kind, payload }, () => callback())
  }

  let firstSubscribed: () => void = () => {}
  const subscribed = new Promise<void>((resolve) => (firstSubscribed = resolve))
  client.on('connect', () => {
    client.subscribe(topics.allUp, { qos: 1 }, (err, granted) => {
      if (err || granted?.some((g) => g.qos === 128)) {
        log.error({ err, url: opts.url }, 'subscription to cabinet topics refused by the external broker')
        return
      }
      log.info({ url: opts.url }, 'attached to external mqtt broker')
      firstSubscribed()
    })
  })
  client.on('reconnect', () => log.debug({ url: opts.url }, 'reconnecting to external mqtt broker'))
  client.on('offline', () => log.warn({ url: opts.url }, 'external mqtt broker unreachable; retrying'))
  client.on('error', (err) => log.warn({ err, url: opts.url }, 'external mqtt broker error'))

  try {
    await waitAttached(subscribed, opts, log)
  } catch (err) {
    await client.endAsync(true)
    throw err
  }

  let closing: Promise<void> | null = null
  return {
    mode: 'external',
    port: null,
    tlsPort: null,
    url: opts.url,
    tracksConnections: false,
    publish(topic: string, payload: Buffer, p: PublishOptions = {}) {
      if (closing) return
      client.publish(topic, payload, { qos: p.qos ?? 1, retain: p.retain ?? false }, (err) => {
        if (err) log.warn({ err, topic }, 'mqtt publish failed')
      })
    },
    disconnect(cabinetId: string) {
      // Sessions on an external broker are its business: revoke the login there.
      log.warn({ cabinetId }, 'cannot end a session on an external broker; revoke the cabinet login in its password file/ACL')
    },
    async quiesce() {
      quiesced = true
    },
    close() {
      closing ??= (async () => {
        quiesced = true
        await client.endAsync()
        log.info({ url: opts.url }, 'detached from external mqtt broker')
      })()
      return closing
    },
  }
}

/** Resolves once `subscribed` does, warning every few seconds until then; rejects when `opts.signal` aborts. */
async function waitAttached(subscribed: Promise<void>, opts: ExternalBusOptions, log: Logger): Promise<void> {
  const { signal } = opts
  signal?.throwIfAborted()
  const startedAt = Date.now()
  const everyMs = opts.waitLogEveryMs ?? WAIT_LOG_EVERY_MS
  const timer = setInterval(() => {
    log.warn({ url: opts.url, waitedMs: Date.now() - startedAt }, 'external mqtt broker not attached yet; waiting before ready')
  }, everyMs)
  let onAbort = (): void => {}
  try {
    await Promise.race([
      subscribed,
      new Promise<never>((_resolve, reject) => {
        onAbort = () => reject(signal!.reason)
        signal?.addEventListener('abort', onAbort, { once: true })
      }),
    ])
  } finally {
    clearInterval(timer)
    signal?.removeEventListener('abort', onAbort)
  }
}
