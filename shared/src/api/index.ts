export * from './edge.js'
export * from './fleet.js'
