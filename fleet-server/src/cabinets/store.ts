// Cabinets, their lifecycle steps, liveness and the events they report, on
// either engine. Every transition goes through recordTransitions, so
// rollout_day_steps never misses one; callers commit it with the change it records.
import { sql, type Selectable } from 'kysely'
import { shanghaiDate, type CabinetStatus, type VenueType } from '../../../shared/src/index.js'
import type { Executor, FleetDb } from '../db/database.js'
import type { CabinetsTable, RolloutDayStepsTable } from '../db/schema.js'
import type { SqliteDatabase } from '../db/sqlite.js'
import type { StoredCredential } from './credentials.js'
import { STAGE } from './lifecycle.js'

export interface CabinetRow {
  readonly cabinetId: string
  readonly countyCode: string
  readonly operator: string | null
  readonly siteName: string | null
  readonly venueType: VenueType | null
  readonly siteAddress: string | null
  readonly latitude: number | null
  readonly longitude: number | null
  readonly status: CabinetStatus
  /** When the cabinet entered its status. */
  readonly statusSince: string
  readonly secretHash: string
  readonly credentialsIssuedAt: string
  readonly lastSeenAt: string | null
  readonly createdAt: string
  readonly updatedAt: string
}

export interface CabinetFilter {
  readonly countyCode?: string
  readonly operator?: string
  readonly status?: CabinetStatus
}

export interface CabinetChanges {
  readonly status?: CabinetStatus
  readonly siteName?: string
  readonly venueType?: VenueType
  readonly siteAddress?: string
  readonly latitude?: number
  readonly longitude?: number
}

/** A lifecycle step to record with the change it describes; `by` is the username. */
export interface TransitionRecord {
  readonly cabinetId: string
  /** County and operator of the cabinet (fixed at creation): the rollout counts are kept by them. */
  readonly countyCode: string
  readonly operator: string | null
  readonly from: CabinetStatus | null
  readonly to: CabinetStatus
  readonly at: string
  readonly by: string
  readonly reason: string | null
}

export interface TransitionRow {
  readonly from: CabinetStatus | null
  readonly to: CabinetStatus
  readonly at: string
  readonly by: string
  readonly reason: string | null
}

export interface CabinetEventRow {
  readonly eventId: string
  readonly cabinetId: string
  readonly kind: string
  readonly at: string
  readonly detailJson: string
  readonly receivedAt: string
}

/**
 * Notice channel (FleetDb.notify) sent when transitions commit: a reader that
 * caches figures derived from them (rollout progress) drops its cache, in
 * every process on the database.
 */
export const TRANSITIONS_CHANNEL = 'cabinet_transitions'

export interface InstalledCabinet {
  readonly cabinetId: string
  readonly countyCode: string
  readonly operator: string | null
  readonly status: CabinetStatus
  readonly statusSince: string
  readonly lastSeenAt: string | null
}

