// The sync domain: the MQTT link to the fleet server.
export { Link, type LinkHandlers, type LinkOptions } from './link.js'
