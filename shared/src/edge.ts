// The edge agent's narrow entry: only what a cabinet needs (wire messages,
// topics, errors, money, time, ids, the hash chain and its local API bodies).
// The full barrel (index.ts) also builds the fleet server's HTTP schemas and
// parses the bundled plans, which costs an agent megabytes of RSS for nothing.
export * from './errors.js'
export * from './topics.js'
export * from './messages/index.js'
export * from './domain/money.js'
export * from './domain/time.js'
export * from './domain/ids.js'
export * from './domain/chain.js'
export * from './api/edge.js'
export * from './api/enroll.js'
