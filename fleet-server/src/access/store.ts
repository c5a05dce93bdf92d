// Users and their bearer tokens and dashboard sessions, on either engine.
// Tokens and session ids are stored only as SHA-256.
import type { Selectable } from 'kysely'
import type { Role } from '../../../shared/src/index.js'
import { compiledOnce } from '../db/compiled.js'
import type { FleetDb } from '../db/database.js'
import type { UsersTable } from '../db/schema.js'

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

/** The seam the access service uses. */
export interface UserStore {
  byTokenHash(tokenHash: string): Promise<UserRow | null>
  builtinAdmin(): Promise<UserRow | null>
  /** Returns false when the username (or, with random tokens never in practice, the token hash) is taken. */
  insert(user: NewUser): Promise<boolean>
  setTokenHash(userId: string, tokenHash: string): Promise<void>
  byUsername(username: string): Promise<(UserRow & { passwordHash: string | null }) | null>
  insertSession(s: { sessionHash: string; userId: string; createdAt: string; expiresAt: string }): Promise<void>
  /** The user of an unexpired session. */
  bySession(sessionHash: string, nowIso: string): Promise<UserRow | null>
  deleteSession(sessionHash: string): Promise<void>
  purgeSessions(nowIso: string): Promise<number>
}

type DbUser = Omit<Selectable<UsersTable>, 'password_hash'>

const USER_COLUMNS = ['user_id', 'username', 'role', 'county_code', 'operator', 'token_hash', 'is_builtin', 'created_at'] as const

const toRow = (r: DbUser): UserRow => ({
  userId: r.user_id,
  username: r.username,
  role: r.role as Role,
  countyCode: r.county_code,
  operator: r.operator,
  tokenHash: r.token_hash,
  isBuiltin: Number(r.is_builtin) === 1,
  createdAt: r.created_at,
})

export function createUserStore(db: FleetDb): UserStore {
  const k = db.kysely
  const users = () => k.selectFrom('users').select(USER_COLUMNS)
  // The two lookups behind every authenticated API call.
  const byTokenHash = compiledOnce(users().where('token_hash', '=', ''))
  const bySession = compiledOnce(
    k
      .selectFrom('sessions as s')
      .innerJoin('users as u', 'u.user_id', 's.user_id')
      .select(USER_COLUMNS.map((c) => `u.${c}` as const))
      .where('s.session_hash', '=', '')
      .where('s.expires_at', '>', ''),
  )
  return {
    async byTokenHash(tokenHash) {
      const r = (await k.executeQuery(byTokenHash(tokenHash))).rows[0]
      return r ? toRow(r) : null
    },
    async builtinAdmin() {
      const r = await users().where('is_builtin', '=', 1).limit(1).executeTakeFirst()
      return r ? toRow(r) : null
    },
    async insert(u) {
      const r = await k
        .insertInto('users')
        .values({
          user_id: u.userId,
          username: u.username,
          role: u.role,
          county_code: u.countyCode,
          operator: u.operator,
          token_hash: u.tokenHash,
          password_hash: u.passwordHash,
          is_builtin: u.isBuiltin ? 1 : 0,
          created_at: u.createdAt,
        })
        // Any unique key: two replicas creating the built-in admin with one
        // configured token collide on token_hash as well as on username, and
        // PostgreSQL may find the token_hash conflict first (a username-only
        // target then fails the start instead of yielding to the winner).
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst()
      return Number(r.numInsertedOrUpdatedRows ?? 0) === 1
    },
    async setTokenHash(userId, tokenHash) {
      await k.updateTable('users').set({ token_hash: tokenHash }).where('user_id', '=', userId).execute()
    },
    async byUsername(username) {
      const r = await users().select('password_hash').where('username', '=', username).executeTakeFirst()
      return r ? { ...toRow(r), passwordHash: r.password_hash } : null
    },
    async insertSession(s) {
      await k.insertInto('sessions').values({ session_hash: s.sessionHash, user_id: s.userId, created_at: s.createdAt, expires_at: s.expiresAt }).execute()
    },
    async bySession(sessionHash, nowIso) {
      const r = (await k.executeQuery(bySession(sessionHash, nowIso))).rows[0]
      return r ? toRow(r) : null
    },
    async deleteSession(sessionHash) {
      await k.deleteFrom('sessions').where('session_hash', '=', sessionHash).execute()
    },
    async purgeSessions(nowIso) {
      const r = await k.deleteFrom('sessions').where('expires_at', '<=', nowIso).executeTakeFirst()
      return Number(r.numDeletedRows)
    },
  }
}
