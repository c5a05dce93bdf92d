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
//
// It also lists the cabinets holding MQTT sessions anywhere in the cluster
// (each node's CONNZ for the fleet account, page by page): a replica that
// starts late, or reconnects, missed their online presence (#14).
import { decode, type Account } from '@nats-io/jwt'
import { connect, jwtAuthenticator, type NatsConnection } from '@nats-io/transport-node'
import type { Logger } from 'pino'
import { NatsIdentityError } from './errors.js'
import { assertNatsCabinetId, type NatsIdentity } from './identity.js'

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
  /**
   * The cabinets holding an MQTT session on any node now, handed to `page` a
   * page of ids at a time (one node's CONNZ page each; a cabinet moving
   * between nodes meanwhile may be in two pages, or in none).
   */
  mqttSessions(page: (cabinetIds: readonly string[]) => void): Promise<SessionListing>
  close(): Promise<void>
}

export interface SessionListing {
  /** Nodes whose connections were listed. */
  readonly nodes: number
  /**
   * Every node routed to the cluster answered: a cabinet not listed (and not
   * connecting meanwhile) holds no session. False when one may have been missed.
   */
  readonly complete: boolean
}

export interface NatsAccountAdminOptions {
  identity: NatsIdentity
  /** nats://host:port of one or more cluster nodes (the client fails over). */
  servers: string[]
  /** Per request; a lookup answers in ~1 ms, an update after the resolver's fsync. */
  requestTimeoutMs?: number
  /** Connections per CONNZ page (default CONNZ_PAGE; tests page through a few cabinets). */
  connzPage?: number
  log?: Logger
}

const DEFAULT_REQUEST_TIMEOUT_MS = 5_000 // a loaded 2-core box; an update takes milliseconds
const MAX_PUSH_ATTEMPTS = 5 // each lost race costs one round; five writers at once are not expected
/**
 * Connections per CONNZ page. `auth` is needed for the user JWT's name (the
 * signed cabinet id; the MQTT client id and username are the cabinet's own
 * choice) and brings the JWT along: ~1.3 kB a connection, so ~650 kB a page,
 * under the 1 MB default max_payload (2.9.10 sent 1,024 a page whole too, but
 * nothing is gained: 2,000 sessions listed in ~60 ms of CPU either way).
 * 19,000 cabinets: ~40 requests.
 */
const CONNZ_PAGE = 512
/** The first CONNZ round ends this long after the last node's answer (a free node answers in ~1 ms). */
const CONNZ_STALL_MS = 500
/** identity.ts names each cabinet's user JWT `cabinet:<id>`. */
const CABINET_USER_NAME = /^cabinet:(.+)$/

/** The part of a CONNZ answer read here (nats-server monitor.go, Connz). */
interface ConnzAnswer {
  server?: { id?: string; name?: string }
  data?: { total?: number; offset?: number; num_connections?: number; connections?: Array<{ type?: string; account?: string; name_tag?: string }> }
  error?: { code?: number; description?: string }
}

/** A node's page: the cabinets on it, and the offset of its next page (null when this was its last). */
interface ConnzPage {
  serverId: string
  serverName: string
  cabinetIds: string[]
  next: number | null
}

