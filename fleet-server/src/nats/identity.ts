// Cabinet identity on the NATS cluster (#14): an operator signs a system account
// and the fleet account; the fleet account signs one bearer user JWT per cabinet,
// which is the cabinet's MQTT password. No server config names a cabinet: the
// servers trust the operator, so provisioning needs no reload (SIGHUP crashed
// nats-server 2.9.10), and revocation is an account update (see admin.ts).
//
// Packages: @nats-io/jwt + @nats-io/nkeys (+ @nats-io/transport-node in admin.ts),
// the maintained nats.js v3 family; the JWTs they sign (version 2 claims) are the
// ones nats-server 2.9.10 (Debian) verifies, so the older nats-jwt/nkeys.js/nats
// of the probe are not needed.
//
// Invariants:
// - Only seeds are kept (the identity file); every JWT is derived from them.
// - A cabinet's user key is derived from the fleet account seed and its id
//   (HMAC), so "revoke cabinet X" needs no stored key and the account's
//   revocation list holds at most one entry per cabinet. Revocation is by time:
//   every JWT of that key issued at or before `at` is refused; one issued in a
//   later second is valid again (rotation).
// - NATS does not bind the MQTT client id to the user (JWT mode): confinement
//   is the user's subject permissions alone, which is why they are exact.
import { createHmac, randomBytes } from 'node:crypto'
import { encodeAccount, encodeOperator, encodeUser, type Account, type User } from '@nats-io/jwt'
import type { KeyPair } from '@nats-io/nkeys'
import { CabinetId, topics } from '../../../shared/src/index.js'
import { NatsIdentityError } from './errors.js'
import type { NatsIdentityFile } from './identity-file.js'
import { nodeKeyPair, nodeKeyPairFromSeed } from './keys.js'
import { encodeSeed, NKEY_PREFIX } from './nkey-encoding.js'

export { NatsIdentityFile, parseNatsIdentityFile } from './identity-file.js'

const td = new TextDecoder()

/** Fresh random seeds: done once per deployment; losing the file means re-issuing every cabinet. */
export function createNatsIdentityFile(names: { operator?: string; systemAccount?: string; fleetAccount?: string } = {}): NatsIdentityFile {
  const seed = (role: number) => td.decode(encodeSeed(role, randomBytes(32)))
  return {
    v: 1,
    operator: { name: names.operator ?? 'fupin', seed: seed(NKEY_PREFIX.operator) },
    systemAccount: { name: names.systemAccount ?? 'SYS', seed: seed(NKEY_PREFIX.account) },
    fleetAccount: { name: names.fleetAccount ?? 'FLEET', seed: seed(NKEY_PREFIX.account) },
  }
}

/** MQTT topic filter → the NATS subject NATS's MQTT bridge uses for it (levels → tokens, + → *, # → >). */
export function natsSubjectOf(mqttFilter: string): string {
  return mqttFilter
    .split('/')
    .map((level) => (level === '+' ? '*' : level === '#' ? '>' : level))
    .join('.')
}

/**
 * nats-server 2.9.10's MQTT bridge refuses '.' and ' ' in topics
 * (errMQTTUnsupportedCharacters), and a '.' would split the cabinet's subject
 * token; CabinetId allows '.', so such a cabinet cannot use the cluster.
 */
export function assertNatsCabinetId(cabinetId: string): void {
  if (!CabinetId.safeParse(cabinetId).success || cabinetId.includes('.')) {
    throw new NatsIdentityError('NATS_CABINET_ID_UNSUPPORTED', `cabinet id ${JSON.stringify(cabinetId)} cannot be carried by NATS MQTT: expected 1-64 of A-Z a-z 0-9 _ - (no '.')`, { cabinetId })
  }
}

/**
 * The cabinet's permissions: publish its own uplink kinds, read its own downlink.
 * - `up/+`, not each kind: a new uplink kind needs no re-issue of every cabinet.
 * - MQTT's `down/#` also matches the `down` level itself, so NATS subscribes to both
 *   `…down` and `…down.>`: both must be allowed or the SUBACK fails (probe).
 * - `$MQTT.sub.>`: QoS 1 subscriptions are JetStream consumers delivering to
 *   `$MQTT.sub.<nuid>`, subscribed as the user. The bridge refuses MQTT filters
 *   under `$MQTT/sub/`, and MQTT-only connections keep a leaked JWT off plain NATS.
 */
export function cabinetPermissions(cabinetId: string): Pick<User, 'pub' | 'sub'> {
  assertNatsCabinetId(cabinetId)
  const down = natsSubjectOf(topics.downPrefix(cabinetId) + '#')
  return {
    pub: { allow: [natsSubjectOf(topics.upPrefix(cabinetId) + '+')], deny: [] },
    sub: { allow: [down.slice(0, -'.>'.length), down, '$MQTT.sub.>'], deny: [] },
  }
}

export interface CabinetUser {
  cabinetId: string
  /** The bearer user JWT: the cabinet's MQTT password (any username). */
  jwt: string
  userPublicKey: string
  /** JWT `iat`, unix seconds: a revocation at or after it refuses this JWT. */
  issuedAtS: number
}

export interface ServiceUser {
  jwt: string
  /** Signs the server's nonce (not bearer): give both to jwtAuthenticator(jwt, seed). */
  seed: Uint8Array
  userPublicKey: string
}

