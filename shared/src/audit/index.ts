export * from './export.js'
export * from './verify.js'
