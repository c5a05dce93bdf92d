// better-sqlite3 for the running Node version (see shared/src/sqlite.ts for why there are two).
import { createRequire } from 'node:module'
import type BetterSqlite3 from 'better-sqlite3'
import { sqliteModuleFor } from '../../../shared/src/sqlite.js'

export const Database = createRequire(import.meta.url)(sqliteModuleFor(process.versions.node)) as typeof BetterSqlite3
export type SqliteDatabase = BetterSqlite3.Database