export interface NatsServerJwts {
  operator: string
  systemAccountPublicKey: string
  systemAccount: string
  fleetAccountPublicKey: string
  /** The fleet account with no revocations: for resolver_preload only (see fleetAccountJwt). */
  fleetAccount: string
}

export interface NatsIdentity {
  readonly operatorPublicKey: string
  readonly systemAccountPublicKey: string
  readonly fleetAccountPublicKey: string
  /** What a nats-server config needs (operator, system_account, resolver_preload). */
  serverJwts(): Promise<NatsServerJwts>
  /** The fleet account JWT carrying these revocations (user public key → unix seconds). */
  fleetAccountJwt(revocations?: Record<string, number>): Promise<string>
  /** The user public key every JWT of this cabinet carries. */
  cabinetUserPublicKey(cabinetId: string): string
  /** A bearer, MQTT-only user JWT confined to the cabinet's own topics. */
  issueCabinetUser(cabinetId: string, opts?: { expiresInS?: number }): Promise<CabinetUser>
  /** A fleet-account user for a fleet-server replica (every subject of the account, plain NATS). */
  issueServiceUser(name: string): Promise<ServiceUser>
  /** A system-account user: account updates and lookups (admin.ts). */
  issueSystemUser(name: string): Promise<ServiceUser>
}

// The accounts' NATS and account limits: -1 is unlimited. The server reads a
// missing limit as 0 (e.g. zero connections), so each one is stated.
const UNLIMITED = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 } as const
// JetStream on for the fleet account (MQTT's own streams live in it, and the
// ingest work queue will): unlimited, bounded by each server's store limits.
const FLEET_JETSTREAM = { mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 } as const
// Derivation label of the cabinets' user keys; changing it re-keys every cabinet.
const CABINET_KEY_LABEL = 'fupin-fleet/nats/cabinet-user/v1\0'

/** Builds the identity from its file; JWTs are signed on demand (microseconds each). */
export function createNatsIdentity(file: NatsIdentityFile): NatsIdentity {
  const operator = nodeKeyPairFromSeed(file.operator.seed)
  const system = nodeKeyPairFromSeed(file.systemAccount.seed)
  const fleet = nodeKeyPairFromSeed(file.fleetAccount.seed)
  const fleetPub = fleet.getPublicKey()
  const systemPub = system.getPublicKey()
  const cabinetKeys = new Map<string, KeyPair>()

  const cabinetKey = (cabinetId: string): KeyPair => {
    assertNatsCabinetId(cabinetId)
    let kp = cabinetKeys.get(cabinetId)
    if (!kp) {
      const raw = createHmac('sha256', file.fleetAccount.seed).update(CABINET_KEY_LABEL + cabinetId).digest()
      kp = nodeKeyPair(NKEY_PREFIX.user, raw)
      cabinetKeys.set(cabinetId, kp)
    }
    return kp
  }

  const fleetAccountJwt = (revocations: Record<string, number> = {}) => {
    const claims: Partial<Account> = { limits: { ...UNLIMITED, ...FLEET_JETSTREAM } }
    if (Object.keys(revocations).length > 0) claims.revocations = { ...revocations }
    return encodeAccount(file.fleetAccount.name, fleet, claims, { signer: operator })
  }

  const serviceUser = async (account: KeyPair, name: string): Promise<ServiceUser> => {
    const user = nodeKeyPair(NKEY_PREFIX.user, randomBytes(32))
    const jwt = await encodeUser(name, user, account, { allowed_connection_types: ['STANDARD'] })
    return { jwt, seed: user.getSeed(), userPublicKey: user.getPublicKey() }
  }

  return {
    operatorPublicKey: operator.getPublicKey(),
    systemAccountPublicKey: systemPub,
    fleetAccountPublicKey: fleetPub,
    async serverJwts() {
      return {
        operator: await encodeOperator(file.operator.name, operator, { system_account: systemPub }),
        systemAccountPublicKey: systemPub,
        systemAccount: await encodeAccount(file.systemAccount.name, system, { limits: { ...UNLIMITED } }, { signer: operator }),
        fleetAccountPublicKey: fleetPub,
        fleetAccount: await fleetAccountJwt(),
      }
    },
    fleetAccountJwt,
    cabinetUserPublicKey: (cabinetId) => cabinetKey(cabinetId).getPublicKey(),
    async issueCabinetUser(cabinetId, opts = {}) {
      const user = cabinetKey(cabinetId)
      const exp = opts.expiresInS === undefined ? undefined : Math.floor(Date.now() / 1000) + opts.expiresInS
      const jwt = await encodeUser(
        `cabinet:${cabinetId}`,
        user,
        fleet,
        {
          ...cabinetPermissions(cabinetId),
          // Bearer: MQTT has no nonce to sign, the JWT alone is the password.
          bearer_token: true,
          allowed_connection_types: ['MQTT'],
        },
        exp === undefined ? {} : { exp },
      )
      const issuedAtS = (JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as { iat: number }).iat
      return { cabinetId, jwt, userPublicKey: user.getPublicKey(), issuedAtS }
    },
    issueServiceUser: (name) => serviceUser(fleet, name),
    issueSystemUser: (name) => serviceUser(system, name),
  }
}
