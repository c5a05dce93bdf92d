// Deployment by bootstrap code (issue 16): the operator of a cabinet (or its
// county, or an admin) asks for a one-time code; the cabinet's board trades it,
// once and before it expires, for the cabinet's MQTT credentials and registers
// the Ed25519 key its agent generated. The first contact after that moves a
// site_assigned cabinet to installed. Refusals never name the cabinet.
import { createHash, createPublicKey, randomInt } from 'node:crypto'
import type { Logger } from 'pino'
import {
  AppError,
  BOOTSTRAP_TTL_DEFAULT_S,
  type BootstrapCodeBody,
  type BootstrapCodeReply,
  type EnrollBody,
  type EnrollReply,
} from '../../../shared/src/index.js'
import { assertMayChangeCabinet, type LoginThrottle, type Principal } from '../access/index.js'
import type { FleetDb } from '../db/database.js'
import { CREDENTIALS_CHANNEL, generateCabinetSecret, hashCabinetSecret } from './credentials.js'
import type { CodeRefusal, EnrollmentStore } from './enrollment-store.js'
import type { CabinetLogins } from './logins.js'
import type { CabinetService } from './service.js'
import type { CabinetStore } from './store.js'

/** Crockford base32: no I, L, O, U, so what an installer reads off a screen types back unambiguously. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
const CODE_CHARS = 12 // 60 random bits: out of reach of guessing behind the failure throttle

/** The throttle's username for enrollment failures (no user can be named so: usernames are printable). */
export const ENROLL_THROTTLE_KEY = '\u0001bootstrap-code'

/** The by of the transition a cabinet's first contact records. */
export const SYSTEM_ACTOR = 'system'

export function generateBootstrapCode(): string {
  let s = ''
  for (let i = 0; i < CODE_CHARS; i++) s += ALPHABET[randomInt(ALPHABET.length)]
  return `${s.slice(0, 4)}-${s.slice(4, 8)}-${s.slice(8)}`
}

