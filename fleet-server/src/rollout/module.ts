// Rollout (布设进度) as a module (issue 13): progress against the plan, with
// online counts from cabinets' liveness. Holds no timers; nothing to stop.
import type { Plan } from '../../../shared/src/index.js'
import type { Liveness } from '../cabinets/index.js'
import type { FleetDb } from '../db/database.js'
import { slot, type FleetModule } from '../modules.js'
import { rolloutRoutes } from './routes.js'
import { createRolloutService, type RolloutService } from './service.js'
import { createRolloutStore, type RolloutStore } from './store.js'

export interface RolloutModule extends FleetModule {
  /** Cabinet ownership and counts (read by alerts too). */
  readonly store: RolloutStore
  readonly service: () => RolloutService
}

export function rolloutModule(deps: { database: FleetDb; plan: () => Plan; liveness: () => Liveness; now: () => Date }): RolloutModule {
  const store = createRolloutStore(deps.database)
  const service = slot<RolloutService>('the rollout service')
  return {
    name: 'rollout',
    store,
    service: () => service.get(),
    routes: () => rolloutRoutes(service.get()),
    start() {
      service.set(createRolloutService({ store, plan: deps.plan, liveness: deps.liveness(), now: deps.now }))
    },
    stop: () => undefined,
  }
}
