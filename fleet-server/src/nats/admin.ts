// Account administration over the NATS system account (#14): revoking cabinet
// users by pushing a new fleet account JWT ($SYS.REQ.CLAIMS.UPDATE) to the
// cluster's full resolvers, which store it, apply it at once (a revoked user's
// live connection is closed) and sync it to nodes that were away. No config
// reload: SIGHUP crashed nats-server 2.9.10.
//
// The cluster's copy of the fleet account JWT is the revocation list's truth:
// a revocation reads it, merges, signs and pushes, then reads it back and
// repeats when another writer's push replaced ours (read-merge-write race).
// Back up the resolver dirs (or re-revoke from the cabinets' statuses) with it.
import { decode, type Account } from '@nats-io/jwt'
import { connect, jwtAuthenticator, type NatsConnection } from '@nats-io/transport-node'
import type { Logger } from 'pino'
import { NatsIdentityError } from './errors.js'
import type { NatsIdentity } from './identity.js'

export type RevocationTarget = { cabinetId: string } | { userPublicKey: string }

export interface Revocation {
  userPublicKey: string
  /** Unix seconds: JWTs of this key issued at or before it are refused. */
  revokedAtS: number
  /** Pushes it took (more than 1 when another writer raced us). */
  attempts: number
}

export interface NatsAccountAdmin {
  /** Revokes every JWT of the target issued at or before `at` (default now), cluster-wide. */
  revokeCabinetUser(target: RevocationTarget, at?: Date): Promise<Revocation>
  /** The fleet account's revocations as the cluster holds them (user public key → unix seconds). */
  fleetRevocations(): Promise<Record<string, number>>
  close(): Promise<void>
}

export interface NatsAccountAdminOptions {
  identity: NatsIdentity
  /** nats://host:port of one or more cluster nodes (the client fails over). */
  servers: string[]
  /** Per request; a lookup answers in ~1 ms, an update after the resolver's fsync. */
  requestTimeoutMs?: number
  log?: Logger
}

const DEFAULT_REQUEST_TIMEOUT_MS = 5_000 // a loaded 2-core box; an update takes milliseconds
const MAX_PUSH_ATTEMPTS = 5 // each lost race costs one round; five writers at once are not expected

/** Connects as a system-account user; close() when done. */
export async function startNatsAccountAdmin(opts: NatsAccountAdminOptions): Promise<NatsAccountAdmin> {
  const { identity } = opts
  const timeout = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
  const log = opts.log?.child({ component: 'nats-admin' })
  const user = await identity.issueSystemUser('fleet-admin')
  const nc: NatsConnection = await connect({ servers: opts.servers, authenticator: jwtAuthenticator(user.jwt, user.seed), name: 'fleet-admin' })
  const account = identity.fleetAccountPublicKey

  const lookup = async (): Promise<Record<string, number>> => {
    let text: string
    try {
      text = (await nc.request(`$SYS.REQ.ACCOUNT.${account}.CLAIMS.LOOKUP`, '', { timeout })).string()
    } catch (err) {
      throw new NatsIdentityError('NATS_ACCOUNT_LOOKUP_FAILED', `no answer to the fleet account lookup: ${(err as Error).message}`, { account })
    }
    let claims: ReturnType<typeof decode<Account>>
    try {
      claims = decode<Account>(text) // verifies the signature
    } catch (err) {
      throw new NatsIdentityError('NATS_ACCOUNT_LOOKUP_FAILED', `the fleet account lookup returned no valid JWT: ${(err as Error).message}`, { account })
    }
    if (claims.sub !== account || claims.iss !== identity.operatorPublicKey) {
      throw new NatsIdentityError('NATS_ACCOUNT_LOOKUP_FAILED', `the fleet account JWT is not ours: sub ${claims.sub}, iss ${claims.iss}`, { account })
    }
    return { ...(claims.nats.revocations ?? {}) }
  }

  const push = async (jwt: string): Promise<void> => {
    let reply: { data?: { code?: number }; error?: { code?: number; description?: string } }
    try {
      reply = (await nc.request('$SYS.REQ.CLAIMS.UPDATE', jwt, { timeout })).json()
    } catch (err) {
      throw new NatsIdentityError('NATS_CLAIMS_UPDATE_FAILED', `no answer to the fleet account update: ${(err as Error).message}`, { account })
    }
    if (reply.error || reply.data?.code !== 200) {
      throw new NatsIdentityError('NATS_CLAIMS_UPDATE_FAILED', `the cluster refused the fleet account update: ${reply.error?.description ?? JSON.stringify(reply)}`, { account })
    }
  }

  return {
    async revokeCabinetUser(target, at = new Date()) {
      const userPublicKey = 'cabinetId' in target ? identity.cabinetUserPublicKey(target.cabinetId) : target.userPublicKey
      const revokedAtS = Math.floor(at.getTime() / 1000)
      for (let attempt = 1; attempt <= MAX_PUSH_ATTEMPTS; attempt++) {
        const revocations = await lookup()
        // Never move a revocation back in time (a later one covers more JWTs).
        if ((revocations[userPublicKey] ?? -1) < revokedAtS) revocations[userPublicKey] = revokedAtS
        await push(await identity.fleetAccountJwt(revocations))
        if (((await lookup())[userPublicKey] ?? -1) >= revokedAtS) {
          log?.info({ userPublicKey, revokedAtS, attempt }, 'cabinet user revoked')
          return { userPublicKey, revokedAtS, attempts: attempt }
        }
        log?.warn({ userPublicKey, attempt }, 'fleet account update raced another; merging again')
      }
      throw new NatsIdentityError('NATS_CLAIMS_UPDATE_FAILED', `revocation of ${userPublicKey} lost ${MAX_PUSH_ATTEMPTS} races with other account updates`, { userPublicKey })
    },
    fleetRevocations: lookup,
    async close() {
      await nc.close()
    },
  }
}
