// Bearer-token authentication and user management.
import type { Logger } from 'pino'
import { AppError, uuidv7, type CreateUserBody, type CreateUserReply, type Plan } from '../../../shared/src/index.js'
import { userExists } from './errors.js'
import { assertAdmin, type Principal } from './policy.js'
import type { UserStore } from './store.js'
import { generateToken, hashPassword, hashToken } from './tokens.js'

export interface AccessService {
  /** The principal a bearer token belongs to, or null. */
  authenticate(token: string): Promise<Principal | null>
  createUser(by: Principal, body: CreateUserBody): Promise<CreateUserReply>
}

export interface AccessServiceDeps {
  readonly store: UserStore
  readonly plan: () => Plan
  readonly now: () => Date
  readonly log: Logger
}

export function createAccessService({ store, plan, now, log }: AccessServiceDeps): AccessService {
  return {
    async authenticate(token) {
      const u = await store.byTokenHash(hashToken(token))
      if (!u) return null
      return { userId: u.userId, username: u.username, role: u.role, countyCode: u.countyCode, operator: u.operator }
    },

    async createUser(by, body) {
      assertAdmin(by, 'create users')
      if (body.role === 'county' && !plan().counties.some((c) => c.code === body.countyCode)) {
        throw new AppError('CABINET_COUNTY_UNKNOWN', `countyCode ${body.countyCode} is not a county of plan ${plan().id}`, 400, { countyCode: body.countyCode })
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
