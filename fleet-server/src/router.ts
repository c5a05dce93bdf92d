// Where a cabinet's up-message goes (issue 13: domains as modules). Each
// domain module names the message kinds it handles; the router decodes a
// message once and hands every handler the same decoded value, so the
// composition root has no switch of its own and a heartbeat is not parsed by
// each of the three domains that read it. Sales are not decoded here: ingest
// owns their fast decode and its backpressure (`done`). Session events
// (connected, disconnected) reach the modules that name them, in module order.
import type { Logger } from 'pino'
import { decodeMessage, HeartbeatMsg } from '../../shared/src/index.js'
import type { BusSink, UpMessage } from './broker/index.js'
import type { BatchSettled } from './sales/ingest.js'

export interface UpHandlers {
  /**
   * Sale batches, raw, with the broker's backpressure callback (and, from a
   * work queue, its settled callback): exactly one module (ingest) takes them.
   */
  readonly sales?: (cabinetId: string, payload: Buffer, done: () => void, settled?: BatchSettled) => void
  /** A heartbeat, decoded and its cabinet id checked against the sender's. */
  readonly heartbeat?: (cabinetId: string, hb: HeartbeatMsg) => void
  /** Retained presence, on every replica: who is online (liveness decodes it). */
  readonly presence?: (cabinetId: string, payload: Buffer) => void
  /**
   * The same presence, handled by one replica of a NATS cluster only: what
   * must happen once per change (the catalog to a cabinet coming online).
   * Other buses hand each presence to both `presence` and this.
   */
  readonly presenceOnce?: (cabinetId: string, payload: Buffer) => void
  /** Cabinet events (their one reader decodes them). */
  readonly events?: (cabinetId: string, payload: Buffer) => void
  /** Telemetry readings, raw (their one reader decodes them); one replica of a NATS cluster gets each. */
  readonly telemetry?: (cabinetId: string, payload: Buffer) => void
  /** Stock reports, raw (their one reader decodes them); one replica of a NATS cluster gets each. */
  readonly stock?: (cabinetId: string, payload: Buffer) => void
  /** Any message at all: the cabinet is alive. */
  readonly any?: (cabinetId: string) => void
  /** Embedded broker only: the cabinet's session began (authenticated). */
  readonly connected?: (cabinetId: string) => void
  /** Embedded broker only: that session ended (any reason). */
  readonly disconnected?: (cabinetId: string) => void
  /** NATS only: the cluster lists the cabinet as holding a session (BusSink.sessionFound). */
  readonly sessionFound?: (cabinetId: string) => void
  /** NATS only: after a complete listing, which cabinets hold a session (BusSink.sessionsListed). */
  readonly sessionsListed?: (holdsSession: (cabinetId: string) => boolean) => void
}

/** What the router reads of a module (modules.ts FleetModule): its name and the messages it handles. */
export interface UpModule {
  readonly name: string
  readonly up?: UpHandlers
}

export interface UpRouterDeps {
  readonly modules: readonly UpModule[]
  /** Sale batches: raw, with the broker's backpressure callback (and a work queue's settled callback). */
  readonly sales: (cabinetId: string, payload: Buffer, done: () => void, settled?: BatchSettled) => void
  readonly log: Logger
}

export function createUpRouter({ modules, sales, log }: UpRouterDeps): BusSink['message'] {
  const pick = <K extends keyof UpHandlers>(kind: K): Array<NonNullable<UpHandlers[K]>> =>
    modules.flatMap((m) => (m.up?.[kind] ? [m.up[kind]] : []))
  const any = pick('any')
  const heartbeat = pick('heartbeat')
  const presence = pick('presence')
  const presenceOnce = pick('presenceOnce')
  const events = pick('events')
  const telemetry = pick('telemetry')
  const stock = pick('stock')

  return (msg: UpMessage, done: () => void): void => {
    const id = msg.cabinetId
    if (msg.audience === 'one-replica') {
      // The second copy of a presence (NATS): the first one already told `any`.
      if (msg.kind === 'presence') for (const h of presenceOnce) h(id, msg.payload)
      return done()
    }
    for (const h of any) h(id)
    switch (msg.kind) {
      case 'sales':
        return sales(id, msg.payload, done, msg.settled)
      case 'heartbeat': {
        const d = decodeMessage(HeartbeatMsg, msg.payload)
        if (!d.ok || d.data.cabinetId !== id) log.warn({ cabinetId: id, code: d.ok ? 'CABINET_MISMATCH' : d.code }, 'heartbeat ignored')
        else for (const h of heartbeat) h(id, d.data)
        break
      }
      case 'presence':
        for (const h of presence) h(id, msg.payload)
        if (msg.audience === undefined) for (const h of presenceOnce) h(id, msg.payload)
        break
      case 'events':
        for (const h of events) h(id, msg.payload)
        break
      case 'telemetry':
        for (const h of telemetry) h(id, msg.payload)
        break
      case 'stock':
        for (const h of stock) h(id, msg.payload)
        break
    }
    done()
  }
}

/**
 * The bus's sink from the modules, in module order: their up-messages
 * (createUpRouter), sale batches to the one module taking them, and session
 * events; transport refusals go to `refused`.
 */
export function createBusSink(deps: Omit<UpRouterDeps, 'sales'> & { readonly refused: BusSink['transportRefused'] }): BusSink {
  const sales = deps.modules.flatMap((m) => (m.up?.sales ? [m.up.sales] : []))
  if (sales.length !== 1) throw new Error(`exactly one module must take sale batches; found ${sales.length}`)
  const each = (kind: 'connected' | 'disconnected' | 'sessionFound') => deps.modules.flatMap((m) => (m.up?.[kind] ? [m.up[kind]] : []))
  const connected = each('connected')
  const disconnected = each('disconnected')
  const sessionFound = each('sessionFound')
  const sessionsListed = deps.modules.flatMap((m) => (m.up?.sessionsListed ? [m.up.sessionsListed] : []))
  return {
    message: createUpRouter({ ...deps, sales: sales[0]! }),
    connected: (id) => {
      for (const h of connected) h(id)
    },
    disconnected: (id) => {
      for (const h of disconnected) h(id)
    },
    sessionFound: (id) => {
      for (const h of sessionFound) h(id)
    },
    sessionsListed: (holdsSession) => {
      for (const h of sessionsListed) h(holdsSession)
    },
    transportRefused: deps.refused,
  }
}
