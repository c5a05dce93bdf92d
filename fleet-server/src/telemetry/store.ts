// Telemetry on either database (issue 16 §4): raw readings, hourly rows and
// one latest row per cabinet. A write takes many readings at once (one
// transaction, one multi-row INSERT for the raw rows, one upsert for the
// latest ones): 20,000 cabinets every minute is 333 readings a second.
import { sql, type Selectable } from 'kysely'
import type { AlertRules, TelemetryHour, TelemetryMsg } from '../../../shared/src/index.js'
import type { FleetDb, Tx } from '../db/database.js'
import type { SqliteDatabase } from '../db/sqlite.js'
import type { TelemetryLatestTable } from '../db/schema.js'
import { nextLatest, type ActiveFault, type LatestTelemetry } from './latest.js'

export interface Reading {
  readonly msg: TelemetryMsg
  readonly receivedAt: string
}

/** A latest row with who owns its cabinet, for the alert rules. */
export interface OwnedLatest extends LatestTelemetry {
  readonly countyCode: string
  readonly operator: string | null
}

export interface TelemetryStore {
  /** Stores readings (any cabinets, in arrival order) and moves each cabinet's latest row. */
  write(readings: readonly Reading[], rules: AlertRules): Promise<void>
  latest(cabinetId: string): Promise<LatestTelemetry | null>
  /** Latest rows of one county's cabinets (retired ones left out). */
  latestOf(countyCode: string): Promise<OwnedLatest[]>
  /** Hourly rows of a cabinet from `fromHour` on: stored ones, and those raw readings still give (which win). */
  hourly(cabinetId: string, fromHour: string): Promise<TelemetryHour[]>
  /** Aggregates raw readings received in [from, to) into hourly rows (replacing those hours' rows). Returns rows written. */
  downsample(from: string, to: string): Promise<number>
  /** Deletes raw readings received before `rawBefore` and hourly rows of hours before `hourlyBefore`. */
  prune(rawBefore: string, hourlyBefore: string): Promise<{ raw: number; hourly: number }>
}

/** Rows per INSERT: 10 parameters each, well under either engine's bind limit. */
const INSERT_ROWS = 500

const toLatest = (r: Selectable<TelemetryLatestTable>): LatestTelemetry => ({
  cabinetId: r.cabinet_id,
  receivedAt: r.received_at,
  sentAt: r.sent_at,
  agentInstanceId: r.agent_instance_id,
  agentVersion: r.agent_version,
  chilled: Number(r.chilled) === 1,
  temperatureC: r.temperature_c,
  tempAboveSince: r.temp_above_since,
  doorOpen: Number(r.door_open) === 1,
  doorOpenSince: r.door_open_since,
  faults: JSON.parse(r.faults) as ActiveFault[],
  diskUsedPct: r.disk_used_pct,
  outboxPending: Number(r.outbox_pending),
  outboxOldestAgeS: Number(r.outbox_oldest_age_s),
  ledgerBytes: Number(r.ledger_bytes),
  agentsSeen: JSON.parse(r.agents_seen) as Record<string, string>,
})

const fromLatest = (l: LatestTelemetry): Selectable<TelemetryLatestTable> => ({
  cabinet_id: l.cabinetId,
  received_at: l.receivedAt,
  sent_at: l.sentAt,
  agent_instance_id: l.agentInstanceId,
  agent_version: l.agentVersion,
  chilled: l.chilled ? 1 : 0,
  temperature_c: l.temperatureC,
  temp_above_since: l.tempAboveSince,
  door_open: l.doorOpen ? 1 : 0,
  door_open_since: l.doorOpenSince,
  faults: JSON.stringify(l.faults),
  disk_used_pct: l.diskUsedPct,
  outbox_pending: l.outboxPending,
  outbox_oldest_age_s: l.outboxOldestAgeS,
  ledger_bytes: l.ledgerBytes,
  agents_seen: JSON.stringify(l.agentsSeen),
})

const LATEST_COLUMNS = Object.keys(fromLatest({
  cabinetId: '', receivedAt: '', sentAt: '', agentInstanceId: '', agentVersion: '', chilled: false, temperatureC: null, tempAboveSince: null, doorOpen: false,
  doorOpenSince: null, faults: [], diskUsedPct: null, outboxPending: 0, outboxOldestAgeS: 0, ledgerBytes: 0, agentsSeen: {},
})).filter((c) => c !== 'cabinet_id') as Array<keyof TelemetryLatestTable>

