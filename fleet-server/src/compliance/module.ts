// Compliance as a module (issue 13): the certified figures' store (written in
// each ingest tick's transaction, and following catalog changes from every
// server on the database) and the service judging them against the plan.
import type { Logger } from 'pino'
import type { Plan } from '../../../shared/src/index.js'
import type { FleetDb } from '../db/database.js'
import { slot, type FleetModule } from '../modules.js'
import { complianceRoutes } from './routes.js'
import { createComplianceService, type ComplianceService } from './service.js'
import { createComplianceStore, type ComplianceStore } from './store.js'

export interface ComplianceModule extends FleetModule {
  readonly store: () => ComplianceStore
  readonly service: () => ComplianceService
}

export function complianceModule(database: FleetDb, plan: () => Plan, log: Logger): ComplianceModule {
  const store = slot<ComplianceStore>('the compliance store')
  const service = slot<ComplianceService>('the compliance service')
  return {
    name: 'compliance',
    store: () => store.get(),
    service: () => service.get(),
    routes: () => complianceRoutes(service.get()),
    async start() {
      const s = store.set(await createComplianceStore(database, { log: log.child({ component: 'compliance' }) }))
      service.set(createComplianceService({ store: s, plan }))
    },
    stop: () => store.peek()?.close(),
  }
}
