// SQL for cabinets, their liveness and the events they report.
import type { CabinetStatus, VenueType } from '../../../shared/src/index.js'
import type { Db } from '../db/index.js'
import type { StoredCredential } from './credentials.js'

export interface CabinetRow {
  readonly cabinetId: string
  readonly countyCode: string
  readonly operator: string | null
  readonly siteName: string | null
  readonly venueType: VenueType | null
  readonly status: CabinetStatus
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
  /** False when the id is taken. */
  insert(row: CabinetRow): Promise<boolean>
  get(cabinetId: string): Promise<CabinetRow | null>
  list(filter: CabinetFilter, limit: number, offset: number): Promise<{ rows: CabinetRow[]; total: number }>
  update(cabinetId: string, changes: CabinetChanges, updatedAt: string): Promise<void>
  setSecretHash(cabinetId: string, secretHash: string, at: string): Promise<void>
  /** Highest n among generated ids `${countyCode}-nnnnn`, 0 when none. */
  maxGeneratedNumber(countyCode: string): Promise<number>
  credential(cabinetId: string): Promise<StoredCredential | null>
  saveLastSeen(entries: ReadonlyArray<readonly [cabinetId: string, at: string]>): Promise<void>
  /** False when the event id is already stored (a resend). */
  insertEvent(e: CabinetEventRow): Promise<boolean>
}

interface DbCabinet {
  cabinet_id: string
  county_code: string
  operator: string | null
  site_name: string | null
  venue_type: VenueType | null
  status: CabinetStatus
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
  status: r.status,
  secretHash: r.secret_hash,
  credentialsIssuedAt: r.credentials_issued_at,
  lastSeenAt: r.last_seen_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
})

export function createSqliteCabinetStore(db: Db): CabinetStore {
  const insert = db.prepare(
    `INSERT INTO cabinets (cabinet_id, county_code, operator, site_name, venue_type, status, secret_hash, credentials_issued_at, last_seen_at, created_at, updated_at)
     VALUES (@cabinetId, @countyCode, @operator, @siteName, @venueType, @status, @secretHash, @credentialsIssuedAt, @lastSeenAt, @createdAt, @updatedAt)
     ON CONFLICT (cabinet_id) DO NOTHING`,
  )
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
  const update = db.prepare<[{ cabinetId: string; status: string | null; siteName: string | null; venueType: string | null; updatedAt: string }]>(
    `UPDATE cabinets SET status = coalesce(@status, status), site_name = coalesce(@siteName, site_name),
       venue_type = coalesce(@venueType, venue_type), updated_at = @updatedAt
     WHERE cabinet_id = @cabinetId`,
  )
  const setSecret = db.prepare<[string, string, string, string]>(
    'UPDATE cabinets SET secret_hash = ?, credentials_issued_at = ?, updated_at = ? WHERE cabinet_id = ?',
  )
  const maxGenerated = db.prepare<[string, string], { cabinet_id: string }>(
    'SELECT cabinet_id FROM cabinets WHERE county_code = ? AND cabinet_id GLOB ? ORDER BY cabinet_id DESC LIMIT 1',
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

  const filterParams = (f: CabinetFilter) => ({ countyCode: f.countyCode ?? null, operator: f.operator ?? null, status: f.status ?? null })

  return {
    async insert(row) {
      return insert.run(row).changes === 1
    },
    async get(cabinetId) {
      const r = get.get(cabinetId)
      return r ? toRow(r) : null
    },
    async list(filter, limit, offset) {
      const p = filterParams(filter)
      return { rows: list.all({ ...p, limit, offset }).map(toRow), total: count.get(p)!.n }
    },
    async update(cabinetId, c, updatedAt) {
      update.run({ cabinetId, status: c.status ?? null, siteName: c.siteName ?? null, venueType: c.venueType ?? null, updatedAt })
    },
    async setSecretHash(cabinetId, secretHash, at) {
      setSecret.run(secretHash, at, at, cabinetId)
    },
    async maxGeneratedNumber(countyCode) {
      const r = maxGenerated.get(countyCode, `${countyCode}-[0-9][0-9][0-9][0-9][0-9]`)
      return r ? Number(r.cabinet_id.slice(countyCode.length + 1)) : 0
    },
    async credential(cabinetId) {
      const r = credential.get(cabinetId)
      return r ? { secretHash: r.secret_hash, status: r.status } : null
    },
    async saveLastSeen(entries) {
      if (entries.length > 0) saveLastSeen(entries)
    },
    async insertEvent(e) {
      return insertEvent.run(e).changes === 1
    },
  }
}
