// The cabinets on a NATS cluster (issue 14): they dial its nodes' MQTT
// listeners with their user JWTs (nats/identity.ts); every fleet-server
// replica is a plain NATS client of the fleet account.
//
// Sales go through a JetStream work queue: the stream captures every
// cabinet's `cabinets.<id>.up.sales` (MQTT topic levels are subject tokens),
// one durable consumer is shared by all replicas, and a batch is acked there
// only once the ingest has answered the cabinet (committed or rejected), or
// nak'ed when its tick failed, so another replica takes it. A PUBACK from NATS
// to the cabinet says nothing about the stream (the probe lost 12,502 of 30,000
// when a stream leader died): the cabinet's outbox, the committed reply and its
// resend stay the only proof of delivery, and the ingest is idempotent.
//
// Heartbeats and presence reach every replica (plain subscriptions), so each
// one's view of who is online is the same; events, which one replica stores,
// go to a queue group, and so does a second copy of presence, for what one
// replica does per change (the catalog; router.ts presenceOnce). A replica
// that starts late or reconnects missed presence: it reads who holds a
// session (and so who does not) from the cluster's connection listing
// (nats-sessions.ts).
// Replies, catalogs and commands are plain publishes: NATS
// hands them to the cabinet's subscription at QoS 0 (a replicated consumer per
// cabinet cost 6x in connects in the probe), and the cabinet resends what was
// not answered. NATS MQTT in 2.9 keeps no retained message published from
// plain NATS: a cabinet gets its catalog when its presence says online
// (tracksConnections false, as with an external broker), from one replica.
import { hostname } from 'node:os'
import { AckPolicy, DeliverPolicy, DiscardPolicy, JetStreamApiError, jetstream, jetstreamManager, RetentionPolicy, StorageType, type ConsumerMessages, type JsMsg, type JetStreamManager } from '@nats-io/jetstream'
import { connect, jwtAuthenticator, nanos, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node'
import type { Logger } from 'pino'
import { AppError, MAX_MESSAGE_BYTES, parseTopic, topics, type UpKind } from '../../../shared/src/index.js'
import { isNatsIdentityError, natsSubjectOf, startNatsAccountAdmin, type NatsAccountAdmin, type NatsIdentity } from '../nats/index.js'
import type { BusSink, MessageBus, PublishOptions, UpMessage } from './bus.js'
import { createSessionSweep, type SessionSweep } from './nats-sessions.js'

export interface NatsBusOptions {
  /** nats:// URLs of the cluster's nodes (the client fails over between them). */
  readonly servers: readonly string[]
  /** What cabinets dial: the nodes' MQTT listeners. */
  readonly mqttUrls: readonly string[]
  readonly identity: NatsIdentity
  /** JetStream copies of the sales stream (R3 on a 3-node cluster). */
  readonly streamReplicas: number
  readonly log: Logger
  /** Batches handed out to all replicas together and not yet acked; bounds what a replica may buffer. */
  readonly maxAckPending?: number
  /** How long JetStream waits for an ack before delivering a batch again (to any replica). */
  readonly ackWaitMs?: number
}

export const SALES_STREAM = 'CABINET_SALES'
export const SALES_CONSUMER = 'fleet-ingest'
/** One queue group of all replicas, for up-messages exactly one of them must handle. */
const QUEUE_GROUP = 'fleet-server'

const DEFAULT_MAX_ACK_PENDING = 20_000 // batches: ~one tick's worth per replica, times a margin
const DEFAULT_ACK_WAIT_MS = 30_000 // longer than any tick; a dead replica's batches come back after it
/**
 * Per cabinet: a cabinet publishing far ahead of its replies only pushes its
 * own oldest batches out (it resends what is unanswered). With max_bytes (the
 * oldest of any cabinet go first) this bounds each node's disk.
 */
const MAX_MSGS_PER_CABINET = 10_000
const MAX_STREAM_BYTES = 1024 ** 3 // 1 GiB on each node's disk
/** Batches the consume loop pulls at a time. */
const PULL_BATCH = 500
const PULL_EXPIRES_MS = 2_000
/** How long JetStream holds back a batch the ingest gave up on before delivering it again. */
const REDELIVER_DELAY_MS = 1_000

/** `cabinets.<id>.up.<kind>` → its parts, or null for anything else. */
function parseSubject(subject: string): { cabinetId: string; kind: UpKind } | null {
  const t = parseTopic(subject.replaceAll('.', '/'))
  return t && t.direction === 'up' ? { cabinetId: t.cabinetId, kind: t.kind } : null
}

const toBuffer = (data: Uint8Array): Buffer => Buffer.from(data.buffer, data.byteOffset, data.byteLength)

export async function startNatsBus(opts: NatsBusOptions, sink: BusSink): Promise<MessageBus> {
  const { log } = opts
  const name = `fleet-server ${hostname()} ${process.pid}`
  const user = await opts.identity.issueServiceUser(name)
  const nc: NatsConnection = await connect({
    servers: [...opts.servers],
    authenticator: jwtAuthenticator(user.jwt, user.seed),
    name,
    maxReconnectAttempts: -1, // forever: the cluster outlives any node
    reconnectTimeWait: 1_000, // ms
    waitOnFirstConnect: true,
  })
  let sessions = null as SessionSweep | null // set once the admin connection is up
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnect') log.warn({ status: s.type, server: (s as { server?: string }).server }, 'nats connection status')
      // Presence published while we were away never reaches us: ask who is connected.
      if (s.type === 'reconnect') sessions?.run()
    }
  })()

  let admin: NatsAccountAdmin | null = null
  const subs: Subscription[] = []
  let messages: ConsumerMessages | null = null
  let consuming: Promise<void> = Promise.resolve()
  let quiesced = false
  try {
    // The manager asks for account info first, which times out while the meta group is busy.
    const jsm = await untilClusterFormed(() => jetstreamManager(nc), log)
    await untilClusterFormed(() => ensureStream(jsm, opts.streamReplicas, log), log)
    await untilClusterFormed(() => ensureConsumer(jsm, opts.maxAckPending ?? DEFAULT_MAX_ACK_PENDING, opts.ackWaitMs ?? DEFAULT_ACK_WAIT_MS), log)
    admin = await startNatsAccountAdmin({ identity: opts.identity, servers: [...opts.servers], log })

    const sweep = (sessions = createSessionSweep({
      list: (page) => admin!.mqttSessions(page),
      found: (cabinetId) => {
        if (!quiesced) sink.sessionFound?.(cabinetId)
      },
      listed: (holdsSession) => {
        if (!quiesced) sink.sessionsListed?.(holdsSession)
      },
      log,
    }))
    const deliver = (kind: UpKind, audience?: UpMessage['audience']) => (err: Error | null, m: Msg): void => {
      if (err || quiesced) return
      const parsed = parseSubject(m.subject)
      if (!parsed || parsed.kind !== kind) return
      if (audience === 'every-replica') sweep.heard(parsed.cabinetId)
      sink.message({ cabinetId: parsed.cabinetId, kind, payload: toBuffer(m.data), ...(audience && { audience }) }, () => {})
    }
    const presence = natsSubjectOf(topics.allUpOf('presence'))
    subs.push(nc.subscribe(natsSubjectOf(topics.allUpOf('heartbeat')), { callback: deliver('heartbeat') }))
    subs.push(nc.subscribe(presence, { callback: deliver('presence', 'every-replica') }))
    subs.push(nc.subscribe(presence, { queue: QUEUE_GROUP, callback: deliver('presence', 'one-replica') }))
    subs.push(nc.subscribe(natsSubjectOf(topics.allUpOf('events')), { queue: QUEUE_GROUP, callback: deliver('events') }))
    subs.push(nc.subscribe(natsSubjectOf(topics.allUpOf('telemetry')), { queue: QUEUE_GROUP, callback: deliver('telemetry') }))
    subs.push(nc.subscribe(natsSubjectOf(topics.allUpOf('stock')), { queue: QUEUE_GROUP, callback: deliver('stock') }))
    // After the subscriptions: a cabinet connecting meanwhile is heard or listed.
    await nc.flush()
    sweep.run()

    const consumer = await jetstream(nc).consumers.get(SALES_STREAM, SALES_CONSUMER)
    // Pull requests expire, and heartbeats are expected, every PULL_EXPIRES_MS:
    // a pull lost with a dead node (the consumer's leader moves) is noticed
    // after two missed heartbeats, not after the 30 s default.
    const feed = await consumer.consume({ max_messages: PULL_BATCH, expires: PULL_EXPIRES_MS })
    messages = feed
    consuming = (async () => {
      for await (const m of feed) await take(m)
    })().catch((err: unknown) => log.error({ err }, 'the sales consumer stopped'))
  } catch (err) {
    await sessions?.stop()
    await admin?.close().catch(() => {})
    await nc.close().catch(() => {})
    throw err
  }

  /** One batch from the work queue into the ingest; resolves when the ingest takes more (backpressure). */
  function take(m: JsMsg): Promise<void> {
    const parsed = parseSubject(m.subject)
    if (!parsed || parsed.kind !== 'sales') {
      // Nothing else is captured by the stream; a stray message must not block it.
      m.term()
      return Promise.resolve()
    }
    if (quiesced) {
      m.nak() // another replica (or this one, restarted) takes it at once
      return Promise.resolve()
    }
    if (m.info.deliveryCount > 1) log.debug({ cabinetId: parsed.cabinetId, deliveries: m.info.deliveryCount }, 'sale batch delivered again')
    return new Promise<void>((resolve) => {
      sink.message(
        {
          cabinetId: parsed.cabinetId,
          kind: 'sales',
          payload: toBuffer(m.data),
          // Handed back after a pause: a tick that failed (the database away, say) must not spin.
          settled: (answered) => (answered ? m.ack() : m.nak(REDELIVER_DELAY_MS)),
        },
        resolve,
      )
    })
  }

  let closing: Promise<void> | null = null
  async function quiesce(): Promise<void> {
    if (quiesced) return
    quiesced = true
    for (const s of subs) s.unsubscribe()
    await sessions?.stop()
    // Batches already pulled but not yet taken are nak'ed as the loop meets them.
    await messages?.close().catch(() => {})
    await consuming
  }
  return {
    mode: 'nats',
    port: null,
    tlsPort: null,
    url: opts.mqttUrls.join(','),
    tracksConnections: false,
    publish(topic: string, payload: Buffer, _opts?: PublishOptions) {
      try {
        nc.publish(natsSubjectOf(topic), payload)
      } catch (err) {
        log.warn({ err, topic }, 'nats publish failed')
      }
    },
    logins: {
      idProblem: (cabinetId) => (cabinetId.includes('.') ? `cabinet id ${cabinetId} has a '.', which NATS MQTT cannot carry (it separates subject tokens)` : null),
      issue: async (cabinetId) => (await opts.identity.issueCabinetUser(cabinetId)).jwt,
      async reissue(cabinetId) {
        const { revokedAtS } = await admin!.revokeCabinetUser({ cabinetId }).catch((err: unknown) => {
          if (!isNatsIdentityError(err)) throw err
          log.error({ err, cabinetId }, 'revoking cabinet credentials on the nats cluster failed; no new password issued')
          // The old JWT still works and no new one exists: the caller may simply try again.
          throw new AppError('BROKER_UNAVAILABLE', `the NATS cluster did not take the revocation of ${cabinetId}'s credentials (${err.message}); the old password still works, try again`, 503, { cabinetId, retryAfterS: 5 }, `专柜 “${cabinetId}” 的旧密码仍然有效，请稍后重试`)
        })
        // NATS refuses a JWT issued in the revocation's second too (iat ≤ the
        // revocation): the new one is issued in a later second, up to 1 s on.
        const waitMs = (revokedAtS + 1) * 1000 - Date.now()
        if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs))
        log.info({ cabinetId }, 'cabinet credentials revoked and issued again on the nats cluster')
        return (await opts.identity.issueCabinetUser(cabinetId)).jwt
      },
    },
    disconnect(cabinetId: string) {
      // Revoking every JWT issued so far ends the live session on whichever node holds it.
      admin!.revokeCabinetUser({ cabinetId }).then(
        () => log.info({ cabinetId }, 'cabinet credentials revoked on the nats cluster'),
        (err: unknown) => log.error({ err, cabinetId }, 'revoking cabinet credentials on the nats cluster failed'),
      )
    },
    quiesce,
    close() {
      closing ??= (async () => {
        await quiesce()
        await admin?.close().catch((err: unknown) => log.warn({ err }, 'closing the nats admin connection failed'))
        // Flushes the acks and replies still buffered, then closes.
        await nc.drain().catch((err: unknown) => log.warn({ err }, 'draining the nats connection failed'))
      })()
      return closing
    },
  }
}

