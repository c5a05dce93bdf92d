// Planogram and stock (issue 16 §3).
export { stockModule, type StockModule } from './module.js'
export { stockSources } from './alerts.js'
export { STOCK_LOW_SHARE_BP, stockLevel, type StockService } from './service.js'
