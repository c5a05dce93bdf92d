// Reports (报表) as a module (issue 13): stored snapshots for officials, on
// request and on the plan's schedule; the schedule runs in the jobs leader.
import type { Logger } from 'pino'
import type { FleetDb } from '../db/database.js'
import { slot, type FleetModule } from '../modules.js'
import { reportRoutes } from './routes.js'
import { startReportSchedule, type ReportSchedule } from './schedule.js'
import { createReportService, type ReportService, type ReportServiceDeps } from './service.js'
import { createReportStore } from './store.js'

export interface ReportsModule extends FleetModule {
  readonly service: () => ReportService
}

export interface ReportsModuleDeps {
  readonly database: FleetDb
  /** What a snapshot reads, from the domains started before this module. */
  readonly sources: () => Pick<ReportServiceDeps, 'plan' | 'rollout' | 'figures' | 'compliance' | 'forwarding' | 'cabinets' | 'targets' | 'catalog'>
  /** config.reports: whether the schedule runs, and when it checks. */
  readonly schedule: { readonly isScheduled: boolean; readonly cron: string }
  /** Names the node-cron task (tests find it by this). */
  readonly taskName: string
  readonly isLeader: () => Promise<boolean>
  readonly now: () => Date
  readonly log: Logger
}

export function reportsModule(deps: ReportsModuleDeps): ReportsModule {
  const log = deps.log.child({ component: 'reports' })
  const service = slot<ReportService>('the report service')
  let schedule: ReportSchedule | null = null
  return {
    name: 'reports',
    service: () => service.get(),
    routes: () => reportRoutes(service.get()),
    start() {
      const reports = service.set(createReportService({ store: createReportStore(deps.database), ...deps.sources(), now: deps.now, log }))
      if (!deps.schedule.isScheduled) return
      schedule = startReportSchedule({
        name: deps.taskName,
        expression: deps.schedule.cron,
        // One line per run, stored or not: across replicas it shows which server ran it.
        run: () =>
          reports.runSchedule().then(
            (stored) => log.info({ stored: stored.length }, 'scheduled reports run'),
            (err: unknown) => log.error({ err }, 'scheduled reports failed; the next run retries'),
          ),
        log,
        isLeader: deps.isLeader,
      })
    },
    stop: () => schedule?.close(),
  }
}