/**
 * JetStream API errors that a cluster still forming answers with: no meta
 * leader yet (10008), or peers whose storage the meta leader has not heard of
 * yet — 2.9.10 then says "no suitable peers for placement, insufficient
 * storage" (10005) for a stream that fits. Seen on a loaded CI machine when a
 * replica started right after the nodes.
 */
const FORMING_CLUSTER_CODES = new Set([10005, 10008, 10023])
const FORMING_CLUSTER_WAIT_MS = 60_000

export function isClusterForming(err: unknown): boolean {
  if (err instanceof JetStreamApiError) return FORMING_CLUSTER_CODES.has(err.code) || err.status === 503
  // No JetStream answer at all (timeout, no responders) while the meta group elects.
  return err instanceof Error && /timeout|no responders/i.test(`${err.name} ${err.message}`)
}

/** Runs a JetStream setup call again while the cluster is still forming, up to a minute. */
export async function untilClusterFormed<T>(fn: () => Promise<T>, log: Logger, waitMs = FORMING_CLUSTER_WAIT_MS): Promise<T> {
  const deadline = Date.now() + waitMs
  for (let delay = 250; ; delay = Math.min(delay * 2, 2_000)) {
    try {
      return await fn()
    } catch (err) {
      if (!isClusterForming(err) || Date.now() + delay > deadline) throw err
      log.warn({ err: (err as Error).message, retryInMs: delay }, 'jetstream not ready yet; trying again')
      await new Promise((r) => setTimeout(r, delay))
    }
  }
}

