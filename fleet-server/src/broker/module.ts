// The MQTT bus as two modules (issue 13): the embedded aedes, an external
// broker, or a NATS cluster (issue 14): `broker` holds the broker's place in
// the teardown and `intake` starts it. The broker starts last, since its sink
// routes to every domain, but its intake is quiesced first on close and the
// broker itself closed after the domains: ingest drains what was received
// while the broker is still up to carry the replies.
import type { Logger } from 'pino'
import type { FleetConfig } from '../config.js'
import { slot, type FleetModule } from '../modules.js'
import { createBusSink, type UpModule } from '../router.js'
import type { BusSink, MessageBus } from './bus.js'
import type { CredentialVerifier } from './embedded.js'
import type { NatsBusOptions } from './nats.js'
import type { NatsIdentityFile } from '../nats/identity-file.js'
import { startEmbeddedBus } from './embedded.js'
import { startExternalBus } from './external.js'

export interface BusModules {
  /** Stop only: closes the broker. Put it before every module that publishes or drains through it. */
  readonly broker: FleetModule
  /** Starts the bus with a sink routing to `modules` (in their order); its stop quiesces intake. Put it last. */
  intake(modules: readonly UpModule[]): FleetModule
  /** The bus once intake has started, else null (publishing before then is a no-op). */
  readonly bus: () => MessageBus | null
  /** The started bus; throws before intake has started. */
  readonly started: () => MessageBus
}

export interface BusModuleDeps {
  readonly config: FleetConfig
  /** The cabinets' login check (embedded broker). */
  readonly credentials: () => CredentialVerifier
  readonly refused: BusSink['transportRefused']
  readonly log: Logger
  /** Aborts waiting for an external broker to be attached. */
  readonly signal?: AbortSignal
}

export function busModules({ config, credentials, refused, log, signal }: BusModuleDeps): BusModules {
  const bus = slot<MessageBus>('the MQTT bus')
  return {
    broker: { name: 'broker', start: () => undefined, stop: () => bus.peek()?.close() },
    intake: (modules) => ({
      name: 'bus',
      async start() {
        const sink = createBusSink({ modules, refused, log })
        const nats = config.nats
        bus.set(
          nats
            ? await startNats(
                { servers: nats.servers, mqttUrls: nats.mqttUrls, identity: nats.identity, streamReplicas: nats.streamReplicas, log },
                sink,
              )
            : config.mqtt.url
            ? await startExternalBus(
                { url: config.mqtt.url, username: config.mqtt.username, password: config.mqtt.password, ca: config.mqtt.ca, log, ...(signal && { signal }) },
                sink,
              )
            : await startEmbeddedBus(
                {
                  host: config.host,
                  port: config.mqtt.plain ? config.mqtt.port : null,
                  tls: config.tls && { ...config.tls, port: config.mqtt.tlsPort },
                  maxConnections: config.mqtt.maxConnections,
                  maxPacketBytes: config.mqtt.maxPacketBytes,
                  connectionLimits: config.mqtt.connectionLimits,
                  // A TLS handshake is the first step of a login: bounded like a CONNECT.
                  tlsHandshakeTimeoutMs: config.mqtt.connectionLimits.connectTimeoutMs,
                  credentials: credentials(),
                  log,
                },
                sink,
              ),
        )
      },
      // Intake stops first; what was already received is committed and
      // acknowledged while the broker is still up to carry the replies.
      stop: () => bus.peek()?.quiesce(),
    }),
    bus: () => bus.peek(),
    started: () => bus.get(),
  }
}

/**
 * The NATS bus and identity, loaded only in NATS mode: the NATS client
 * libraries are several MiB resident that the embedded default never uses.
 */
async function startNats(opts: Omit<NatsBusOptions, 'identity'> & { readonly identity: NatsIdentityFile }, sink: BusSink): Promise<MessageBus> {
  const [{ startNatsBus }, { createNatsIdentity }] = await Promise.all([import('./nats.js'), import('../nats/identity.js')])
  return startNatsBus({ ...opts, identity: createNatsIdentity(opts.identity) }, sink)
}