/** The hourly aggregate of raw readings received in [from, to), as a SELECT both engines run. */
const hourlyFromRaw = (from: string, to: string, cabinetId?: string) => sql`
  SELECT cabinet_id, substr(received_at, 1, 13) AS hour, count(*) AS readings,
    min(temperature_c) AS temp_min_c, max(temperature_c) AS temp_max_c, avg(temperature_c) AS temp_avg_c,
    count(DISTINCT CASE WHEN door_open = 1 THEN substr(received_at, 1, 16) END) AS door_open_minutes,
    max(disk_used_pct) AS disk_max_pct, max(outbox_oldest_age_s) AS outbox_max_age_s, max(fault_count) AS fault_count
  FROM telemetry_raw
  WHERE received_at >= ${from} AND received_at < ${to}${cabinetId === undefined ? sql`` : sql` AND cabinet_id = ${cabinetId}`}
  GROUP BY cabinet_id, substr(received_at, 1, 13)`

interface HourRow {
  hour: string
  readings: number | string
  temp_min_c: number | null
  temp_max_c: number | null
  temp_avg_c: number | string | null
  door_open_minutes: number | string
  disk_max_pct: number | null
  outbox_max_age_s: number | string
  fault_count: number | string
}

const num = (v: number | string | null): number | null => (v === null ? null : Number(v))
const toHour = (r: HourRow): TelemetryHour => ({
  hour: r.hour,
  readings: Number(r.readings),
  tempMinC: num(r.temp_min_c),
  tempMaxC: num(r.temp_max_c),
  tempAvgC: r.temp_avg_c === null ? null : Math.round(Number(r.temp_avg_c) * 10) / 10,
  doorOpenMinutes: Number(r.door_open_minutes),
  diskMaxPct: num(r.disk_max_pct),
  outboxMaxAgeS: Number(r.outbox_max_age_s),
  faultCount: Number(r.fault_count),
})

/** A reading's telemetry_raw row, in column order. */
const rawRow = ({ msg, receivedAt }: Reading) =>
  [msg.cabinetId, receivedAt, msg.sentAt, msg.agentInstanceId, msg.temperatureC, msg.doorOpen ? 1 : 0, msg.faults.length, msg.diskUsedPct, msg.outboxPending, msg.outboxOldestAgeS] as const

/**
 * SQLite: prepared statements in one better-sqlite3 transaction holding the
 * connection. Through Kysely a batch of 2,700 readings cost ~100 µs each,
 * mostly building the multi-row statements; this is the hot path at 333
 * readings a second, beside the sale ingest on the same connection.
 */