/** The seam the cabinets service uses. Methods taking an Executor commit with the caller's other writes. */
export interface CabinetStore {
  /** Inserts the rows that are new; returns the ids already taken (those rows are not written). */
  insert(ex: Executor, rows: readonly CabinetRow[]): Promise<string[]>
  /** Records lifecycle steps and their effect on the rollout day counts (rollout_day_steps). */
  recordTransitions(ex: Executor, steps: readonly TransitionRecord[]): Promise<void>
  /** Which of these ids exist. */
  existing(ids: readonly string[]): Promise<Set<string>>
  get(cabinetId: string, ex?: Executor): Promise<CabinetRow | null>
  list(filter: CabinetFilter, limit: number, offset: number): Promise<{ rows: CabinetRow[]; total: number }>
  /** Every row matching, for filters the database cannot apply (online, compliance). */
  listAll(filter: CabinetFilter): Promise<CabinetRow[]>
  /**
   * Installed and operating cabinets, of one county when given, with only
   * what the offline rule reads: one query over the county/status index
   * instead of two of every column (the alert pass asks per county).
   */
  installed(countyCode?: string): Promise<InstalledCabinet[]>
  /**
   * Applies the changes. Given `fromStatus` it is a compare-and-set on the
   * status (and stamps status_since): false, nothing changed, when the cabinet
   * is no longer in `fromStatus`. False also for an unknown cabinet.
   */
  update(ex: Executor, cabinetId: string, changes: CabinetChanges, updatedAt: string, fromStatus?: CabinetStatus): Promise<boolean>
  transitions(cabinetId: string): Promise<TransitionRow[]>
  setSecretHash(ex: Executor, cabinetId: string, secretHash: string, at: string): Promise<void>
  /**
   * Highest n among ids `${countyCode}-nnnnn`, 0 when none, whichever county
   * holds them (an admin may file one under another county).
   */
  /** The highest generated number of a county's ids (CCCCCC-NNNNN); 0 with none. */
  maxGeneratedNumber(countyCode: string, ex?: Executor): Promise<number>
  /**
   * Holds the county's number generator until `tx` ends, so concurrent creates
   * on any server read and take numbers one after another (PostgreSQL: a
   * transaction advisory lock; SQLite: its transactions are already serial).
   */
  lockGeneratedNumbers(tx: Executor, countyCode: string): Promise<void>
  credential(cabinetId: string): Promise<StoredCredential | null>
  /** Credentials of many cabinets; unknown ids are left out. */
  credentials(cabinetIds: readonly string[]): Promise<Map<string, StoredCredential>>
  saveLastSeen(entries: ReadonlyArray<readonly [cabinetId: string, at: string]>): Promise<void>
  /** Stores events in one statement; per event, false when its id is already stored (a resend). */
  insertEvents(events: readonly CabinetEventRow[]): Promise<boolean[]>
  /** Each cabinet's latest clock judgement: a flag row when skewed, none when within the limit. */
  saveClockFlags(flags: readonly ClockJudgement[]): Promise<void>
  /** Cabinets whose clock the latest judgement (by any server) found skewed. */
  clockFlags(): Promise<ClockFlagRow[]>
}

/** A cabinet's latest clock judgement, as stored: skewed (a flag row) or within the limit (no row). */
export type ClockJudgement = ClockFlagRow | { readonly cabinetId: string; readonly skewed: false }

export interface ClockFlagRow {
  readonly cabinetId: string
  readonly skewed: true
  readonly skewS: number
  readonly source: 'heartbeat' | 'sale'
  readonly judgedAt: string
}

const toRow = (r: Selectable<CabinetsTable>): CabinetRow => ({
  cabinetId: r.cabinet_id,
  countyCode: r.county_code,
  operator: r.operator,
  siteName: r.site_name,
  venueType: r.venue_type as VenueType | null,
  siteAddress: r.site_address,
  latitude: r.latitude,
  longitude: r.longitude,
  status: r.status as CabinetStatus,
  statusSince: r.status_since ?? r.updated_at,
  secretHash: r.secret_hash,
  credentialsIssuedAt: r.credentials_issued_at,
  lastSeenAt: r.last_seen_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
})

/**
 * Rows per multi-row statement: 15 columns x 500 = 7,500 parameters, well
 * under SQLite's 32,766 and PostgreSQL's 65,535, and a 20,000-cabinet import
 * is 40 statements instead of 20,000 round trips.
 */
const CHUNK_ROWS = 500

function chunks<T>(xs: readonly T[], size = CHUNK_ROWS): T[][] {
  const out: T[][] = []
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size))
  return out
}

/** Net change a step makes to the cabinets counted at each rollout stage. */
function stageDeltas(from: CabinetStatus | null, to: CabinetStatus): { sites: number; installed: number; operating: number } {
  const a = from === null ? -1 : STAGE[from]
  const b = STAGE[to]
  const delta = (reached: (stage: number) => boolean) => (reached(b) ? 1 : 0) - (reached(a) ? 1 : 0)
  return { sites: delta((x) => x >= 1), installed: delta((x) => x >= 2), operating: delta((x) => x === 3) }
}

