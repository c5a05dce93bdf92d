// COPY ... FROM STDIN through Kysely, for the PostgreSQL hot path that writes
// most rows (sales ingest). PostgreSQL loads COPY rows through its
// multi-insert path without an executor per row: on the sales table's shape
// (13 columns, 3 btrees), 200,000 rows went in at ~55,000 rows/s against
// ~39,000 through INSERT ... SELECT FROM unnest(...) (issue 13).
//
// Kysely hands every statement to pg's `client.query(text, values)`, so the
// pool's clients (CopyClient, database-pg.ts) see a COPY statement carrying
// its data as the one parameter and stream that data instead
// (pg-copy-streams). The statement runs on the transaction's own connection,
// so savepoints and constraint errors behave as for any other statement.
// This module does not load pg: the sales store imports it on SQLite too.
import { sql, type Kysely } from 'kysely'

/** `COPY table (cols) FROM STDIN $1`: a statement of copyRows (`$1` is Kysely's placeholder for the data). */
const COPY_IN = /^COPY [a-z_]+ \([a-z_, ]+\) FROM STDIN \$1$/

/** The COPY statement `query(text, values)` stands for, and its data; null for any other query. */
export function copyInOf(text: unknown, values: unknown): { readonly statement: string; readonly data: string } | null {
  if (typeof text !== 'string' || !Array.isArray(values) || values.length !== 1 || typeof values[0] !== 'string' || !COPY_IN.test(text)) return null
  return { statement: text.slice(0, -' $1'.length), data: values[0] }
}

/** A value of COPY's text format (https://www.postgresql.org/docs/15/sql-copy.html, "Text Format"). */
const NEEDS_ESCAPE = /[\\\t\n\r]/
const ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' }
const field = (v: string | number): string =>
  typeof v === 'number' ? String(v) : NEEDS_ESCAPE.test(v) ? v.replace(/[\\\t\n\r]/g, (c) => ESCAPES[c]!) : v

/**
 * Rows in COPY's text format: tab-separated fields, newline-terminated rows,
 * backslash, tab, newline and carriage return escaped. No NULLs (every column
 * the callers write is NOT NULL).
 */
export function copyText(rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  let out = ''
  for (const row of rows) {
    for (let i = 0; i < row.length; i++) out += (i === 0 ? '' : '\t') + field(row[i]!)
    out += '\n'
  }
  return out
}

/**
 * Writes `rows` into `table` with one COPY on the executor's connection (a
 * transaction's, or the pool's). The pool must be made of database-pg.ts's CopyClients.
 */
export async function copyRows<DB>(ex: Kysely<DB>, table: string, columns: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): Promise<void> {
  if (rows.length === 0) return
  await sql`COPY ${sql.raw(table)} (${sql.raw(columns.join(', '))}) FROM STDIN ${copyText(rows)}`.execute(ex)
}
