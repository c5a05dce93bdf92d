// Bearer-token authentication and user management.
import type { Logger } from 'pino'
import { AppError, uuidv7, type CreateUserBody, type CreateUserReply, type MeReply, type Plan, type SessionReply } from '../../../shared/src/index.js'
import { userExists } from './errors.js'
import { assertAdmin, type Principal } from './policy.js'
import type { LoginThrottle } from './login-throttle.js'
import type { UserRow, UserStore } from './store.js'
import { generateToken, hashPassword, hashToken, NO_PASSWORD_HASH, verifyPassword } from './tokens.js'

export const SESSION_TTL_MS = 12 * 3600_000 // 12 h: a working day on the dashboard, then log in again

export interface AccessService {
  /** The principal a bearer token belongs to, or null. */
  authenticate(token: string): Promise<Principal | null>
  createUser(by: Principal, body: CreateUserBody): Promise<CreateUserReply>
  /**
   * Password login for the dashboard: a new session id (the cookie value) and
   * who it is. `address` is the client's, for the throttle against guessing.
   */
  login(username: string, password: string, address: string): Promise<{ sessionId: string; session: SessionReply }>
  /** The principal of a live session id, or null. */
  authenticateSession(sessionId: string): Promise<Principal | null>
  logout(sessionId: string): Promise<void>
  me(p: Principal): MeReply
}

export interface AccessServiceDeps {
  readonly store: UserStore
  readonly plan: () => Plan
  readonly now: () => Date
  readonly log: Logger
  readonly throttle: LoginThrottle
}

const principal = (u: UserRow): Principal => ({ userId: u.userId, username: u.username, role: u.role, countyCode: u.countyCode, operator: u.operator })

export function createAccessService({ store, plan, now, log, throttle }: AccessServiceDeps): AccessService {
  const me = (p: Principal): MeReply => ({
    ...p,
    countyName: p.countyCode ? (plan().counties.find((c) => c.code === p.countyCode)?.name ?? null) : null,
  })
  return {
    async authenticate(token) {
      const u = await store.byTokenHash(hashToken(token))
      return u ? principal(u) : null
    },

    async login(username, password, address) {
      const retryAfterS = await throttle.retryAfterS(username, address)
      if (retryAfterS > 0) {
        log.warn({ username: username.slice(0, 64), address, retryAfterS }, 'login refused: too many failures')
        throw new AppError('LOGIN_THROTTLED', `too many failed logins; try again in ${retryAfterS} s`, 429, { retryAfterS }, `请 ${retryAfterS} 秒后再试`)
      }
      const u = await store.byUsername(username)
      // Same scrypt cost for unknown users and users without a password: the
      // answer time does not tell which usernames exist.
      const ok = await verifyPassword(password, u?.passwordHash ?? NO_PASSWORD_HASH)
      if (!u || !u.passwordHash || !ok) {
        await throttle.failed(username, address)
        log.warn({ username: username.slice(0, 64), address }, 'login failed')
        throw new AppError('LOGIN_FAILED', 'username or password is wrong', 401)
      }
      await throttle.succeeded(username, address)
      const sessionId = generateToken()
      const at = now()
      const expiresAt = new Date(at.getTime() + SESSION_TTL_MS).toISOString()
      await store.purgeSessions(at.toISOString())
      await store.insertSession({ sessionHash: hashToken(sessionId), userId: u.userId, createdAt: at.toISOString(), expiresAt })
      log.info({ userId: u.userId, username: u.username }, 'session started')
      return { sessionId, session: { ...me(principal(u)), expiresAt } }
    },

    async authenticateSession(sessionId) {
      const u = await store.bySession(hashToken(sessionId), now().toISOString())
      return u ? principal(u) : null
    },

    async logout(sessionId) {
      await store.deleteSession(hashToken(sessionId))
    },

    me,

    async createUser(by, body) {
      assertAdmin(by, 'create users')
      if (body.role === 'county' && !plan().counties.some((c) => c.code === body.countyCode)) {
        throw new AppError('CABINET_COUNTY_UNKNOWN', `countyCode ${body.countyCode} is not a county of plan ${plan().id}`, 400, { countyCode: body.countyCode }, `“${body.countyCode}”`)
      }
      const token = generateToken()
      const userId = uuidv7()
      const inserted = await store.insert({
        userId,
        username: body.username,
        role: body.role,
        // Scope fields only where the role uses them, so a stray one cannot widen or narrow anything.
        countyCode: body.role === 'county' ? (body.countyCode ?? null) : null,
        operator: body.role === 'operator' ? (body.operator ?? null) : null,
        tokenHash: hashToken(token),
        passwordHash: body.password ? await hashPassword(body.password) : null,
        isBuiltin: false,
        createdAt: now().toISOString(),
      })
      if (!inserted) throw userExists(body.username)
      log.info({ userId, username: body.username, role: body.role, by: by.username }, 'user created')
      return { userId, token, username: body.username, role: body.role }
    },
  }
}
