// The throwaway PostgreSQL of test/helpers/postgres.ts: a real server that
// takes a real client's writes and leaves nothing behind (no dir, no port).
import { existsSync } from 'node:fs'
import { once } from 'node:events'
import { createServer } from 'node:net'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { startPostgres } from '../../helpers/postgres.js'

async function portIsFree(port: number): Promise<boolean> {
  const srv = createServer()
  srv.listen(port, '127.0.0.1')
  const ok = await once(srv, 'listening').then(
    () => true,
    () => false, // events.once rejects on 'error': EADDRINUSE
  )
  if (ok) await new Promise<void>((r) => srv.close(() => r()))
  return ok
}

describe('throwaway PostgreSQL', () => {
  it('starts a server a pg client can write to and read from, then removes its dir and frees its port', async () => {
    const server = await startPostgres()
    try {
      expect(server.url).toMatch(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/fleet_test$/)
      expect(existsSync(server.dir)).toBe(true)
      expect(await portIsFree(server.port)).toBe(false)

      const client = new pg.Client({ connectionString: server.url })
      await client.connect()
      try {
        await client.query('CREATE TABLE sales (sale_id text PRIMARY KEY, total_fen integer NOT NULL, site text NOT NULL)')
        await client.query('INSERT INTO sales VALUES ($1, $2, $3), ($4, $5, $6)', ['s-1', 4990, '定远县人民医院', 's-2', 1200, '滁州学院'])
        const { rows } = await client.query<{ sale_id: string; total_fen: number; site: string }>('SELECT sale_id, total_fen, site FROM sales ORDER BY sale_id')
        expect(rows).toEqual([
          { sale_id: 's-1', total_fen: 4990, site: '定远县人民医院' },
          { sale_id: 's-2', total_fen: 1200, site: '滁州学院' },
        ])
        const { rows: [settings] } = await client.query<{ encoding: string; tz: string }>(
          "SELECT pg_encoding_to_char(encoding) AS encoding, current_setting('TimeZone') AS tz FROM pg_database WHERE datname = current_database()",
        )
        expect(settings).toEqual({ encoding: 'UTF8', tz: 'UTC' })
      } finally {
        await client.end()
      }
    } finally {
      await server.close()
    }
    expect(existsSync(server.dir)).toBe(false)
    expect(await portIsFree(server.port)).toBe(true)
    await server.close() // idempotent
  })

  it('runs two servers side by side, and more databases on one, each with its own data', async () => {
    const [a, b] = await Promise.all([startPostgres(), startPostgres({ database: 'other' })])
    try {
      expect(a.port).not.toBe(b.port)
      const ca = new pg.Client({ connectionString: a.url })
      const cb = new pg.Client({ connectionString: b.url })
      await Promise.all([ca.connect(), cb.connect()])
      const url = await a.newDatabase('a_second')
      const ca2 = new pg.Client({ connectionString: url })
      await ca2.connect()
      try {
        await ca.query('CREATE TABLE only_in_a (x int)')
        const { rows } = await cb.query("SELECT to_regclass('only_in_a') AS t, current_database() AS db")
        expect(rows).toEqual([{ t: null, db: 'other' }])
        const { rows: rows2 } = await ca2.query("SELECT to_regclass('only_in_a') AS t, current_database() AS db")
        expect(rows2).toEqual([{ t: null, db: 'a_second' }])
      } finally {
        await Promise.all([ca.end(), cb.end(), ca2.end()])
      }
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })
})
