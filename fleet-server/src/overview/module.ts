// The overview (总览, issue 15) as a module: reads only, through the other
// domains' services and named queries; holds nothing to stop.
import { slot, type FleetModule } from '../modules.js'
import { overviewRoutes } from './routes.js'
import { createOverviewService, type OverviewService, type OverviewServiceDeps } from './service.js'

export interface OverviewModule extends FleetModule {
  readonly service: () => OverviewService
}

/** `deps` is called in start(), once the modules it reads have started. */
export function overviewModule(deps: () => OverviewServiceDeps): OverviewModule {
  const service = slot<OverviewService>('the overview service')
  return {
    name: 'overview',
    service: () => service.get(),
    routes: () => overviewRoutes(service.get()),
    start() {
      service.set(createOverviewService(deps()))
    },
    stop: () => undefined,
  }
}
