// The seam between the fleet server and MQTT. Two implementations: the
// embedded aedes broker (embedded.ts) and a client of an external broker such
// as Mosquitto (external.ts). Consumers see cabinet up-messages and publish
// down-messages; neither knows which broker is in use.
import type { UpKind } from '../../../shared/src/index.js'

export interface UpMessage {
  readonly cabinetId: string
  readonly kind: UpKind
  readonly payload: Buffer
  /**
   * Sale batches from a work queue (NATS JetStream, issue 14): told once the
   * server has answered the batch (true: ack it) or gave it up (false: deliver
   * it again). Brokers without a queue leave it out: the cabinet resends.
   */
  readonly settled?: (answered: boolean) => void
  /**
   * Presence on a NATS cluster (issue 14) comes twice: to every replica, for
   * each one's view of who is online, and to one replica of the queue group,
   * for what must be done once per change (the catalog to a cabinet coming
   * online). Brokers that deliver one copy per process leave it out: that
   * copy serves both.
   */
  readonly audience?: 'every-replica' | 'one-replica'
}

/**
 * Why the embedded broker refused or cut a connection: the connection cap, a
 * packet over its cap (before or after login), or the remote address over its
 * unauthenticated-socket or failed-attempt limit (connection-guard.ts).
 */
export type TransportRefusal = 'max_connections' | 'packet_too_large' | 'address_unauthenticated_limit' | 'address_failed_attempts'

export interface BusSink {
  /**
   * One message a cabinet published under its up/ topics. Call `done` when
   * ready for more: until then the broker reads no further packets from that
   * connection (embedded) or holds back our PUBACK (external) — backpressure.
   */
  message(msg: UpMessage, done: () => void): void
  /** Embedded broker only: an authenticated session began. */
  connected(cabinetId: string): void
  /** Embedded broker only: that session ended (any reason). */
  disconnected(cabinetId: string): void
  /**
   * NATS only (issue 14): the cluster lists the cabinet as holding an MQTT
   * session. Asked on start and after a reconnect, since the online presence
   * went by while this replica was not listening. Not a message from the cabinet.
   */
  sessionFound?(cabinetId: string): void
  /**
   * NATS only: after a listing every node answered, whether a cabinet holds a
   * session (listed, or its presence arrived meanwhile). One not holding any
   * is offline, though its offline presence may have gone by unheard.
   */
  sessionsListed?(holdsSession: (cabinetId: string) => boolean): void
  /** A connection was refused or cut at the transport (counted in /metrics). */
  transportRefused(reason: TransportRefusal): void
}

export interface PublishOptions {
  readonly qos?: 0 | 1
  readonly retain?: boolean
}

/**
 * Cabinet logins a broker checks itself (NATS: a bearer user JWT per cabinet,
 * signed by the cluster's identity). Brokers without it ask this server, which
 * checks the cabinet's secret: the password is the secret.
 */
export interface BrokerLogins {
  /** Why this broker cannot carry the cabinet id (e.g. NATS MQTT: no '.'), or null. */
  idProblem(cabinetId: string): string | null
  /** A password for the cabinet, valid until its logins are ended. */
  issue(cabinetId: string): Promise<string>
  /** Ends every login issued so far, the live session with it, and returns a password issued after that. */
  reissue(cabinetId: string): Promise<string>
}

export interface MessageBus {
  readonly mode: 'embedded' | 'external' | 'nats'
  /** Embedded: the plain port aedes listens on (null when that listener is off); external: null. */
  readonly port: number | null
  /** Embedded with TLS: the MQTT-over-TLS port; otherwise null. */
  readonly tlsPort: number | null
  /** URL cabinets connect to. */
  readonly url: string
  /**
   * True when the bus sees connects and disconnects itself (embedded). An
   * external broker's sessions are known only from retained presence messages.
   */
  readonly tracksConnections: boolean
  /** Publishes a server → cabinet message; failures are logged, never thrown. */
  publish(topic: string, payload: Buffer, opts?: PublishOptions): void
  /**
   * Ends the cabinet's live session, if any (credentials rotated or retired).
   * With `logins` it ends every login issued so far, on every node.
   */
  disconnect(cabinetId: string): void
  readonly logins?: BrokerLogins
  /** Stops taking new connections and messages; live sessions stay until close(). */
  quiesce(): Promise<void>
  close(): Promise<void>
}
