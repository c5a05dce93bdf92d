// The leader of the once-across-replicas jobs as a module (issue 13): work
// that must run once across replicas on one database (the scheduled
// forwarding passes, alert evaluation, scheduled reports) runs in the process
// holding this lock; on SQLite this process always holds it. Started first
// among the modules so it is given up only after every job has stopped.
import type { Logger } from 'pino'
import type { FleetDb } from '../db/database.js'
import { createLeader, type Leader } from '../db/leader.js'
import { slot, type FleetModule } from '../modules.js'

export interface LeaderModule extends FleetModule {
  /** The lock (set by start). */
  readonly leader: () => Leader
  /** The gate the jobs ask at each tick. */
  readonly isLeader: () => Promise<boolean>
}

export function leaderModule(deps: { database: FleetDb; log: Logger }): LeaderModule {
  const leader = slot<Leader>('the jobs leader')
  return {
    name: 'leader',
    leader: () => leader.get(),
    isLeader: async () => leader.get().isLeader(),
    start() {
      leader.set(createLeader(deps.database, 'fleet-jobs', deps.log))
    },
    stop: () => leader.peek()?.close(),
  }
}