/** What was typed, as stored: upper case, separators dropped, look-alikes folded (O→0, I/L→1). */
export function normalizeBootstrapCode(code: string): string {
  return code.toUpperCase().replace(/[^0-9A-Z]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1')
}

const hashCode = (code: string) => createHash('sha256').update(normalizeBootstrapCode(code)).digest('hex')

export interface Enrollment {
  /** The code and its expiry; the route adds the QR picture. */
  issueCode(by: Principal, cabinetId: string, body: BootstrapCodeBody): Promise<Omit<BootstrapCodeReply, 'qrSvg'>>
  /** Unauthenticated: `address` is the caller's, for the failure throttle. */
  enroll(body: EnrollBody, address: string): Promise<EnrollReply>
  /** Any sign of life from a cabinet (connection, presence, heartbeat): cheap once the cabinet is past site_assigned. */
  contact(cabinetId: string): void
  /** Settles pending first-contact work and stops following notices. */
  close(): Promise<void>
}

export interface EnrollmentDeps {
  readonly store: EnrollmentStore
  readonly cabinets: CabinetStore
  readonly service: CabinetService
  /** Its credential notices (every status change and enrollment, on any server) say when to look again. */
  readonly database: Pick<FleetDb, 'transaction' | 'notify' | 'listen'>
  readonly logins: CabinetLogins
  readonly throttle: LoginThrottle
  /** Broker URLs as cabinets dial them (told at enrollment); empty when unknown. */
  readonly servers: () => readonly string[]
  readonly now: () => Date
  readonly log: Logger
}

const refused: Record<CodeRefusal, () => AppError> = {
  unknown: () => new AppError('ENROLL_CODE_UNKNOWN', 'no such bootstrap code', 404),
  used: () => new AppError('ENROLL_CODE_USED', 'this bootstrap code was already used; ask the operator for a new one', 409),
  expired: () => new AppError('ENROLL_CODE_EXPIRED', 'this bootstrap code has expired; ask the operator for a new one', 410),
}

const cabinetRetired = (cabinetId: string) => new AppError('ENROLL_CABINET_RETIRED', `cabinet ${cabinetId} is retired`, 409, { cabinetId }, `“${cabinetId}”`)

export function createEnrollment(deps: EnrollmentDeps): Enrollment {
  const { store, cabinets, database, log } = deps
  // Cabinets looked at since their last status change or enrollment: a
  // contact from them is a set lookup (heartbeats pass here). Every status
  // change and enrollment, on any server, sends a credential notice, which
  // drops the cabinet from the set; an empty notice (notices may have been
  // missed) drops all. A look that raced a notice is not remembered (epoch).
  const checked = new Set<string>()
  const inFlight = new Map<string, Promise<void>>()
  let epoch = 0
  const unlisten = database.listen(CREDENTIALS_CHANNEL, (cabinetId) => {
    epoch++
    if (cabinetId === '') checked.clear()
    else checked.delete(cabinetId)
  })

  /** True when nothing is to be done until the cabinet's next notice. */
  async function firstContact(cabinetId: string): Promise<boolean> {
    const row = await cabinets.get(cabinetId)
    if (!row || row.status !== 'site_assigned' || !(await store.awaitsFirstContact(cabinetId))) return true
    const at = deps.now().toISOString()
    const moved = await database.transaction(async (tx) => {
      if (!(await cabinets.update(tx, cabinetId, { status: 'installed' }, at, 'site_assigned'))) return false
      await cabinets.recordTransitions(tx, [
        { cabinetId, countyCode: row.countyCode, operator: row.operator, from: 'site_assigned', to: 'installed', at, by: SYSTEM_ACTOR, reason: 'first contact after enrollment' },
      ])
      await store.markFirstContact(tx, cabinetId, at)
      await database.notify(CREDENTIALS_CHANNEL, cabinetId, tx)
      return true
    })
    if (moved) log.info({ cabinetId }, 'enrolled cabinet made first contact; now installed')
    return true
  }

  return {
    async issueCode(by, cabinetId, body) {
      await deps.service.assertVisible(by, cabinetId)
      assertMayChangeCabinet(by)
      const row = await cabinets.get(cabinetId)
      if (!row || row.status === 'retired') throw cabinetRetired(cabinetId)
      const code = generateBootstrapCode()
      const issuedAt = deps.now()
      const expiresAt = new Date(issuedAt.getTime() + (body?.ttlS ?? BOOTSTRAP_TTL_DEFAULT_S) * 1000).toISOString()
      await database.transaction((tx) => store.issue(tx, { codeHash: hashCode(code), cabinetId, issuedBy: by.username, issuedAt: issuedAt.toISOString(), expiresAt }))
      log.info({ cabinetId, by: by.username, expiresAt }, 'bootstrap code issued')
      return { code, expiresAt }
    },

    async enroll(body, address) {
      const retryAfterS = await deps.throttle.retryAfterS(ENROLL_THROTTLE_KEY, address)
      if (retryAfterS > 0) {
        log.warn({ address, retryAfterS }, 'enrollment refused: too many failed codes')
        throw new AppError('ENROLL_THROTTLED', `too many failed bootstrap codes; try again in ${retryAfterS} s`, 429, { retryAfterS }, `请 ${retryAfterS} 秒后再试`)
      }
      const publicKey = ed25519Pem(body.publicKey)
      const at = deps.now().toISOString()
      const secret = generateCabinetSecret()
      const outcome = await database.transaction(async (tx) => {
        const claim = await store.claim(tx, hashCode(body.code), at)
        if ('refusal' in claim) return claim
        const status = await tx.selectFrom('cabinets').select('status').where('cabinet_id', '=', claim.cabinetId).executeTakeFirst()
        // Rolls the claim back too: the code was for a cabinet that can no longer be deployed.
        if (!status || status.status === 'retired') throw cabinetRetired(claim.cabinetId)
        await cabinets.setSecretHash(tx, claim.cabinetId, hashCabinetSecret(secret), at)
        await store.saveKey(tx, claim.cabinetId, publicKey, at)
        await database.notify(CREDENTIALS_CHANNEL, claim.cabinetId, tx)
        return claim
      })
      if ('refusal' in outcome) {
        await deps.throttle.failed(ENROLL_THROTTLE_KEY, address)
        log.warn({ address, refusal: outcome.refusal }, 'enrollment refused')
        throw refused[outcome.refusal]()
      }
      const { cabinetId } = outcome
      // The new secret replaced whatever the cabinet had (a replaced board's login ends here).
      deps.service.credentials.invalidate(cabinetId)
      epoch++
      checked.delete(cabinetId)
      const password = await deps.logins.rotate(cabinetId, secret)
      log.info({ cabinetId, address }, 'cabinet enrolled by bootstrap code')
      return { cabinetId, mqtt: { username: cabinetId, password }, servers: [...deps.servers()] }
    },

    contact(cabinetId) {
      if (checked.has(cabinetId) || inFlight.has(cabinetId)) return
      const startedAt = epoch
      const p = firstContact(cabinetId).then(
        (done) => {
          if (done && startedAt === epoch) checked.add(cabinetId)
        },
        (err: unknown) => log.warn({ err, cabinetId }, 'first-contact check failed'),
      ).finally(() => inFlight.delete(cabinetId))
      inFlight.set(cabinetId, p)
    },

    async close() {
      unlisten()
      await Promise.all(inFlight.values())
    },
  }
}

/** The key as SPKI PEM when it is an Ed25519 public key; ENROLL_KEY_INVALID otherwise. */
function ed25519Pem(pem: string): string {
  try {
    const key = createPublicKey(pem)
    if (key.asymmetricKeyType === 'ed25519') return key.export({ type: 'spki', format: 'pem' }).toString()
  } catch {
    // falls through to the refusal
  }
  throw new AppError('ENROLL_KEY_INVALID', 'publicKey: expected an Ed25519 public key in SPKI PEM', 400)
}
