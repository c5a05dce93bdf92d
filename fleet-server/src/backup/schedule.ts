// The daily backup, at BACKUP_CRON in Asia/Shanghai: after the day's trade and
// before the 06:00 reports. A failure is logged and the next day tries again;
// the previous backups are kept, since retention runs only after a good one.
import cron, { type ScheduledTask } from 'node-cron'
import type { Logger } from 'pino'
import { TIME_ZONE } from '../../../shared/src/index.js'

/** 03:00 every day (Asia/Shanghai): the quietest hour for cabinets in offices, stations and campuses. */
export const BACKUP_CRON = '0 3 * * *'

export interface BackupSchedule {
  /** The node-cron task's name (tests find it in cron.getTasks()). */
  readonly taskName: string
  /** Stops the job and waits for a run in progress. */
  close(): Promise<void>
}

/** Registers the daily job; `run` takes one backup and must not throw. */
export function startBackupSchedule(deps: { name: string; run: () => Promise<void>; log: Logger }): BackupSchedule {
  let running: Promise<void> | null = null
  const task: ScheduledTask = cron.schedule(
    BACKUP_CRON,
    async () => {
      running = deps.run().finally(() => {
        running = null
      })
      await running
    },
    {
      name: deps.name,
      timezone: TIME_ZONE,
      noOverlap: true,
      unref: true, // close() stops it; the job alone must not keep a process alive
      logger: {
        info: (message) => deps.log.debug({ cron: message }, 'backup schedule'),
        warn: (message) => deps.log.warn({ cron: message }, 'backup schedule'),
        error: (message, err) => deps.log.error({ err: err ?? message }, 'backup schedule failed'),
        debug: () => undefined,
      },
    },
  )
  let closing: Promise<void> | null = null
  return {
    taskName: deps.name,
    close() {
      closing ??= (async () => {
        await task.destroy()
        await running
      })()
      return closing
    },
  }
}
