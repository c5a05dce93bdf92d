// pg, loaded on first use: a server on the embedded default (SQLite) never
// needs the PostgreSQL client, and loading it at startup cost resident memory
// on every such server.
import type pg from 'pg'

/** pg is CommonJS: under ESM its exports are the namespace's default. */
export const loadPg = async (): Promise<typeof pg> => ((await import('pg')) as unknown as { default: typeof pg }).default
