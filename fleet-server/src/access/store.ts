// SQL for users and their bearer tokens. Tokens are stored only as SHA-256.
import type { Role } from '../../../shared/src/index.js'
import type { Db } from '../db/index.js'

export interface UserRow {
  readonly userId: string
  readonly username: string
  readonly role: Role
  readonly countyCode: string | null
  readonly operator: string | null
  readonly tokenHash: string
  readonly isBuiltin: boolean
  readonly createdAt: string
}

export interface NewUser extends UserRow {
  readonly passwordHash: string | null
}

/** The seam the access service uses; SQLite today. */
export interface UserStore {
  byTokenHash(tokenHash: string): Promise<UserRow | null>
  builtinAdmin(): Promise<UserRow | null>
  /** Returns false when the username is taken. */
  insert(user: NewUser): Promise<boolean>
  setTokenHash(userId: string, tokenHash: string): Promise<void>
  byUsername(username: string): Promise<(UserRow & { passwordHash: string | null }) | null>
  insertSession(s: { sessionHash: string; userId: string; createdAt: string; expiresAt: string }): Promise<void>
  /** The user of an unexpired session. */
  bySession(sessionHash: string, nowIso: string): Promise<UserRow | null>
  deleteSession(sessionHash: string): Promise<void>
  purgeSessions(nowIso: string): Promise<number>
}

interface DbUser {
  user_id: string
  username: string
  role: Role
  county_code: string | null
  operator: string | null
  token_hash: string
  is_builtin: number
  created_at: string
}

const toRow = (r: DbUser): UserRow => ({
  userId: r.user_id,
  username: r.username,
  role: r.role,
  countyCode: r.county_code,
  operator: r.operator,
  tokenHash: r.token_hash,
  isBuiltin: r.is_builtin === 1,
  createdAt: r.created_at,
})

export function createSqliteUserStore(db: Db): UserStore {
  const cols = 'user_id, username, role, county_code, operator, token_hash, is_builtin, created_at'
  const byToken = db.prepare<[string], DbUser>(`SELECT ${cols} FROM users WHERE token_hash = ?`)
  const builtin = db.prepare<[], DbUser>(`SELECT ${cols} FROM users WHERE is_builtin = 1 LIMIT 1`)
  const insert = db.prepare(
    `INSERT INTO users (user_id, username, role, county_code, operator, token_hash, password_hash, is_builtin, created_at)
     VALUES (@userId, @username, @role, @countyCode, @operator, @tokenHash, @passwordHash, @isBuiltin, @createdAt)
     ON CONFLICT (username) DO NOTHING`,
  )
  const setToken = db.prepare<[string, string]>('UPDATE users SET token_hash = ? WHERE user_id = ?')
  const byName = db.prepare<[string], DbUser & { password_hash: string | null }>(`SELECT ${cols}, password_hash FROM users WHERE username = ?`)
  const insertSession = db.prepare('INSERT INTO sessions (session_hash, user_id, created_at, expires_at) VALUES (@sessionHash, @userId, @createdAt, @expiresAt)')
  const bySession = db.prepare<[string, string], DbUser>(
    `SELECT ${cols.split(', ').map((c) => `u.${c}`).join(', ')} FROM sessions s JOIN users u USING (user_id) WHERE s.session_hash = ? AND s.expires_at > ?`,
  )
  const deleteSession = db.prepare<[string]>('DELETE FROM sessions WHERE session_hash = ?')
  const purge = db.prepare<[string]>('DELETE FROM sessions WHERE expires_at <= ?')
  return {
    async byTokenHash(tokenHash) {
      const r = byToken.get(tokenHash)
      return r ? toRow(r) : null
    },
    async builtinAdmin() {
      const r = builtin.get()
      return r ? toRow(r) : null
    },
    async insert(u) {
      const info = insert.run({ ...u, isBuiltin: u.isBuiltin ? 1 : 0 })
      return info.changes === 1
    },
    async setTokenHash(userId, tokenHash) {
      setToken.run(tokenHash, userId)
    },
    async byUsername(username) {
      const r = byName.get(username)
      return r ? { ...toRow(r), passwordHash: r.password_hash } : null
    },
    async insertSession(s) {
      insertSession.run(s)
    },
    async bySession(sessionHash, nowIso) {
      const r = bySession.get(sessionHash, nowIso)
      return r ? toRow(r) : null
    },
    async deleteSession(sessionHash) {
      deleteSession.run(sessionHash)
    },
    async purgeSessions(nowIso) {
      return purge.run(nowIso).changes
    },
  }
}
