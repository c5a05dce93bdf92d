// A fleet and its data for the benches that measure queries rather than provisioning.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { buildFleet } from '../fleet-server/src/app.js'
import { loadConfig } from '../fleet-server/src/config.js'
import { sql } from 'kysely'
import type { FleetDb } from '../fleet-server/src/db/database.js'
import { BUNDLED_PLANS } from '../shared/src/index.js'

const ADMIN = 'bench-admin-token-0123456789'

/**
 * An in-process fleet server on a temp dir, with forwarding passes only on
 * request, and `call` for its API as the city admin (throws on any status ≥ 300).
 * `close()` removes the dir unless BENCH_KEEP is set.
 */
export async function queryBenchFleet(name: string, now: () => Date, env: Record<string, string> = {}) {
  const dir = await mkdtemp(join(tmpdir(), `bench-${name}-`))
  const fleet = await buildFleet(
    loadConfig({ FLEET_DATA_DIR: dir, FLEET_HTTP_PORT: '0', FLEET_MQTT_PORT: '0', FLEET_ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'silent', FLEET_LOG_REQUESTS: 'false',
    // Scheduled reports and backups run on the wall clock (hourly): off, so no figure depends on when the bench ran.
    FLEET_REPORTS_SCHEDULE: 'false', FLEET_BACKUP_SCHEDULE: 'false', ...env }, []),
    { logger: pino({ level: 'silent' }), now, forwarding: { intervalMs: 0, debounceMs: 0 } },
  )
  const call = async (method: 'GET' | 'POST', url: string, body?: unknown) => {
    const res = await fleet.http.inject({ method, url, headers: { authorization: `Bearer ${ADMIN}` }, ...(body !== undefined && { payload: body as object }) })
    if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`)
    return res
  }
  const close = async () => {
    await fleet.close()
    if (!process.env.BENCH_KEEP) await rm(dir, { recursive: true, force: true })
    else process.stderr.write(`kept ${dir}\n`)
  }
  return { fleet, call, close }
}

/**
 * `count` operating cabinets straight into the table, spread over Chuzhou's
 * counties in turn (provisioning is not what these benches measure); their ids in order.
 */
export async function insertOperatingCabinets(db: FleetDb, count: number, at: Date): Promise<string[]> {
  const counties = BUNDLED_PLANS['chuzhou-2020']!.counties
  const iso = at.toISOString()
  const rows = Array.from({ length: count }, (_, c) => {
    const county = counties[c % counties.length]!.code
    return { cabinet_id: `${county}-${String(c).padStart(5, '0')}`, county_code: county, status: 'operating', secret_hash: 'x', credentials_issued_at: iso, created_at: iso, updated_at: iso }
  })
  await db.transaction(async (tx) => {
    for (let i = 0; i < rows.length; i += 500) await tx.insertInto('cabinets').values(rows.slice(i, i + 500)).execute()
  })
  return rows.map((r) => r.cabinet_id)
}

/** Rows of a raw query (`$1`-style parameters are not needed by the benches). */
export async function rawRows<T>(db: FleetDb, text: string): Promise<T[]> {
  return (await sql.raw<T>(text).execute(db.kysely)).rows
}