function sqliteWrite(conn: SqliteDatabase): (readings: readonly Reading[], rules: AlertRules) => void {
  const select = conn.prepare<[string], Selectable<TelemetryLatestTable>>('SELECT * FROM telemetry_latest WHERE cabinet_id = ?')
  const insertRaw = conn.prepare(
    `INSERT INTO telemetry_raw (cabinet_id, received_at, sent_at, agent_instance_id, temperature_c, door_open, fault_count, disk_used_pct, outbox_pending, outbox_oldest_age_s)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  )
  const cols = ['cabinet_id', ...LATEST_COLUMNS]
  const upsert = conn.prepare(
    `INSERT INTO telemetry_latest (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})
     ON CONFLICT (cabinet_id) DO UPDATE SET ${LATEST_COLUMNS.map((c) => `${c} = excluded.${c}`).join(', ')}`,
  )
  return conn.transaction((readings: readonly Reading[], rules: AlertRules) => {
    const latest = new Map<string, LatestTelemetry | null>()
    for (const r of readings) {
      const id = r.msg.cabinetId
      if (!latest.has(id)) {
        const row = select.get(id)
        latest.set(id, row ? toLatest(row) : null)
      }
      latest.set(id, nextLatest(latest.get(id) ?? null, r.msg, r.receivedAt, rules))
      insertRaw.run(...rawRow(r))
    }
    for (const l of latest.values()) {
      const row = fromLatest(l!) as unknown as Record<string, unknown>
      upsert.run(...cols.map((c) => row[c]))
    }
  })
}

export function createTelemetryStore(db: FleetDb): TelemetryStore {
  const k = db.kysely
  let sqliteBatch: ReturnType<typeof sqliteWrite> | null = null

  async function previous(tx: Tx, ids: readonly string[]): Promise<Map<string, LatestTelemetry>> {
    const out = new Map<string, LatestTelemetry>()
    for (let i = 0; i < ids.length; i += INSERT_ROWS) {
      const rows = await tx.selectFrom('telemetry_latest').selectAll().where('cabinet_id', 'in', ids.slice(i, i + INSERT_ROWS)).execute()
      for (const r of rows) out.set(r.cabinet_id, toLatest(r))
    }
    return out
  }

  return {
    async write(readings, rules) {
      if (readings.length === 0) return
      if (db.sqlite) {
        await db.exclusive((conn) => (sqliteBatch ??= sqliteWrite(conn))(readings, rules), { deferDerived: true })
        return
      }
      await db.transaction(
        async (tx) => {
          const latest = await previous(tx, [...new Set(readings.map((r) => r.msg.cabinetId))])
          for (const r of readings) latest.set(r.msg.cabinetId, nextLatest(latest.get(r.msg.cabinetId) ?? null, r.msg, r.receivedAt, rules))
          for (let i = 0; i < readings.length; i += INSERT_ROWS) {
            await tx
              .insertInto('telemetry_raw')
              .values(
                readings.slice(i, i + INSERT_ROWS).map(({ msg, receivedAt }) => ({
                  cabinet_id: msg.cabinetId,
                  received_at: receivedAt,
                  sent_at: msg.sentAt,
                  agent_instance_id: msg.agentInstanceId,
                  temperature_c: msg.temperatureC,
                  door_open: msg.doorOpen ? 1 : 0,
                  fault_count: msg.faults.length,
                  disk_used_pct: msg.diskUsedPct,
                  outbox_pending: msg.outboxPending,
                  outbox_oldest_age_s: msg.outboxOldestAgeS,
                })),
              )
              .execute()
          }
          const rows = [...latest.values()].map(fromLatest)
          for (let i = 0; i < rows.length; i += INSERT_ROWS / 2) {
            await tx
              .insertInto('telemetry_latest')
              .values(rows.slice(i, i + INSERT_ROWS / 2))
              .onConflict((oc) => oc.column('cabinet_id').doUpdateSet((eb) => Object.fromEntries(LATEST_COLUMNS.map((c) => [c, eb.ref(`excluded.${c}`)]))))
              .execute()
          }
        },
        // Touches none of the sales fold's tables: no need to run it first.
        { deferDerived: true },
      )
    },
    async latest(cabinetId) {
      const r = await k.selectFrom('telemetry_latest').selectAll().where('cabinet_id', '=', cabinetId).executeTakeFirst()
      return r ? toLatest(r) : null
    },
    async latestOf(countyCode) {
      const rows = await k
        .selectFrom('telemetry_latest as t')
        .innerJoin('cabinets as c', 'c.cabinet_id', 't.cabinet_id')
        .selectAll('t')
        .select(['c.county_code', 'c.operator'])
        .where('c.county_code', '=', countyCode)
        .where('c.status', '!=', 'retired')
        .execute()
      return rows.map((r) => ({ ...toLatest(r), countyCode: r.county_code, operator: r.operator }))
    },
    async hourly(cabinetId, fromHour) {
      const stored = await k.selectFrom('telemetry_hourly').selectAll().where('cabinet_id', '=', cabinetId).where('hour', '>=', fromHour).execute()
      const fresh = await hourlyFromRaw(fromHour, '9999', cabinetId).execute(k)
      const byHour = new Map<string, TelemetryHour>()
      for (const r of stored) byHour.set(r.hour, toHour(r))
      for (const r of fresh.rows as HourRow[]) byHour.set(r.hour, toHour(r))
      return [...byHour.values()].sort((a, b) => a.hour.localeCompare(b.hour))
    },
    async downsample(from, to) {
      const r = await sql`
        INSERT INTO telemetry_hourly (cabinet_id, hour, readings, temp_min_c, temp_max_c, temp_avg_c, door_open_minutes, disk_max_pct, outbox_max_age_s, fault_count)
        ${hourlyFromRaw(from, to)}
        ON CONFLICT (cabinet_id, hour) DO UPDATE SET readings = excluded.readings, temp_min_c = excluded.temp_min_c, temp_max_c = excluded.temp_max_c,
          temp_avg_c = excluded.temp_avg_c, door_open_minutes = excluded.door_open_minutes, disk_max_pct = excluded.disk_max_pct,
          outbox_max_age_s = excluded.outbox_max_age_s, fault_count = excluded.fault_count`.execute(k)
      return Number(r.numAffectedRows ?? 0)
    },
    async prune(rawBefore, hourlyBefore) {
      const raw = await k.deleteFrom('telemetry_raw').where('received_at', '<', rawBefore).executeTakeFirst()
      const hourly = await k.deleteFrom('telemetry_hourly').where('hour', '<', hourlyBefore).executeTakeFirst()
      return { raw: Number(raw.numDeletedRows), hourly: Number(hourly.numDeletedRows) }
    },
  }
}
