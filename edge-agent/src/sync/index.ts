// The sync domain: the MQTT link to the fleet server (or to a cluster's brokers, in turn).
export { Link, type LinkHandlers, type LinkOptions } from './link.js'
export { brokerAddress, type BrokerAddress } from './servers.js'
export { createRemoteCommands, type RemoteCommandDeps } from './remote-commands.js'
