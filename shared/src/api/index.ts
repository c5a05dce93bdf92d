export * from './edge.js'
export * from './fleet.js'
export * from './fleet-views.js'
