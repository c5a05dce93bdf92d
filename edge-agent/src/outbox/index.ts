// The outbox domain: batching, in-flight tracking, ack/reject handling, resends.
export { Outbox, type OutboxHooks, type OutboxLink, type OutboxOptions } from './outbox.js'
export { batchSigner, renderBatch, type BatchSigner, type RenderedBatch } from './batch.js'
