// Forwarding as a module (issue 13): passes that judge ended periods and send
// them to the national platform, with their retries, run by the jobs leader.
// Heartbeats carry the sync marks a pass judges completeness by. Stopped
// before HTTP closes: its aborted sends release a run request waiting on
// them, which is then answered rather than cut off.
import type { Plan } from '../../../shared/src/index.js'
import type { Logger } from 'pino'
import { cabinetIds, cabinetOwners, cabinetsInScope } from '../cabinets/forwarding-reads.js'
import type { FleetConfig } from '../config.js'
import type { FleetDb } from '../db/database.js'
import type { Leader } from '../db/leader.js'
import { slot, type FleetModule } from '../modules.js'
import { chainHeads } from '../sales/forwarding-reads.js'
import { DEFAULT_FORWARDING, type ForwardingOptions } from './options.js'
import { forwardingRoutes } from './routes.js'
import { createSender } from './sender.js'
import { createForwardingService, type ForwardingService } from './service.js'
import { createForwardingStore } from './store.js'
import { createSyncMarks } from './sync-marks.js'

type ServiceDeps = Parameters<typeof createForwardingService>[0]

export interface ForwardingModule extends FleetModule {
  readonly service: () => ForwardingService
}

export interface ForwardingModuleDeps {
  readonly database: FleetDb
  readonly leader: () => Leader
  readonly platform: FleetConfig['platform']
  /** Timings (tests shorten them) over DEFAULT_FORWARDING. */
  readonly options?: Partial<ForwardingOptions>
  readonly figures: () => ServiceDeps['figures']
  readonly compliance: () => ServiceDeps['compliance']
  readonly onCatalogVersion: NonNullable<ServiceDeps['onCatalogVersion']>
  readonly beforePass: NonNullable<ServiceDeps['beforePass']>
  readonly saleFlagHolds: NonNullable<ServiceDeps['saleFlagHolds']>
  readonly plan: () => Plan
  readonly now: () => Date
  readonly log: Logger
}

export function forwardingModule(deps: ForwardingModuleDeps): ForwardingModule {
  const { database, now } = deps
  const service = slot<ForwardingService>('the forwarding service')
  return {
    name: 'forwarding',
    service: () => service.get(),
    up: { heartbeat: (id, hb) => service.get().heartbeat(id, hb) },
    routes: () => forwardingRoutes(service.get()),
    async start() {
      const log = deps.log.child({ component: 'forwarding' })
      const fwd = { ...DEFAULT_FORWARDING, ...deps.options }
      const store = createForwardingStore(database)
      service.set(
        await createForwardingService({
          db: database,
          leader: deps.leader(),
          store,
          // The cabinets and sales tables are read through their owners' named queries.
          cabinets: {
            ids: () => cabinetIds(database.kysely),
            inScope: (scope) => cabinetsInScope(database.kysely, scope),
            owners: (ids) => cabinetOwners(database.kysely, ids),
          },
          figures: deps.figures(),
          compliance: deps.compliance(),
          marks: createSyncMarks({ db: database, store, chains: (range) => chainHeads(database.kysely, range), now }),
          sender: createSender({ url: deps.platform.url, secret: deps.platform.secret, ...fwd }, database, store, now, log),
          plan: deps.plan,
          now,
          log,
          platformConfigured: deps.platform.url !== null,
          intervalMs: fwd.intervalMs,
          debounceMs: fwd.debounceMs,
          ...(fwd.sliceCabinets !== undefined && { sliceCabinets: fwd.sliceCabinets }),
          onCatalogVersion: deps.onCatalogVersion,
          beforePass: deps.beforePass,
          saleFlagHolds: deps.saleFlagHolds,
        }),
      )
    },
    stop: () => service.peek()?.close(),
  }
}