/** A rollout_day_steps row, as the table declares it. */
type DayStep = RolloutDayStepsTable

/** Steps summed per (day, county, operator): an import adds one row per day and county, not one per cabinet. */
function daySteps(steps: readonly TransitionRecord[]): DayStep[] {
  const days = new Map<string, DayStep>()
  for (const t of steps) {
    const d = stageDeltas(t.from, t.to)
    if (!d.sites && !d.installed && !d.operating) continue
    const day = shanghaiDate(t.at)
    const operator = t.operator ?? ''
    const key = `${day}\u0000${t.countyCode}\u0000${operator}`
    const acc = days.get(key)
    if (acc) {
      acc.sites += d.sites
      acc.installed += d.installed
      acc.operating += d.operating
    } else days.set(key, { county_code: t.countyCode, day, operator, ...d })
  }
  return [...days.values()]
}

/** Bounds of a county's generated ids (CCCCCC-NNNNN) for a primary-key range scan. */
const generatedRange = (countyCode: string) => ({ from: `${countyCode}-00000`, to: `${countyCode}-99999` })

/**
 * SQLite: the provisioning writes and the number read as prepared statements
 * on the one connection, run synchronously inside the caller's transaction
 * (Kysely issued BEGIN and holds the connection until the callback resolves,
 * so nothing else runs in between). Building and compiling the Kysely queries
 * cost more CPU than running them, on every `POST /cabinets`
 * (bench/micro/provision.ts).
 */
