// The ledger domain: SQLite schema, migrations, durable sale recording, meta and catalog.
export { openLedger, Ledger, type LedgerOptions, type RecordResult, type SaleInput } from './ledger.js'