/** Connects as a system-account user; close() when done. */
export async function startNatsAccountAdmin(opts: NatsAccountAdminOptions): Promise<NatsAccountAdmin> {
  const { identity } = opts
  const timeout = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
  const log = opts.log?.child({ component: 'nats-admin' })
  const user = await identity.issueSystemUser('fleet-admin')
  const nc: NatsConnection = await connect({
    servers: opts.servers,
    authenticator: jwtAuthenticator(user.jwt, user.seed),
    name: 'fleet-admin',
    // Forever, as the bus's own connection: a replica outlives any node, and
    // lists sessions after each of its reconnects (mqttSessions).
    maxReconnectAttempts: -1,
  })
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

  /** One node's CONNZ answer as a page of cabinet ids; the JSON is dropped at once. */
  const connzPage = (text: string): ConnzPage => {
    let answer: ConnzAnswer
    try {
      answer = JSON.parse(text) as ConnzAnswer
    } catch {
      throw new NatsIdentityError('NATS_CONNZ_FAILED', 'a connection listing was not JSON', { account })
    }
    const serverId = answer.server?.id
    const data = answer.data
    if (answer.error || !serverId || !data) {
      throw new NatsIdentityError('NATS_CONNZ_FAILED', `a node refused the connection listing: ${answer.error?.description ?? 'no data'}`, { account, server: answer.server?.name })
    }
    const cabinetIds: string[] = []
    for (const c of data.connections ?? []) {
      const m = c.type === 'mqtt' && c.account === account ? CABINET_USER_NAME.exec(c.name_tag ?? '') : null
      if (!m) continue
      try {
        assertNatsCabinetId(m[1]!)
        cabinetIds.push(m[1]!)
      } catch {
        // Not a JWT of ours (a JWT's name is ours only when identity.ts made it).
      }
    }
    const end = (data.offset ?? 0) + (data.num_connections ?? 0)
    return { serverId, serverName: answer.server?.name ?? serverId, cabinetIds, next: (data.num_connections ?? 0) > 0 && end < (data.total ?? 0) ? end : null }
  }

  const pageSize = opts.connzPage ?? CONNZ_PAGE
  const connz = (offset: number) => JSON.stringify({ acc: account, auth: true, limit: pageSize, offset })

  /** The names of the cluster's nodes as `serverId` sees them: itself and the nodes it has routes to. */
  const clusterNodes = async (serverId: string): Promise<Set<string>> => {
    let answer: { server?: { name?: string }; statsz?: { routes?: Array<{ name?: string }> } }
    try {
      answer = (await nc.request(`$SYS.REQ.SERVER.${serverId}.STATSZ`, '', { timeout })).json()
    } catch (err) {
      throw new NatsIdentityError('NATS_CONNZ_FAILED', `no answer to a node's stats: ${(err as Error).message}`, { account, server: serverId })
    }
    return new Set([answer.server?.name ?? '', ...(answer.statsz?.routes ?? []).map((r) => r.name ?? '')].filter((n) => n !== ''))
  }

  async function mqttSessions(onPage: (cabinetIds: readonly string[]) => void): Promise<SessionListing> {
    // Every node answers the account's CONNZ: its first page. Its further
    // pages are asked of that node by its id.
    const first: ConnzPage[] = []
    try {
      // A round of answers gathered while this connection is away would be
      // empty: wait until it is up (a PONG), within the request timeout.
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        nc.flush(),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`not connected within ${timeout} ms`)), timeout))),
      ]).finally(() => clearTimeout(timer))
      const answers = await nc.requestMany(`$SYS.REQ.ACCOUNT.${account}.CONNZ`, connz(0), { strategy: 'stall', stall: CONNZ_STALL_MS, maxWait: timeout })
      for await (const m of answers) {
        // A node counts once, its cabinets listed once, whatever reaches this
        // inbox twice (a CI run counted 3 answers from 2 running nodes).
        const page = connzPage(m.string())
        if (first.some((p) => p.serverId === page.serverId)) log?.warn({ server: page.serverName }, 'a node answered the connection listing twice; counted once')
        else first.push(page)
      }
    } catch (err) {
      if (err instanceof NatsIdentityError) throw err
      throw new NatsIdentityError('NATS_CONNZ_FAILED', `no answer to the connection listing: ${(err as Error).message}`, { account })
    }
    // The node serving the replica's own fleet connection always answers: none
    // did (this connection was away meanwhile) is a failed listing, not an empty one.
    if (first.length === 0) throw new NatsIdentityError('NATS_CONNZ_FAILED', 'no node answered the connection listing', { account })
    // A node slower than the round's stall is missing, not empty: compare
    // with the nodes the answering ones route to (a node down has no
    // sessions). All of them: one whose route to a node is down, or not yet
    // up, would not name it, and its CONNZ request does not reach it either.
    const answered = new Set(first.map((p) => p.serverName))
    const routed = await Promise.allSettled(first.map((p) => clusterNodes(p.serverId)))
    if (routed.every((r) => r.status === 'rejected')) throw (routed[0] as PromiseRejectedResult).reason
    const expected = new Set(routed.flatMap((r) => (r.status === 'fulfilled' ? [...r.value] : [])))
    // A node that stopped answering meanwhile may route to one nobody else does.
    const complete = routed.every((r) => r.status === 'fulfilled') && [...expected].every((n) => answered.has(n))
    for (const page of first) {
      onPage(page.cabinetIds)
      for (let offset = page.next; offset !== null; ) {
        let text: string
        try {
          text = (await nc.request(`$SYS.REQ.SERVER.${page.serverId}.CONNZ`, connz(offset), { timeout })).string()
        } catch (err) {
          throw new NatsIdentityError('NATS_CONNZ_FAILED', `no answer to a connection listing page: ${(err as Error).message}`, { account, server: page.serverId, offset })
        }
        const next = connzPage(text)
        onPage(next.cabinetIds)
        offset = next.next
      }
    }
    return { nodes: first.length, complete }
  }


  return {
    mqttSessions,
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