function sqliteStatements(conn: SqliteDatabase) {
  const insertCabinet = conn.prepare<[CabinetRow]>(
    `INSERT INTO cabinets (cabinet_id, county_code, operator, site_name, venue_type, site_address, latitude, longitude, status, status_since,
                           secret_hash, credentials_issued_at, last_seen_at, created_at, updated_at)
     VALUES (@cabinetId, @countyCode, @operator, @siteName, @venueType, @siteAddress, @latitude, @longitude, @status, @statusSince,
             @secretHash, @credentialsIssuedAt, @lastSeenAt, @createdAt, @updatedAt)
     ON CONFLICT (cabinet_id) DO NOTHING`,
  )
  const insertTransition = conn.prepare<[string, string, string | null, string | null, string, string, string, string | null]>(
    `INSERT INTO cabinet_transitions (cabinet_id, county_code, operator, from_status, to_status, at, by_user, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  )
  const addDayStep = conn.prepare<[DayStep]>(
    `INSERT INTO rollout_day_steps (county_code, day, operator, sites, installed, operating) VALUES (@county_code, @day, @operator, @sites, @installed, @operating)
     ON CONFLICT (day, county_code, operator) DO UPDATE SET sites = rollout_day_steps.sites + excluded.sites,
       installed = rollout_day_steps.installed + excluded.installed, operating = rollout_day_steps.operating + excluded.operating`,
  )
  const maxGenerated = conn.prepare<[string, string, string], { cabinet_id: string }>(
    `SELECT cabinet_id FROM cabinets WHERE cabinet_id >= ? AND cabinet_id <= ? AND cabinet_id GLOB ? ORDER BY cabinet_id DESC LIMIT 1`,
  )
  return {
    /** The ids not inserted (taken, or repeated within `rows`). */
    insert(rows: readonly CabinetRow[]): string[] {
      const taken: string[] = []
      for (const row of rows) if (insertCabinet.run(row).changes !== 1) taken.push(row.cabinetId)
      return taken
    },
    recordTransitions(steps: readonly TransitionRecord[]): void {
      for (const t of steps) insertTransition.run(t.cabinetId, t.countyCode, t.operator, t.from, t.to, t.at, t.by, t.reason)
      for (const d of daySteps(steps)) addDayStep.run(d)
    },
    maxGeneratedNumber(countyCode: string): number {
      const { from, to } = generatedRange(countyCode)
      const r = maxGenerated.get(from, to, `${countyCode}-[0-9][0-9][0-9][0-9][0-9]`)
      return r ? Number(r.cabinet_id.slice(countyCode.length + 1)) : 0
    },
  }
}

export function createCabinetStore(db: FleetDb): CabinetStore {
  const k = db.kysely
  const lite = db.sqlite ? sqliteStatements(db.sqlite) : null

  const filtered = (f: CabinetFilter) => {
    let q = k.selectFrom('cabinets')
    if (f.countyCode !== undefined) q = q.where('county_code', '=', f.countyCode)
    if (f.operator !== undefined) q = q.where('operator', '=', f.operator)
    if (f.status !== undefined) q = q.where('status', '=', f.status)
    return q
  }

  // The hot path: 19,000 cabinets heartbeating, written every flush interval
  // in one go. Per dialect: one prepared statement looped in one SQLite
  // transaction; one statement over arrays on PostgreSQL.
  async function saveLastSeen(entries: ReadonlyArray<readonly [string, string]>): Promise<void> {
    if (entries.length === 0) return
    if (db.dialect === 'sqlite') {
      await db.exclusive((conn) => {
        const stmt = conn.prepare<[string, string]>('UPDATE cabinets SET last_seen_at = ? WHERE cabinet_id = ?')
        conn.transaction(() => {
          for (const [id, at] of entries) stmt.run(at, id)
        })()
      })
      return
    }
    await sql`UPDATE cabinets AS c SET last_seen_at = v.at
              FROM unnest(${entries.map((e) => e[0])}::text[], ${entries.map((e) => e[1])}::text[]) AS v (id, at)
              WHERE c.cabinet_id = v.id`.execute(k)
  }

  return {
    async insert(ex, rows) {
      // Only inside a transaction: a raw statement outside one could run inside another caller's.
      if (lite && ex.isTransaction) return lite.insert(rows)
      const inserted = new Set<string>()
      for (const part of chunks(rows)) {
        const r = await ex
          .insertInto('cabinets')
          .values(part.map((row) => ({
            cabinet_id: row.cabinetId,
            county_code: row.countyCode,
            operator: row.operator,
            site_name: row.siteName,
            venue_type: row.venueType,
            site_address: row.siteAddress,
            latitude: row.latitude,
            longitude: row.longitude,
            status: row.status,
            status_since: row.statusSince,
            secret_hash: row.secretHash,
            credentials_issued_at: row.credentialsIssuedAt,
            last_seen_at: row.lastSeenAt,
            created_at: row.createdAt,
            updated_at: row.updatedAt,
          })))
          .onConflict((oc) => oc.column('cabinet_id').doNothing())
          .returning('cabinet_id')
          .execute()
        for (const x of r) inserted.add(x.cabinet_id)
      }
      // A row repeated within `rows` is inserted once; the repeat counts as taken.
      const taken: string[] = []
      for (const row of rows) {
        if (inserted.has(row.cabinetId)) inserted.delete(row.cabinetId)
        else taken.push(row.cabinetId)
      }
      return taken
    },

    async recordTransitions(ex, steps) {
      if (steps.length === 0) return
      if (lite && ex.isTransaction) {
        lite.recordTransitions(steps)
        await db.notify(TRANSITIONS_CHANNEL, '', ex)
        return
      }
      for (const part of chunks(steps)) {
        await ex
          .insertInto('cabinet_transitions')
          .values(part.map((t) => ({
            cabinet_id: t.cabinetId,
            county_code: t.countyCode,
            operator: t.operator,
            from_status: t.from,
            to_status: t.to,
            at: t.at,
            by_user: t.by,
            reason: t.reason,
          })))
          .execute()
      }
      await db.notify(TRANSITIONS_CHANNEL, '', ex)
      for (const part of chunks(daySteps(steps))) {
        await ex
          .insertInto('rollout_day_steps')
          .values(part)
          .onConflict((oc) =>
            oc.columns(['day', 'county_code', 'operator']).doUpdateSet({
              sites: sql`rollout_day_steps.sites + excluded.sites`,
              installed: sql`rollout_day_steps.installed + excluded.installed`,
              operating: sql`rollout_day_steps.operating + excluded.operating`,
            }),
          )
          .execute()
      }
    },

    async existing(ids) {
      const found = new Set<string>()
      for (const part of chunks([...new Set(ids)])) {
        const r = await k.selectFrom('cabinets').select('cabinet_id').where('cabinet_id', 'in', part).execute()
        for (const x of r) found.add(x.cabinet_id)
      }
      return found
    },

    async get(cabinetId, ex = k) {
      const r = await ex.selectFrom('cabinets').selectAll().where('cabinet_id', '=', cabinetId).executeTakeFirst()
      return r ? toRow(r) : null
    },

    async list(filter, limit, offset) {
      const [rows, count] = await Promise.all([
        filtered(filter).selectAll().orderBy('cabinet_id').limit(limit).offset(offset).execute(),
        filtered(filter).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
      ])
      return { rows: rows.map(toRow), total: Number(count.n) }
    },

    async installed(countyCode) {
      let q = k
        .selectFrom('cabinets')
        .select(['cabinet_id', 'county_code', 'operator', 'status', 'status_since', 'updated_at', 'last_seen_at'])
        .where('status', 'in', ['installed', 'operating'])
      if (countyCode !== undefined) q = q.where('county_code', '=', countyCode)
      const rows = await q.orderBy('cabinet_id').execute()
      return rows.map((r) => ({
        cabinetId: r.cabinet_id,
        countyCode: r.county_code,
        operator: r.operator,
        status: r.status as CabinetStatus,
        statusSince: r.status_since ?? r.updated_at,
        lastSeenAt: r.last_seen_at,
      }))
    },

    async listAll(filter) {
      return (await filtered(filter).selectAll().orderBy('cabinet_id').execute()).map(toRow)
    },

    async update(ex, cabinetId, c, updatedAt, fromStatus) {
      let q = ex
        .updateTable('cabinets')
        .set({
          updated_at: updatedAt,
          ...(c.status !== undefined && { status: c.status }),
          ...(c.siteName !== undefined && { site_name: c.siteName }),
          ...(c.venueType !== undefined && { venue_type: c.venueType }),
          ...(c.siteAddress !== undefined && { site_address: c.siteAddress }),
          ...(c.latitude !== undefined && { latitude: c.latitude }),
          ...(c.longitude !== undefined && { longitude: c.longitude }),
          ...(fromStatus !== undefined && { status_since: updatedAt }),
        })
        .where('cabinet_id', '=', cabinetId)
      if (fromStatus !== undefined) q = q.where('status', '=', fromStatus)
      const r = await q.executeTakeFirst()
      return Number(r.numUpdatedRows) > 0
    },

    async transitions(cabinetId) {
      const rows = await k
        .selectFrom('cabinet_transitions')
        .select(['from_status', 'to_status', 'at', 'by_user', 'reason'])
        .where('cabinet_id', '=', cabinetId)
        .orderBy('transition_id')
        .execute()
      return rows.map((r) => ({ from: r.from_status as CabinetStatus | null, to: r.to_status as CabinetStatus, at: r.at, by: r.by_user, reason: r.reason }))
    },

    async setSecretHash(ex, cabinetId, secretHash, at) {
      await ex.updateTable('cabinets').set({ secret_hash: secretHash, credentials_issued_at: at, updated_at: at }).where('cabinet_id', '=', cabinetId).execute()
    },

    async lockGeneratedNumbers(tx, countyCode) {
      if (db.dialect === 'postgres') await sql`SELECT pg_advisory_xact_lock(hashtext('cabinet-numbers'), hashtext(${countyCode}))`.execute(tx)
    },

    async maxGeneratedNumber(countyCode, ex = k) {
      if (lite && ex.isTransaction) return lite.maxGeneratedNumber(countyCode)
      // Five digits after the county's prefix; the range bounds let both engines use the primary key.
      const { from, to } = generatedRange(countyCode)
      const digits = db.dialect === 'sqlite'
        ? sql<boolean>`cabinet_id GLOB ${`${countyCode}-[0-9][0-9][0-9][0-9][0-9]`}`
        : sql<boolean>`cabinet_id ~ ${`^${countyCode}-[0-9]{5}$`}`
      const r = await ex
        .selectFrom('cabinets')
        .select('cabinet_id')
        .where('cabinet_id', '>=', from)
        .where('cabinet_id', '<=', to)
        .where(digits)
        .orderBy('cabinet_id', 'desc')
        .limit(1)
        .executeTakeFirst()
      return r ? Number(r.cabinet_id.slice(countyCode.length + 1)) : 0
    },

    async credential(cabinetId) {
      const r = await k.selectFrom('cabinets').select(['secret_hash', 'status']).where('cabinet_id', '=', cabinetId).executeTakeFirst()
      return r ? { secretHash: r.secret_hash, status: r.status as CabinetStatus } : null
    },

    async credentials(cabinetIds) {
      const out = new Map<string, StoredCredential>()
      for (const part of chunks(cabinetIds)) {
        const rows = await k.selectFrom('cabinets').select(['cabinet_id', 'secret_hash', 'status']).where('cabinet_id', 'in', part).execute()
        for (const r of rows) out.set(r.cabinet_id, { secretHash: r.secret_hash, status: r.status as CabinetStatus })
      }
      return out
    },

    saveLastSeen,

    async saveClockFlags(flags) {
      const set = flags.filter((f): f is ClockFlagRow => f.skewed)
      const cleared = flags.filter((f) => !f.skewed).map((f) => f.cabinetId)
      for (const part of chunks(set)) {
        await k
          .insertInto('cabinet_clock_flags')
          .values(part.map((f) => ({ cabinet_id: f.cabinetId, skew_s: f.skewS, source: f.source, judged_at: f.judgedAt })))
          .onConflict((oc) => oc.column('cabinet_id').doUpdateSet((eb) => ({ skew_s: eb.ref('excluded.skew_s'), source: eb.ref('excluded.source'), judged_at: eb.ref('excluded.judged_at') })))
          .execute()
      }
      for (const part of chunks(cleared)) await k.deleteFrom('cabinet_clock_flags').where('cabinet_id', 'in', part).execute()
    },

    async clockFlags() {
      const rows = await k.selectFrom('cabinet_clock_flags').selectAll().orderBy('cabinet_id').execute()
      return rows.map((r) => ({ cabinetId: r.cabinet_id, skewed: true as const, skewS: r.skew_s, source: r.source === 'sale' ? 'sale' as const : 'heartbeat' as const, judgedAt: r.judged_at }))
    },

    async insertEvents(events) {
      if (events.length === 0) return []
      const stored = new Set<string>()
      for (const part of chunks(events)) {
        const r = await k
          .insertInto('cabinet_events')
          .values(part.map((e) => ({ event_id: e.eventId, cabinet_id: e.cabinetId, kind: e.kind, at: e.at, detail: e.detailJson, received_at: e.receivedAt })))
          .onConflict((oc) => oc.column('event_id').doNothing())
          .returning('event_id')
          .execute()
        for (const x of r) stored.add(x.event_id)
      }
      // The first of an id repeated in the batch is the one stored.
      return events.map((e) => stored.delete(e.eventId))
    },
  }
}