/** The sales work queue, created on first start (any replica; the same config is a no-op for the others). */
async function ensureStream(jsm: JetStreamManager, replicas: number, log: Logger): Promise<void> {
  const config = {
    name: SALES_STREAM,
    subjects: [natsSubjectOf(topics.allUpOf('sales'))],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    num_replicas: replicas,
    discard: DiscardPolicy.Old,
    max_msgs_per_subject: MAX_MSGS_PER_CABINET,
    // Over the protocol's limit: not stored (the cabinet's PUBACK is no promise anyway).
    max_msg_size: MAX_MESSAGE_BYTES,
    max_bytes: MAX_STREAM_BYTES,
  }
  try {
    const info = await jsm.streams.info(SALES_STREAM)
    if (info.config.num_replicas !== replicas) log.warn({ stream: SALES_STREAM, replicas: info.config.num_replicas, configured: replicas }, 'sales stream exists with other replicas; kept as it is')
  } catch {
    await jsm.streams.add(config)
    log.info({ stream: SALES_STREAM, replicas }, 'sales stream created')
  }
}

/**
 * The shared durable consumer. 2.9.10 takes an add with other settings for an
 * existing durable as an update (probed: ack_wait and max_ack_pending change),
 * so a release with new settings applies them at its first replica's start.
 */
async function ensureConsumer(jsm: JetStreamManager, maxAckPending: number, ackWaitMs: number): Promise<void> {
  await jsm.consumers.add(SALES_STREAM, {
    durable_name: SALES_CONSUMER,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(ackWaitMs),
    max_ack_pending: maxAckPending,
    max_deliver: -1, // a batch is never dropped for being redelivered: the cabinet would only resend it
  })
}
