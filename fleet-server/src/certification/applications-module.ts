// The certification workflow as a module (issue 15): its routes, and the pass
// that makes applications whose 公示 has ended effective — whenever this
// process becomes the jobs leader (at start on SQLite; on PostgreSQL once it
// holds the lock, also after a failover) and hourly (minute 1, Asia/Shanghai,
// so a notice ending yesterday takes effect just after midnight), by the
// leader only. Started after forwarding: an effective certificate republishes
// the catalog and tells forwarding.
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
  /** Leadership changes: a new leader runs the pass once at once. */
  readonly onLeading: (fn: (leading: boolean) => void) => () => void
  /** The cron task's name (unique per data dir, as the reports' and backups'). */
  readonly taskName: string
  readonly now: () => Date
  readonly log: Logger
}

export function certificationWorkflowModule(deps: CertificationWorkflowDeps): CertificationWorkflowModule {
  const log = deps.log.child({ component: 'certification-workflow' })
  const service = slot<ApplicationService>('the certification workflow')
  let job: CronJob | null = null
  let kicked: Promise<void> = Promise.resolve()
  let unfollow: (() => void) | null = null
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
      // Notices that ended while no process led (or the server was down) take effect now.
      unfollow = deps.onLeading((leading) => {
        if (leading) kicked = pass().catch((err: unknown) => log.error({ err }, 'publicity pass on taking the lead failed'))
      })
    },
    async stop() {
      unfollow?.()
      await job?.close()
      await kicked
      await service.peek()?.idle()
    },
  }
}
