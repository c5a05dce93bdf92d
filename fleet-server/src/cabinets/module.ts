// Cabinets as a module (issue 13): liveness (who is connected, last seen,
// shared presence across replicas) and the cabinet service with its
// credentials cache. Liveness reads every up-message and session event; the
// service ends sessions whose login changed, through the bus.
import type { Plan } from '../../../shared/src/index.js'
import type { Logger } from 'pino'
import { createLoginThrottle, DEFAULT_LOGIN_THROTTLE } from '../access/index.js'
import type { FleetDb } from '../db/database.js'
import { slot, type FleetModule } from '../modules.js'
import type { SalesReader } from '../sales/index.js'
import { createEnrollment, type Enrollment } from './enrollment.js'
import { createEnrollmentStore } from './enrollment-store.js'
import { createLiveness, type Liveness } from './liveness.js'
import type { CabinetLogins } from './logins.js'
import { createSharedPresence } from './presence.js'
import { cabinetRoutes } from './routes.js'
import { createCabinetService, type CabinetService } from './service.js'
import type { CabinetStore } from './store.js'

export interface CabinetsModule extends FleetModule {
  readonly liveness: () => Liveness
  readonly service: () => CabinetService
  readonly enrollment: () => Enrollment
}

export interface CabinetsModuleDeps {
  readonly database: FleetDb
  readonly store: CabinetStore
  /** Sales with their certified totals, for a cabinet's figures. */
  readonly sales: () => SalesReader
  readonly plan: () => Plan
  /** False with an external broker: sessions are known from presence only. */
  readonly tracksConnections: () => boolean
  /** Ends a cabinet's live MQTT session. */
  readonly disconnect: (cabinetId: string) => void
  /** Issues, rotates and ends cabinet logins with the broker in use. */
  readonly logins: CabinetLogins
  /** Broker URLs as cabinets dial them, told at enrollment; empty when not configured. */
  readonly servers: () => readonly string[]
  /** How often last-seen times are written, ms. */
  readonly presenceFlushMs: number
  readonly now: () => Date
  /** The same clock in ms without a Date (Date.now for the system clock); default now().getTime(). */
  readonly nowMs?: () => number
  readonly log: Logger
}

export function cabinetsModule(deps: CabinetsModuleDeps): CabinetsModule {
  const { log } = deps
  const live = slot<Liveness>('liveness')
  const cabinets = slot<CabinetService>('the cabinet service')
  const enrollment = slot<Enrollment>('enrollment')
  // A contact may move a freshly enrolled cabinet to installed; after that it is a set lookup.
  const contact = (id: string) => enrollment.peek()?.contact(id)
  return {
    name: 'cabinets',
    liveness: () => live.get(),
    service: () => cabinets.get(),
    enrollment: () => enrollment.get(),
    up: {
      any: (id) => live.get().seen(id),
      heartbeat: (id, hb) => {
        contact(id)
        return live.get().heartbeat(id, hb)
      },
      presence: (id, p) => {
        contact(id)
        return live.get().presence(id, p)
      },
      events: (id, p) => live.get().event(id, p),
      connected: (id) => {
        contact(id)
        return live.get().connected(id)
      },
      disconnected: (id) => live.get().disconnected(id),
      sessionFound: (id) => live.get().sessionFound(id),
      sessionsListed: (holdsSession) => live.get().sessionsListed(holdsSession),
    },
    routes: () => cabinetRoutes(cabinets.get(), enrollment.get()),
    start() {
      const liveness = live.set(
        createLiveness({
          store: deps.store,
          tracksConnections: deps.tracksConnections,
          now: deps.now,
          ...(deps.nowMs && { nowMs: deps.nowMs }),
          log: log.child({ component: 'liveness' }),
          flushMs: deps.presenceFlushMs,
          // Replicas on one PostgreSQL share who is connected where; SQLite keeps it in memory.
          presence: createSharedPresence(deps.database, { log: log.child({ component: 'presence' }) }),
        }),
      )
      cabinets.set(
        createCabinetService({
          store: deps.store,
          database: deps.database,
          sales: deps.sales(),
          liveness,
          plan: deps.plan,
          disconnect: deps.disconnect,
          logins: deps.logins,
          now: deps.now,
          log: log.child({ component: 'cabinets' }),
        }),
      )
      const enrollLog = log.child({ component: 'enrollment' })
      enrollment.set(
        createEnrollment({
          store: createEnrollmentStore(deps.database),
          cabinets: deps.store,
          service: cabinets.get(),
          database: deps.database,
          logins: deps.logins,
          // Failed codes per address share the login throttle's table; a few more
          // tries than a password (codes are retyped off a phone screen).
          throttle: createLoginThrottle(deps.database, deps.now, enrollLog, { ...DEFAULT_LOGIN_THROTTLE, maxPerUser: 10 }),
          servers: deps.servers,
          now: deps.now,
          log: enrollLog,
        }),
      )
    },
    async stop() {
      await enrollment.peek()?.close()
      await cabinets.peek()?.close()
      await live.peek()?.close()
    },
  }
}
