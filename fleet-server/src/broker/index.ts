// MQTT transport for the fleet server: the MessageBus seam and its embedded
// (aedes) and external (mqtt.js client) implementations.
export type { BrokerLogins, BusSink, MessageBus, PublishOptions, TransportRefusal, UpMessage } from './bus.js'
export { startEmbeddedBus, isAllowedSubscription, type CredentialVerifier, type EmbeddedBus, type EmbeddedBusOptions, type EmbeddedBusStats } from './embedded.js'
export { addressKey, DEFAULT_CONNECTION_LIMITS, guardConnection, type ConnectionGuardContext, type ConnectionLimits } from './connection-guard.js'
export { DEFAULT_RETAIN_LIMITS, type RetainLimits } from './retain-cap.js'
export { startExternalBus, type ExternalBusOptions } from './external.js'
export { guardPacketSize } from './packet-guard.js'
