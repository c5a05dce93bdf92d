// SQL for cabinets, their liveness and the events they report.
import { shanghaiDate, type CabinetStatus, type VenueType } from '../../../shared/src/index.js'
import type { Db } from '../db/index.js'
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

/** A lifecycle step to record with a change; `by` is the username. */
export interface TransitionRecord {
  readonly from: CabinetStatus | null
  readonly to: CabinetStatus
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

/** The seam the cabinets service uses; SQLite today. */
export interface CabinetStore {
  /** False when the id is taken. Records the creation as a transition by `by`. */
  insert(row: CabinetRow, by: string): Promise<boolean>
  /** All rows in one transaction, or none: returns the ids already taken (nothing inserted then). */
  insertMany(rows: readonly CabinetRow[], by: string, reason: string): Promise<string[]>
  /** Which of these ids exist. */
  existing(ids: readonly string[]): Promise<Set<string>>
  get(cabinetId: string): Promise<CabinetRow | null>
  list(filter: CabinetFilter, limit: number, offset: number): Promise<{ rows: CabinetRow[]; total: number }>
  /** Every row matching, for filters the database cannot apply (online, compliance). */
  listAll(filter: CabinetFilter): Promise<CabinetRow[]>
  /**
   * Applies the changes and, when given, records the transition, in one
   * transaction. With a transition it is a compare-and-set on the status:
   * false (nothing changed) when the cabinet is no longer in `transition.from`.
   */
  update(cabinetId: string, changes: CabinetChanges, updatedAt: string, transition?: TransitionRecord): Promise<boolean>
  transitions(cabinetId: string): Promise<TransitionRow[]>
  setSecretHash(cabinetId: string, secretHash: string, at: string): Promise<void>
  /**
   * Highest n among ids `${countyCode}-nnnnn`, 0 when none, whichever county
   * holds them (an admin may file one under another county).
   */
  maxGeneratedNumber(countyCode: string): Promise<number>
  credential(cabinetId: string): Promise<StoredCredential | null>
  saveLastSeen(entries: ReadonlyArray<readonly [cabinetId: string, at: string]>): Promise<void>
  /** Stores events in one transaction; per event, false when its id is already stored (a resend). */
  insertEvents(events: readonly CabinetEventRow[]): Promise<boolean[]>
}

interface DbCabinet {
  cabinet_id: string
  county_code: string
  operator: string | null
  site_name: string | null
  venue_type: VenueType | null
  site_address: string | null
  latitude: number | null
  longitude: number | null
  status: CabinetStatus
  status_since: string | null
  secret_hash: string
  credentials_issued_at: string
  last_seen_at: string | null
  created_at: string
  updated_at: string
}

const toRow = (r: DbCabinet): CabinetRow => ({
  cabinetId: r.cabinet_id,
  countyCode: r.county_code,
  operator: r.operator,
  siteName: r.site_name,
  venueType: r.venue_type,
  siteAddress: r.site_address,
  latitude: r.latitude,
  longitude: r.longitude,
  status: r.status,
  statusSince: r.status_since ?? r.updated_at,
  secretHash: r.secret_hash,
  credentialsIssuedAt: r.credentials_issued_at,
  lastSeenAt: r.last_seen_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
})

export function createSqliteCabinetStore(db: Db): CabinetStore {
  const insert = db.prepare(
    `INSERT INTO cabinets (cabinet_id, county_code, operator, site_name, venue_type, site_address, latitude, longitude, status, status_since,
                           secret_hash, credentials_issued_at, last_seen_at, created_at, updated_at)
     VALUES (@cabinetId, @countyCode, @operator, @siteName, @venueType, @siteAddress, @latitude, @longitude, @status, @statusSince,
             @secretHash, @credentialsIssuedAt, @lastSeenAt, @createdAt, @updatedAt)
     ON CONFLICT (cabinet_id) DO NOTHING`,
  )
  const insertTransition = db.prepare<[{ cabinetId: string; countyCode: string; operator: string | null; from: string | null; to: string; at: string; by: string; reason: string | null }]>(
    `INSERT INTO cabinet_transitions (cabinet_id, county_code, operator, from_status, to_status, at, by_user, reason)
     VALUES (@cabinetId, @countyCode, @operator, @from, @to, @at, @by, @reason)`,
  )
  const daySteps = db.prepare<[{ countyCode: string; day: string; operator: string; sites: number; installed: number; operating: number }]>(
    `INSERT INTO rollout_day_steps (county_code, day, operator, sites, installed, operating) VALUES (@countyCode, @day, @operator, @sites, @installed, @operating)
     ON CONFLICT (day, county_code, operator) DO UPDATE SET sites = sites + excluded.sites, installed = installed + excluded.installed, operating = operating + excluded.operating`,
  )
  // Every transition goes through here, so rollout_day_steps never misses one.
  const recordTransition = (t: { cabinetId: string; countyCode: string; operator: string | null; from: CabinetStatus | null; to: CabinetStatus; at: string; by: string; reason: string | null }) => {
    insertTransition.run(t)
    const from = t.from === null ? -1 : STAGE[t.from]
    const to = STAGE[t.to]
    const delta = (reached: (stage: number) => boolean) => (reached(to) ? 1 : 0) - (reached(from) ? 1 : 0)
    const sites = delta((x) => x >= 1)
    const installed = delta((x) => x >= 2)
    const operating = delta((x) => x === 3)
    if (sites || installed || operating) daySteps.run({ countyCode: t.countyCode, day: shanghaiDate(t.at), operator: t.operator ?? '', sites, installed, operating })
  }
  const transitionsOf = db.prepare<[string], { from_status: CabinetStatus | null; to_status: CabinetStatus; at: string; by_user: string; reason: string | null }>(
    'SELECT from_status, to_status, at, by_user, reason FROM cabinet_transitions WHERE cabinet_id = ? ORDER BY transition_id',
  )
  const insertOne = db.transaction((row: CabinetRow, by: string, reason: string | null): boolean => {
    if (insert.run(row).changes !== 1) return false
    recordTransition({ cabinetId: row.cabinetId, countyCode: row.countyCode, operator: row.operator, from: null, to: row.status, at: row.createdAt, by, reason })
    return true
  })
  const insertAll = db.transaction((rows: readonly CabinetRow[], by: string, reason: string): string[] => {
    const taken: string[] = []
    for (const row of rows) if (!insertOne(row, by, reason)) taken.push(row.cabinetId)
    // All or nothing: a throw rolls the whole import back.
    if (taken.length) throw new TakenIds(taken)
    return taken
  })
  const get = db.prepare<[string], DbCabinet>('SELECT * FROM cabinets WHERE cabinet_id = ?')
  // NULL parameters mean "no filter on this column".
  const where = `WHERE (@countyCode IS NULL OR county_code = @countyCode)
                   AND (@operator IS NULL OR operator = @operator)
                   AND (@status IS NULL OR status = @status)`
  const list = db.prepare<[{ countyCode: string | null; operator: string | null; status: string | null; limit: number; offset: number }], DbCabinet>(
    `SELECT * FROM cabinets ${where} ORDER BY cabinet_id LIMIT @limit OFFSET @offset`,
  )
  const count = db.prepare<[{ countyCode: string | null; operator: string | null; status: string | null }], { n: number }>(
    `SELECT count(*) AS n FROM cabinets ${where}`,
  )
  const listAll = db.prepare<[{ countyCode: string | null; operator: string | null; status: string | null }], DbCabinet>(
    `SELECT * FROM cabinets ${where} ORDER BY cabinet_id`,
  )
  const update = db.prepare<[{ cabinetId: string; status: string | null; siteName: string | null; venueType: string | null; siteAddress: string | null; latitude: number | null; longitude: number | null; updatedAt: string; statusChanged: number; from: string | null }]>(
    `UPDATE cabinets SET status = coalesce(@status, status), site_name = coalesce(@siteName, site_name),
       venue_type = coalesce(@venueType, venue_type), site_address = coalesce(@siteAddress, site_address),
       latitude = coalesce(@latitude, latitude), longitude = coalesce(@longitude, longitude),
       status_since = CASE WHEN @statusChanged = 1 THEN @updatedAt ELSE status_since END, updated_at = @updatedAt
     WHERE cabinet_id = @cabinetId AND (@from IS NULL OR status = @from)`,
  )
  const updateWithTransition = db.transaction((cabinetId: string, c: CabinetChanges, updatedAt: string, t: TransitionRecord | undefined): boolean => {
    const { changes } = update.run({
      cabinetId,
      status: c.status ?? null,
      siteName: c.siteName ?? null,
      venueType: c.venueType ?? null,
      siteAddress: c.siteAddress ?? null,
      latitude: c.latitude ?? null,
      longitude: c.longitude ?? null,
      updatedAt,
      statusChanged: t ? 1 : 0,
      from: t?.from ?? null,
    })
    if (changes === 0) return false
    if (t) {
      const row = get.get(cabinetId)!
      recordTransition({ cabinetId, countyCode: row.county_code, operator: row.operator, from: t.from, to: t.to, at: updatedAt, by: t.by, reason: t.reason })
    }
    return true
  })
  const setSecret = db.prepare<[string, string, string, string]>(
    'UPDATE cabinets SET secret_hash = ?, credentials_issued_at = ?, updated_at = ? WHERE cabinet_id = ?',
  )
  const maxGenerated = db.prepare<[string], { cabinet_id: string }>(
    'SELECT cabinet_id FROM cabinets WHERE cabinet_id GLOB ? ORDER BY cabinet_id DESC LIMIT 1',
  )
  const credential = db.prepare<[string], { secret_hash: string; status: CabinetStatus }>('SELECT secret_hash, status FROM cabinets WHERE cabinet_id = ?')
  const lastSeen = db.prepare<[string, string]>('UPDATE cabinets SET last_seen_at = ? WHERE cabinet_id = ?')
  const saveLastSeen = db.transaction((entries: ReadonlyArray<readonly [string, string]>) => {
    for (const [id, at] of entries) lastSeen.run(at, id)
  })
  const insertEvent = db.prepare(
    `INSERT INTO cabinet_events (event_id, cabinet_id, kind, at, detail, received_at)
     VALUES (@eventId, @cabinetId, @kind, @at, @detailJson, @receivedAt) ON CONFLICT (event_id) DO NOTHING`,
  )

  const insertEvents = db.transaction((events: readonly CabinetEventRow[]) => events.map((e) => insertEvent.run(e).changes === 1))

  const filterParams = (f: CabinetFilter) => ({ countyCode: f.countyCode ?? null, operator: f.operator ?? null, status: f.status ?? null })

  return {
    async insert(row, by) {
      return insertOne(row, by, null)
    },
    async insertMany(rows, by, reason) {
      try {
        return insertAll(rows, by, reason)
      } catch (err) {
        if (err instanceof TakenIds) return err.ids
        throw err
      }
    },
    async existing(ids) {
      const found = new Set<string>()
      for (const id of ids) if (get.get(id)) found.add(id)
      return found
    },
    async get(cabinetId) {
      const r = get.get(cabinetId)
      return r ? toRow(r) : null
    },
    async list(filter, limit, offset) {
      const p = filterParams(filter)
      return { rows: list.all({ ...p, limit, offset }).map(toRow), total: count.get(p)!.n }
    },
    async listAll(filter) {
      return listAll.all(filterParams(filter)).map(toRow)
    },
    async update(cabinetId, c, updatedAt, transition) {
      return updateWithTransition(cabinetId, c, updatedAt, transition)
    },
    async transitions(cabinetId) {
      return transitionsOf.all(cabinetId).map((r) => ({ from: r.from_status, to: r.to_status, at: r.at, by: r.by_user, reason: r.reason }))
    },
    async setSecretHash(cabinetId, secretHash, at) {
      setSecret.run(secretHash, at, at, cabinetId)
    },
    async maxGeneratedNumber(countyCode) {
      const r = maxGenerated.get(`${countyCode}-[0-9][0-9][0-9][0-9][0-9]`)
      return r ? Number(r.cabinet_id.slice(countyCode.length + 1)) : 0
    },
    async credential(cabinetId) {
      const r = credential.get(cabinetId)
      return r ? { secretHash: r.secret_hash, status: r.status } : null
    },
    async saveLastSeen(entries) {
      if (entries.length > 0) saveLastSeen(entries)
    },
    async insertEvents(events) {
      return events.length === 0 ? [] : insertEvents(events)
    },
  }
}

class TakenIds extends Error {
  constructor(readonly ids: string[]) {
    super(`cabinet ids taken: ${ids.join(', ')}`)
  }
}
