// PostgreSQL figures (issue 13), each framed by a baseline from the same run
// on the same server: a bare `unnest` insert of sale-shaped rows (one
// statement and one commit per 1,000 rows, the floor for batched ingest), then
// the fleet server's ingest on that server. The server runs durable settings
// (fsync, synchronous_commit on), as SQLite's figures use synchronous=FULL.
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import { uuidv7 } from '../shared/src/index.js'
import { startPostgres, type Postgres } from '../test/helpers/postgres.js'

export async function startBenchPostgres(): Promise<Postgres> {
  return startPostgres({ database: 'bench', durable: true, maxConnections: 100 })
}

/** Rows per second of a bare multi-row insert through unnest arrays, one transaction per batch. */
export async function bareUnnestInserts(server: Postgres, opts: { rows: number; batch: number }) {
  const url = await server.newDatabase(`bare_${Date.now()}`)
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    await c.query(`CREATE TABLE s (sale_id TEXT PRIMARY KEY, cabinet_id TEXT NOT NULL, seq BIGINT NOT NULL, sold_at TEXT NOT NULL,
      total_fen BIGINT NOT NULL, lines TEXT NOT NULL, hash TEXT NOT NULL, UNIQUE (cabinet_id, seq))`)
    const lines = JSON.stringify([{ sku: 'SKU-1', qty: 2, unitPriceFen: 600 }, { sku: 'SKU-2', qty: 1, unitPriceFen: 1200 }])
    const hash = 'a'.repeat(64)
    const insert = `INSERT INTO s SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::text[], $7::text[])`
    const t0 = performance.now()
    for (let i = 0; i < opts.rows; i += opts.batch) {
      const n = Math.min(opts.batch, opts.rows - i)
      const cols: unknown[][] = [[], [], [], [], [], [], []]
      for (let j = i; j < i + n; j++) {
        cols[0]!.push(uuidv7())
        cols[1]!.push(`C${j % 200}`)
        cols[2]!.push(Math.floor(j / 200) + 1)
        cols[3]!.push(new Date().toISOString())
        cols[4]!.push(2400)
        cols[5]!.push(lines)
        cols[6]!.push(hash)
      }
      await c.query(insert, cols) // autocommit: one statement, one durable commit
    }
    const ms = performance.now() - t0
    return { rows: opts.rows, batch: opts.batch, durationMs: Math.round(ms), rowsPerS: Math.round((opts.rows / ms) * 1000) }
  } finally {
    await c.end()
  }
}
