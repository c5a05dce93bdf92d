// Alerts as a module (issue 13): conditions from every domain's sources,
// evaluated on an interval by the jobs leader and on request through the API.
import type { Logger } from 'pino'
import type { FleetDb } from '../db/database.js'
import { slot, type FleetModule } from '../modules.js'
import { alertRoutes } from './routes.js'
import { createAlertService, type AlertListener, type AlertService } from './service.js'
import type { AlertSource } from './sources.js'
import { createAlertStore } from './store.js'

/** 5 min: "offline > 24 h" needs no finer grain. */
export const ALERTS_EVERY_MS = 5 * 60_000

export interface AlertsModule extends FleetModule {
  readonly service: () => AlertService
}

export interface AlertsModuleDeps {
  readonly database: FleetDb
  /** The conditions watched, built from the domains started before this module. */
  readonly sources: () => readonly AlertSource[]
  readonly isLeader: () => Promise<boolean>
  /** Told of raises and clears in their transaction, from the modules started before this one (notifications). */
  readonly listeners?: () => readonly AlertListener[]
  readonly now: () => Date
  readonly log: Logger
}

export function alertsModule(deps: AlertsModuleDeps): AlertsModule {
  const service = slot<AlertService>('the alert service')
  return {
    name: 'alerts',
    service: () => service.get(),
    routes: () => alertRoutes(service.get()),
    start() {
      service.set(
        createAlertService({
          store: createAlertStore(deps.database),
          isLeader: deps.isLeader,
          sources: deps.sources(),
          listeners: deps.listeners?.() ?? [],
          now: deps.now,
          log: deps.log.child({ component: 'alerts' }),
          everyMs: ALERTS_EVERY_MS,
        }),
      )
    },
    stop: () => service.peek()?.close(),
  }
}
