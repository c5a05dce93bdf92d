// Telemetry as a module (issue 16 §4): the up/telemetry intake (on NATS one
// replica gets each reading), the cabinet's readings over HTTP, and the
// hourly leader job that downsamples and prunes.
import type { Logger } from 'pino'
import type { AlertRules } from '../../../shared/src/index.js'
import type { Principal } from '../access/index.js'
import type { FleetDb } from '../db/database.js'
import { startCronJob, type CronJob } from '../jobs/cron-job.js'
import { slot, type FleetModule } from '../modules.js'
import { createTelemetryIngest, type TelemetryIngest } from './ingest.js'
import { telemetryMaintenance, type Retention } from './maintenance.js'
import { telemetryRoutes, type TelemetryReads } from './routes.js'
import { createTelemetryStore, type TelemetryStore } from './store.js'

/** Minute 7 of every hour: the hour before is complete by then. */
export const TELEMETRY_JOB_CRON = '7 * * * *'

export interface TelemetryModule extends FleetModule {
  readonly store: () => TelemetryStore
  readonly ingest: () => TelemetryIngest
}

export interface TelemetryModuleDeps {
  readonly database: FleetDb
  readonly rules: () => AlertRules
  readonly retention: Retention
  /** Throws when `by` may not see the cabinet (cabinets' assertVisible). */
  readonly assertVisible: (by: Principal, cabinetId: string) => Promise<void>
  readonly isLeader: () => Promise<boolean>
  readonly taskName: string
  readonly now: () => Date
  readonly log: Logger
}

const HOUR_MS = 3_600_000

export function telemetryModule(deps: TelemetryModuleDeps): TelemetryModule {
  const log = deps.log.child({ component: 'telemetry' })
  const store = slot<TelemetryStore>('the telemetry store')
  const ingest = slot<TelemetryIngest>('the telemetry intake')
  let job: CronJob | null = null
  const reads: TelemetryReads = {
    async read(by, cabinetId, hours) {
      await deps.assertVisible(by, cabinetId)
      const fromHour = new Date(deps.now().getTime() - (hours - 1) * HOUR_MS).toISOString().slice(0, 13)
      const s = store.get()
      const latest = await s.latest(cabinetId)
      return {
        cabinetId,
        latest: latest && {
          receivedAt: latest.receivedAt,
          sentAt: latest.sentAt,
          agentVersion: latest.agentVersion,
          agentInstanceId: latest.agentInstanceId,
          chilled: latest.chilled,
          temperatureC: latest.temperatureC,
          doorOpen: latest.doorOpen,
          doorOpenSince: latest.doorOpenSince,
          faults: [...latest.faults],
          diskUsedPct: latest.diskUsedPct,
          outboxPending: latest.outboxPending,
          outboxOldestAgeS: latest.outboxOldestAgeS,
          ledgerBytes: latest.ledgerBytes,
        },
        hours,
        hourly: await s.hourly(cabinetId, fromHour),
      }
    },
  }
  return {
    name: 'telemetry',
    store: () => store.get(),
    ingest: () => ingest.get(),
    up: {
      telemetry: (id, payload) => ingest.peek()?.receive(id, payload),
    },
    routes: () => telemetryRoutes(reads),
    start() {
      const s = store.set(createTelemetryStore(deps.database))
      ingest.set(createTelemetryIngest({ store: s, rules: deps.rules, now: deps.now, log }))
      job = startCronJob({
        expression: TELEMETRY_JOB_CRON,
        name: deps.taskName,
        label: 'telemetry downsampling',
        isLeader: deps.isLeader,
        log,
        run: async () => {
          try {
            const r = await telemetryMaintenance(s, deps.now(), deps.retention)
            log.info(r, 'telemetry downsampled and pruned')
          } catch (err) {
            log.error({ err }, 'telemetry downsampling failed')
          }
        },
      })
    },
    async stop() {
      await job?.close()
      await ingest.peek()?.drain()
    },
  }
}
