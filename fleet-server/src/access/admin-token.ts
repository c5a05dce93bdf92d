// The built-in city administrator. Its token comes from FLEET_ADMIN_TOKEN, or
// is generated once, kept in ${dataDir}/admin-token (mode 0600) so the
// operator can find it again, and reported once so main can print it.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { uuidv7 } from '../../../shared/src/index.js'
import type { UserStore } from './store.js'
import { generateToken, hashToken } from './tokens.js'

export const ADMIN_TOKEN_FILE = 'admin-token'
export const BUILTIN_ADMIN_USERNAME = 'admin'

export interface AdminToken {
  readonly token: string
  /** Set only on the start that generated the token: main prints it once. */
  readonly issued: { readonly token: string; readonly file: string } | null
}

export async function ensureAdminToken(store: UserStore, dataDir: string, configured: string | null, now: () => Date, log: Logger): Promise<AdminToken> {
  const existing = await store.builtinAdmin()
  const save = async (token: string): Promise<void> => {
    const tokenHash = hashToken(token)
    if (existing) {
      if (existing.tokenHash !== tokenHash) await store.setTokenHash(existing.userId, tokenHash)
      return
    }
    const inserted = await store.insert({
      userId: uuidv7(),
      username: BUILTIN_ADMIN_USERNAME,
      role: 'admin',
      countyCode: null,
      operator: null,
      tokenHash,
      passwordHash: null,
      isBuiltin: true,
      createdAt: now().toISOString(),
    })
    if (inserted) return
    // Another server on the same database created it first (replicas starting
    // together): take it over rather than fail the start.
    const winner = await store.builtinAdmin()
    if (!winner) throw new Error(`cannot create the built-in admin: username ${BUILTIN_ADMIN_USERNAME} is taken`)
    if (winner.tokenHash !== tokenHash) await store.setTokenHash(winner.userId, tokenHash)
  }

  if (configured !== null) {
    if (configured.length < 16) log.warn({ length: configured.length }, 'FLEET_ADMIN_TOKEN is short; use at least 16 random characters')
    await save(configured)
    return { token: configured, issued: null }
  }

  const file = join(dataDir, ADMIN_TOKEN_FILE)
  const stored = existsSync(file) ? readFileSync(file, 'utf8').trim() : null
  if (existing && stored && hashToken(stored) === existing.tokenHash) return { token: stored, issued: null }
  if (existing) log.warn({ file }, 'admin token file missing or not matching; issuing a new admin token')

  const token = generateToken()
  const tmp = `${file}.tmp`
  writeFileSync(tmp, `${token}\n`, { mode: 0o600 })
  renameSync(tmp, file)
  await save(token)
  log.info({ file }, 'admin token issued')
  return { token, issued: { token, file } }
}
