// The certification workflow as a module (issue 15): its routes, and the pass
// that makes applications whose 公示 has ended effective — at start and hourly
// (minute 1, Asia/Shanghai, so a notice ending yesterday takes effect just
// after midnight), by the jobs leader only. Started after forwarding: an
// effective certificate republishes the catalog and tells forwarding.
import type { Logger } from 'pino'
import { workdaysOf, type CertificationPolicy } from '../../../shared/src/index.js'
import type { FleetDb } from '../db/database.js'
import { startCronJob, type CronJob } from '../jobs/cron-job.js'
import { slot, type FleetModule } from '../modules.js'
import { applicationRoutes } from './applications-routes.js'
import { createApplicationService, type ApplicationService } from './applications-service.js'
import { createApplicationStore } from './applications-store.js'
import type { CertificationService } from './service.js'

/** Hourly at minute 1 (node-cron, Asia/Shanghai). */
export const PUBLICITY_PASS_CRON = '1 * * * *'

export interface CertificationWorkflowModule extends FleetModule {
  readonly service: () => ApplicationService
}

export interface CertificationWorkflowDeps {
  readonly database: FleetDb
  readonly catalog: () => CertificationService
  readonly policy: () => CertificationPolicy
  readonly isLeader: () => Promise<boolean>
  /** The cron task's name (unique per data dir, as the reports' and backups'). */
  readonly taskName: string
  readonly now: () => Date
  readonly log: Logger
}

export function certificationWorkflowModule(deps: CertificationWorkflowDeps): CertificationWorkflowModule {
  const log = deps.log.child({ component: 'certification-workflow' })
  const service = slot<ApplicationService>('the certification workflow')
  let job: CronJob | null = null
  let first: Promise<void> = Promise.resolve()
  const pass = async (): Promise<void> => {
    const r = await service.get().runDue()
    if (r.effective.length + r.rejected.length + r.failed.length > 0) log.info({ effective: r.effective.length, rejected: r.rejected.length, failed: r.failed.length }, 'publicity pass')
  }
  return {
    name: 'certification-workflow',
    service: () => service.get(),
    routes: () => applicationRoutes(service.get()),
    start() {
      service.set(createApplicationService({ db: deps.database, store: createApplicationStore(), catalog: deps.catalog, policy: deps.policy, workdays: workdaysOf(), now: deps.now, log }))
      job = startCronJob({ expression: PUBLICITY_PASS_CRON, name: deps.taskName, label: 'publicity pass', run: () => pass().catch((err: unknown) => log.error({ err }, 'publicity pass failed')), isLeader: deps.isLeader, log })
      // Notices that ended while the server was down take effect now.
      first = (async () => {
        if (await deps.isLeader()) await pass()
      })().catch((err: unknown) => log.error({ err }, 'publicity pass at start failed'))
    },
    async stop() {
      await job?.close()
      await first
      await service.peek()?.idle()
    },
  }
}
