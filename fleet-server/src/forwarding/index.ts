// Forwarding: the compliance gate, sync watermarks and the durable outbox of
// batches to the national platform (社会扶贫网).
export { createForwardingService, type ForwardingCabinets, type ForwardingFigures, type ForwardingService } from './service.js'
export { createForwardingStore, type ForwardingStore } from './store.js'
export { createSender, backoffMs, signBody, type Sender, type SenderOptions } from './sender.js'
export { createSyncMarks, type SyncMarks } from './sync-marks.js'
export { forwardingRoutes } from './routes.js'
export { DEFAULT_FORWARDING, type ForwardingOptions } from './options.js'
