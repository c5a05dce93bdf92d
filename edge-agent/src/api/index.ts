// The local HTTP API the cabinet's controller calls.
export { startApi, MAX_BODY_BYTES, type Api, type ApiDeps } from './server.js'
