// Certification as a module (issue 13): the catalog publisher (the retained
// catalog each cabinet sells from, published on connect and on change) and
// the certification service. A certificate change commits the certified
// figures it moves in its own transaction, then republishes the catalog and
// tells forwarding to look again.
import type { Logger } from 'pino'
import type { MessageBus } from '../broker/index.js'
import type { Executor, FleetDb } from '../db/database.js'
import { slot, type FleetModule } from '../modules.js'
import { createCatalogPublisher, type CatalogPublisher } from './catalog-publisher.js'
import { certificationRoutes } from './routes.js'
import { createCertificationService, type CertificationService, type CertifiedRange } from './service.js'
import { createCatalogStore } from './store.js'

export interface CertificationModule extends FleetModule {
  readonly catalog: () => CatalogPublisher
  readonly service: () => CertificationService
}

export interface CertificationModuleDeps {
  readonly database: FleetDb
  readonly bus: () => MessageBus | null
  /** Moves the certified figures of the changed ranges, in the change's transaction. */
  readonly certifiedChanged: (tx: Executor, ranges: readonly CertifiedRange[]) => Promise<unknown>
  /** After a committed change, once the catalog is republished. */
  readonly changed: () => void
  /** The cabinet visibility check of the routes (cabinets' assertVisible). */
  readonly assertVisible: Parameters<typeof certificationRoutes>[2]
  /** The plan's county codes (suppliers' registration counties). */
  readonly counties: () => readonly string[]
  readonly now: () => Date
  readonly log: Logger
}

export function certificationModule(deps: CertificationModuleDeps): CertificationModule {
  const { now, log } = deps
  const catalog = slot<CatalogPublisher>('the catalog publisher')
  const service = slot<CertificationService>('the certification service')
  return {
    name: 'certification',
    catalog: () => catalog.get(),
    service: () => service.get(),
    up: {
      // An external broker's sessions are known only from presence: the
      // catalog goes out on it (on a NATS cluster, from one replica only; if
      // that one dies holding the presence, the cabinet gets the catalog at
      // its next connect or the next catalog change).
      presenceOnce: (id) => {
        const bus = deps.bus()
        if (bus && !bus.tracksConnections) void catalog.get().publishTo(id)
      },
      // Session events come from the embedded broker only, after its login check.
      connected: (id) => void catalog.get().publishTo(id, { loggedIn: true }),
    },
    routes: () => certificationRoutes(service.get(), catalog.get(), deps.assertVisible),
    async start() {
      const store = createCatalogStore()
      const publisher = catalog.set(
        await createCatalogPublisher({ db: deps.database, store, publish: (t, p) => deps.bus()?.publish(t, p, { qos: 1, retain: true }), now, log: log.child({ component: 'catalog' }) }),
      )
      service.set(
        createCertificationService({
          db: deps.database,
          store,
          now,
          counties: deps.counties,
          log: log.child({ component: 'certification' }),
          certifiedChanged: deps.certifiedChanged,
          changed: async () => {
            await publisher.refresh()
            deps.changed()
          },
        }),
      )
    },
    stop: () => catalog.peek()?.close(),
  }
}
