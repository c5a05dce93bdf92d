// The daily backup, at BACKUP_CRON in Asia/Shanghai: after the day's trade and
// before the 06:00 reports. A failure is logged and the next day tries again;
// the previous backups are kept, since retention runs only after a good one.
import type { Logger } from 'pino'
import { startCronJob, type CronJob } from '../jobs/cron-job.js'

/** 03:00 every day (Asia/Shanghai): the quietest hour for cabinets in offices, stations and campuses. */
export const BACKUP_CRON = '0 3 * * *'

export type BackupSchedule = CronJob

/** Registers the daily job; `run` takes one backup and must not throw. */
export function startBackupSchedule(deps: { name: string; run: () => Promise<void>; log: Logger; isLeader?: () => Promise<boolean> }): BackupSchedule {
  return startCronJob({ expression: BACKUP_CRON, label: 'backup schedule', ...deps })
}
