// Notifications as a module (issue 16 §6): the routes, the outbox listener the
// alerts module calls in its transactions (so this module starts before it),
// and the delivery loop, which sends only in the jobs leader.
import type { Logger } from 'pino'
import type { AlertListener } from '../alerts/index.js'
import type { FleetDb } from '../db/database.js'
import { slot, type FleetModule } from '../modules.js'
import { DEFAULT_NOTIFICATIONS, startDeliveryLoop, type DeliveryLoop, type NotificationOptions } from './delivery.js'
import { notificationRoutes } from './routes.js'
import { createNotificationService, type NotificationService } from './service.js'
import { createNotificationStore } from './store.js'

export interface NotificationsModule extends FleetModule {
  readonly service: () => NotificationService
  /** For the alerts module's deps (set by start). */
  readonly listener: () => AlertListener
  readonly delivery: () => DeliveryLoop
}

export interface NotificationsModuleDeps {
  readonly database: FleetDb
  readonly isLeader: () => Promise<boolean>
  /** The plan's name of a county (messages name counties). */
  readonly countyName: (code: string) => string | null
  readonly options?: Partial<NotificationOptions>
  readonly now: () => Date
  readonly log: Logger
}

export function notificationsModule(deps: NotificationsModuleDeps): NotificationsModule {
  const log = deps.log.child({ component: 'notifications' })
  const options: NotificationOptions = Object.freeze({ ...DEFAULT_NOTIFICATIONS, ...deps.options })
  const service = slot<NotificationService>('the notification service')
  const delivery = slot<DeliveryLoop>('the notification delivery loop')
  return {
    name: 'notifications',
    service: () => service.get(),
    listener: () => service.get().listener,
    delivery: () => delivery.get(),
    routes: () => notificationRoutes(service.get()),
    start() {
      const store = createNotificationStore(deps.database)
      service.set(createNotificationService({ store, timeoutMs: options.timeoutMs, now: deps.now, log }))
      delivery.set(startDeliveryLoop({ store, options, format: { countyName: deps.countyName }, isLeader: deps.isLeader, now: deps.now, log }))
    },
    stop: () => delivery.peek()?.close(),
  }
}
