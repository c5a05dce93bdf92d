// Backups as a module (issue 13): online backups of the SQLite database, on
// request and daily, and the catch-up that asks idle cabinets to resend what
// a restored server no longer has.
import type { Logger } from 'pino'
import type { MessageBus } from '../broker/index.js'
import type { FleetDb } from '../db/database.js'
import { slot, type FleetModule } from '../modules.js'
import { createCatchUp, type CatchUp } from './catch-up.js'
import { backupRoutes } from './routes.js'
import { startBackupSchedule, type BackupSchedule } from './schedule.js'
import { createBackupService, type BackupService } from './service.js'

export interface BackupModuleDeps {
  readonly database: FleetDb
  /** config.backup: where, how many kept, whether the daily job runs. */
  readonly backup: { readonly dir: string; readonly keep: number; readonly isScheduled: boolean }
  /** Names the node-cron task (tests find it by this). */
  readonly taskName: string
  /** A cabinet's committed chain head seq (0 with none). */
  readonly committedSeq: (cabinetId: string) => Promise<number>
  readonly bus: () => MessageBus | null
  readonly now: () => Date
  readonly log: Logger
}

export function backupModule(deps: BackupModuleDeps): FleetModule {
  const { now } = deps
  const log = deps.log.child({ component: 'backup' })
  const backups = slot<BackupService>('the backup service')
  let schedule: BackupSchedule | null = null
  // After a restore: idle cabinets are asked to resend what the server no longer has.
  const catchUp: CatchUp = createCatchUp({
    committedSeq: deps.committedSeq,
    publish: (topic, payload) => deps.bus()?.publish(topic, Buffer.from(payload), { qos: 1 }),
    now,
    log,
  })
  return {
    name: 'backup',
    up: {
      heartbeat: (id, hb) => catchUp.heartbeat(id, hb),
      connected: (id) => catchUp.forget(id),
      disconnected: (id) => catchUp.forget(id),
    },
    routes: () => backupRoutes(backups.get()),
    start() {
      const service = backups.set(createBackupService({ database: deps.database, dir: deps.backup.dir, keep: deps.backup.keep, now, log }))
      // No daily job on PostgreSQL: the service is off there (pg_dump, replication).
      if (deps.backup.isScheduled && service.available) {
        schedule = startBackupSchedule({ name: deps.taskName, run: () => service.runOnce('schedule').then(() => undefined, () => undefined), log })
      }
    },
    async stop() {
      await schedule?.close()
      await backups.peek()?.close()
    },
  }
}
