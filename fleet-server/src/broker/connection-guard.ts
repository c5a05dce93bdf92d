// What an MQTT socket may cost us before it has logged in. Until its CONNACK
// succeeds a socket gets a small packet cap (a cabinet's CONNECT is a few
// hundred bytes) and aedes' short connect timeout; each remote address may
// hold a bounded number of such sockets, and an address that keeps failing
// (refused logins, timeouts, cut packets) is refused for the rest of a window.
// Every accepted socket, plain or TLS, goes through guardConnection().
//
// Invariants: the per-address map holds at most maxTrackedAddresses entries,
// whatever addresses the sockets claim; only failures count against an
// address, so a storm of successful logins is never refused for its rate.
import { isIPv6, type Socket } from 'node:net'
import type { Aedes, Client, ConnackPacket } from 'aedes'
import type { Logger } from 'pino'
import type { BusSink, TransportRefusal } from './bus.js'
import { guardPacketSize } from './packet-guard.js'

export interface ConnectionLimits {
  /** Packet cap until CONNACK 0; maxPacketBytes applies after it. */
  readonly preAuthMaxPacketBytes: number
  /** aedes' connectTimeout: a socket whose CONNECT has not arrived by then is closed. */
  readonly connectTimeoutMs: number
  /** Sockets one address may hold between accept and CONNACK 0. */
  readonly maxUnauthenticatedPerAddress: number
  /** Failed attempts one address may make per window before it is refused until the window ends. */
  readonly maxFailedAttemptsPerAddress: number
  readonly failedAttemptWindowMs: number
  /** Addresses remembered at once; the oldest idle ones are forgotten first. */
  readonly maxTrackedAddresses: number
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = Object.freeze({
  // 4 KiB: the agent's CONNECT (with its presence will) measures 182 bytes
  // for a 12-character cabinet id and 390 for the longest allowed id (64);
  // 10x headroom for other clients' extra fields. It also bounds a will.
  preAuthMaxPacketBytes: 4 * 1024,
  // 5 s: the agent sends CONNECT as soon as TCP connects, in one segment, so
  // even at a 1-2 s mobile round trip it arrives well within; a silent or
  // byte-a-second socket holds its slot half as long as at the old 10 s.
  connectTimeoutMs: 5_000,
  // 4,096: a reconnect storm from one address (tests, the simulator and the
  // bench connect thousands of cabinets from 127.0.0.1; many cabinets share a
  // carrier NAT address) must never meet it. It stops one address from taking
  // every slot under maxConnections with sockets that never log in.
  maxUnauthenticatedPerAddress: 4_096,
  // 100 per 10 s: an agent with a wrong password retries after 0.5 s at the
  // soonest, so five broken cabinets behind one address stay under it, and the
  // good ones there wait at most 10 s if it trips. An attacker gets at most
  // 10 failed attempts a second per address.
  maxFailedAttemptsPerAddress: 100,
  failedAttemptWindowMs: 10_000,
  // 10,000 addresses × ~100 bytes: about 1 MiB at most, however many
  // addresses (or IPv6 /64s) a flood comes from.
  maxTrackedAddresses: 10_000,
})

export type FailureReason = 'login_refused' | 'error_before_connect' | 'packet_too_large'

export interface ConnectionGuardStats {
  /** Sockets accepted and not yet past CONNACK 0. */
  readonly unauthenticated: number
  readonly trackedAddresses: number
  readonly refusedUnauthenticatedLimit: number
  readonly refusedFailedAttempts: number
  readonly failures: Readonly<Record<FailureReason, number>>
}

/** Per-address bookkeeping: live unauthenticated sockets and failures in the current window. */
interface AddressState {
  unauthenticated: number
  failures: number
  windowStartMs: number
}

interface SocketState {
  readonly address: AddressState
  isAuthenticated: boolean
  hasFailed: boolean
}

/** Everything guardConnection needs; one per broker, shared by all its listeners. */
export interface ConnectionGuardContext {
  readonly broker: Aedes
  readonly limits: ConnectionLimits
  /** The cap after CONNACK 0 (FLEET_MQTT_MAX_PACKET_BYTES). */
  readonly maxPacketBytes: number
  readonly log: Logger
  readonly sink: Pick<BusSink, 'transportRefused'>
  /** Every accepted socket, so close() can end those aedes does not know. */
  readonly sockets: Set<Socket>
  readonly now: () => number
  readonly addresses: Map<string, AddressState>
  readonly socketStates: WeakMap<Socket, SocketState>
  readonly counts: {
    unauthenticated: number
    refusedUnauthenticatedLimit: number
    refusedFailedAttempts: number
    failures: Record<FailureReason, number>
  }
  lastRefusalLogMs: number
}

export function createConnectionGuard(opts: {
  broker: Aedes
  limits: ConnectionLimits
  maxPacketBytes: number
  log: Logger
  sink: Pick<BusSink, 'transportRefused'>
  sockets: Set<Socket>
  now?: () => number
}): ConnectionGuardContext {
  const ctx: ConnectionGuardContext = {
    ...opts,
    now: opts.now ?? Date.now,
    addresses: new Map(),
    socketStates: new WeakMap(),
    counts: { unauthenticated: 0, refusedUnauthenticatedLimit: 0, refusedFailedAttempts: 0, failures: { login_refused: 0, error_before_connect: 0, packet_too_large: 0 } },
    lastRefusalLogMs: 0,
  }
  // aedes writes CONNACK 0 only after authenticate, the will and the session
  // are in place: from then on the socket is a cabinet's.
  opts.broker.on('connackSent', (packet: ConnackPacket, client: Client) => {
    const state = ctx.socketStates.get(client.conn as Socket)
    if (!state || state.isAuthenticated) return
    if (packet.returnCode === 0) {
      state.isAuthenticated = true
      state.address.unauthenticated--
      ctx.counts.unauthenticated--
    } else {
      fail(ctx, client.conn as Socket, 'login_refused')
    }
  })
  // Before CONNECT a client has no id: errors then are aedes' connect timeout,
  // a malformed packet or a reset, none of which a working cabinet produces.
  opts.broker.on('connectionError', (client: Client) => fail(ctx, client.conn as Socket, 'error_before_connect'))
  return ctx
}

export function connectionGuardStats(ctx: ConnectionGuardContext): ConnectionGuardStats {
  return {
    unauthenticated: ctx.counts.unauthenticated,
    trackedAddresses: ctx.addresses.size,
    refusedUnauthenticatedLimit: ctx.counts.refusedUnauthenticatedLimit,
    refusedFailedAttempts: ctx.counts.refusedFailedAttempts,
    failures: { ...ctx.counts.failures },
  }
}

/**
 * Admits an accepted socket (a net.Socket, or a tls.TLSSocket on
 * 'secureConnection') to the broker under the pre-authentication limits, or
 * destroys it at once when its address is over a limit.
 */
export function guardConnection(socket: Socket, ctx: ConnectionGuardContext): void {
  const now = ctx.now()
  const key = addressKey(socket.remoteAddress)
  const address = addressState(ctx, key, now)
  if (address.failures >= ctx.limits.maxFailedAttemptsPerAddress && now - address.windowStartMs < ctx.limits.failedAttemptWindowMs) {
    ctx.counts.refusedFailedAttempts++
    return refuse(ctx, socket, key, 'address_failed_attempts')
  }
  if (address.unauthenticated >= ctx.limits.maxUnauthenticatedPerAddress) {
    ctx.counts.refusedUnauthenticatedLimit++
    return refuse(ctx, socket, key, 'address_unauthenticated_limit')
  }

  const state: SocketState = { address, isAuthenticated: false, hasFailed: false }
  ctx.socketStates.set(socket, state)
  address.unauthenticated++
  ctx.counts.unauthenticated++
  ctx.sockets.add(socket)
  socket.once('close', () => {
    ctx.sockets.delete(socket)
    if (!state.isAuthenticated) {
      address.unauthenticated--
      ctx.counts.unauthenticated--
    }
  })
  ctx.broker.handle(socket)
  guardPacketSize(
    socket,
    () => (state.isAuthenticated ? ctx.maxPacketBytes : ctx.limits.preAuthMaxPacketBytes),
    (declared) => {
      const id = (socket as Socket & { client?: Client }).client?.id
      const maxBytes = state.isAuthenticated ? ctx.maxPacketBytes : ctx.limits.preAuthMaxPacketBytes
      ctx.log.warn({ cabinetId: id, declaredBytes: declared, maxBytes, isAuthenticated: state.isAuthenticated }, 'mqtt packet over the transport cap; connection dropped')
      ctx.sink.transportRefused('packet_too_large')
      if (!state.isAuthenticated) fail(ctx, socket, 'packet_too_large')
    },
  )
}

function fail(ctx: ConnectionGuardContext, socket: Socket, reason: FailureReason): void {
  const state = ctx.socketStates.get(socket)
  if (!state || state.isAuthenticated || state.hasFailed) return
  state.hasFailed = true
  ctx.counts.failures[reason]++
  const now = ctx.now()
  const a = state.address
  if (now - a.windowStartMs >= ctx.limits.failedAttemptWindowMs) {
    a.windowStartMs = now
    a.failures = 0
  }
  a.failures++
}

function refuse(ctx: ConnectionGuardContext, socket: Socket, key: string, reason: Extract<TransportRefusal, 'address_failed_attempts' | 'address_unauthenticated_limit'>): void {
  socket.destroy()
  ctx.sink.transportRefused(reason)
  // One line per 10 s at most: a flood must not become a log flood.
  const now = ctx.now()
  if (now - ctx.lastRefusalLogMs > 10_000) {
    ctx.lastRefusalLogMs = now
    ctx.log.warn({ address: key, reason, limits: ctx.limits }, 'mqtt connection refused: address over its limit')
  }
}

/**
 * The state for `key`, created when absent. When the map is full the oldest
 * entries with no live unauthenticated socket go first, then the oldest of all
 * (a forgotten address starts afresh; its sockets still hold their own state).
 */
function addressState(ctx: ConnectionGuardContext, key: string, now: number): AddressState {
  const found = ctx.addresses.get(key)
  if (found) return found
  if (ctx.addresses.size >= ctx.limits.maxTrackedAddresses) evict(ctx, now)
  const created: AddressState = { unauthenticated: 0, failures: 0, windowStartMs: now }
  ctx.addresses.set(key, created)
  return created
}

function evict(ctx: ConnectionGuardContext, now: number): void {
  // Up to a tenth of the map per eviction, so a flood of new addresses pays
  // for a scan once every maxTrackedAddresses/10 sockets, not on each one.
  const target = Math.max(1, Math.floor(ctx.limits.maxTrackedAddresses / 10))
  let removed = 0
  for (const [key, a] of ctx.addresses) {
    if (removed >= target) return
    const isIdle = a.unauthenticated <= 0 && (a.failures === 0 || now - a.windowStartMs >= ctx.limits.failedAttemptWindowMs)
    if (isIdle) {
      ctx.addresses.delete(key)
      removed++
    }
  }
  for (const key of ctx.addresses.keys()) {
    if (removed >= target) return
    ctx.addresses.delete(key)
    removed++
  }
}

/**
 * The unit an address limit applies to: an IPv4 address (IPv4-mapped IPv6
 * unwrapped), or an IPv6 /64, which one subscriber typically holds whole.
 */
export function addressKey(remote: string | undefined): string {
  if (!remote) return 'unknown'
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remote)
  if (mapped) return mapped[1]!
  if (!isIPv6(remote)) return remote
  const [head = '', tail = ''] = remote.split('::')
  const h = head ? head.split(':') : []
  const t = tail ? tail.split(':') : []
  const groups = remote.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`
}
