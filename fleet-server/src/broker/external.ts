// Attaching to an external broker (e.g. Mosquitto, whose ACL then confines
// each cabinet: `pattern write cabinets/%u/up/#`, `pattern read cabinets/%u/down/#`).
// The server is one more MQTT client: it subscribes to every cabinet's up/
// topics at QoS 1 and reconnects forever.
import { randomBytes } from 'node:crypto'
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt'
import type { Logger } from 'pino'
import { parseTopic, topics } from '../../../shared/src/index.js'
import type { BusSink, MessageBus, PublishOptions } from './bus.js'

export interface ExternalBusOptions {
  readonly url: string
  readonly username: string | null
  readonly password: string | null
  readonly log: Logger
  /** How long start waits for the first subscription before going on (and retrying in the background). */
  readonly firstConnectTimeoutMs?: number
}

export async function startExternalBus(opts: ExternalBusOptions, sink: BusSink): Promise<MessageBus> {
  const { log } = opts
  let quiesced = false
  const client: MqttClient = mqtt.connect(opts.url, {
    clientId: `fleet-server-${randomBytes(6).toString('hex')}`,
    ...(opts.username !== null && { username: opts.username }),
    ...(opts.password !== null && { password: opts.password }),
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

  const timeoutMs = opts.firstConnectTimeoutMs ?? 5000
  let timer: NodeJS.Timeout | undefined
  const timedOut = await Promise.race([
    subscribed.then(() => false),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
  ])
  clearTimeout(timer)
  if (timedOut) log.warn({ url: opts.url, timeoutMs }, 'external mqtt broker not reachable yet; starting anyway and retrying')

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
