export { Stock, type RestockResult } from './stock.js'
export { StockReporter, STOCK_REPORT_MIN_INTERVAL_MS } from './reporter.js'
