// A job on a node-cron schedule in Asia/Shanghai, one run at a time, stopped
// by close() after any run in progress. The reports and backups schedules are
// this with their own times; leader-only scheduling (issue 13) belongs here.
import cron, { type ScheduledTask } from 'node-cron'
import type { Logger } from 'pino'
import { TIME_ZONE } from '../../../shared/src/index.js'

export interface CronJob {
  /** The node-cron task's name (tests find it in cron.getTasks()). */
  readonly taskName: string
  /** Stops the job and waits for a run in progress. */
  close(): Promise<void>
}

export interface CronJobOptions {
  /** A cron expression, read in Asia/Shanghai. */
  readonly expression: string
  readonly name: string
  /** One run; must not throw. */
  readonly run: () => Promise<void>
  /** For log lines, e.g. "report schedule". */
  readonly label: string
  readonly log: Logger
}

export function startCronJob(opts: CronJobOptions): CronJob {
  let running: Promise<void> | null = null
  const task: ScheduledTask = cron.schedule(
    opts.expression,
    async () => {
      running = opts.run().finally(() => {
        running = null
      })
      await running
    },
    {
      name: opts.name,
      timezone: TIME_ZONE,
      noOverlap: true,
      unref: true, // close() stops it; the job alone must not keep a process alive
      logger: {
        info: (message) => opts.log.debug({ cron: message }, opts.label),
        warn: (message) => opts.log.warn({ cron: message }, opts.label),
        error: (message, err) => opts.log.error({ err: err ?? message }, `${opts.label} failed`),
        debug: () => undefined,
      },
    },
  )
  let closing: Promise<void> | null = null
  return {
    taskName: opts.name,
    close() {
      closing ??= (async () => {
        await task.destroy()
        await running
      })()
      return closing
    },
  }
}
