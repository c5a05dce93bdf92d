// MQTT transport for the fleet server: the MessageBus seam and its embedded
// (aedes) and external (mqtt.js client) implementations.
export type { BusSink, MessageBus, PublishOptions, UpMessage } from './bus.js'
export { startEmbeddedBus, isAllowedSubscription, type CredentialVerifier, type EmbeddedBusOptions } from './embedded.js'
export { startExternalBus, type ExternalBusOptions } from './external.js'
export { guardPacketSize } from './packet-guard.js'
