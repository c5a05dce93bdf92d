// A job on a node-cron schedule in Asia/Shanghai, one run at a time, stopped
// by close() after any run in progress. The reports and backups schedules are
// this with their own times. With replicas on one PostgreSQL (issue 13) a job
// runs only in the leader: `isLeader` is asked at each tick (db/leader.ts).
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
  /**
   * Asked at each tick: false skips that run (another process is the leader
   * and runs it). Absent: this process always runs it. A gate that fails
   * skips the run too, since running it twice is the worse outcome.
   */
  readonly isLeader?: () => Promise<boolean>
}

export function startCronJob(opts: CronJobOptions): CronJob {
  let running: Promise<void> | null = null
  const task: ScheduledTask = cron.schedule(
    opts.expression,
    async () => {
      running = (async () => {
        if (opts.isLeader) {
          const leader = await opts.isLeader().catch((err: unknown) => {
            opts.log.error({ err, job: opts.label }, 'cannot tell whether this process leads; scheduled run skipped')
            return false
          })
          if (!leader) {
            opts.log.debug({ job: opts.label }, 'not the leader; scheduled run skipped')
            return
          }
        }
        await opts.run()
      })().finally(() => {
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
