// The rollout plan in force. FLEET_PLAN is loaded on the first start and
// stored; later starts keep the stored plan (quotas and milestones must not
// shift under existing data because an environment variable changed).
import type { Logger } from 'pino'
import { parsePlan, type Plan } from '../../../shared/src/index.js'
import type { Db } from '../db/index.js'

export interface PlanStore {
  /** The stored plan, storing `configured` first when there is none. */
  activate(configured: { source: string; plan: Plan }): Promise<Plan>
}

export function createSqlitePlanStore(db: Db, log: Logger): PlanStore {
  const read = db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?')
  const write = db.prepare<[string, string]>('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING')
  return {
    async activate(configured) {
      const stored = read.get('plan')
      if (!stored) {
        db.transaction(() => {
          write.run('plan', JSON.stringify(configured.plan))
          write.run('plan_source', configured.source)
        })()
        log.info({ plan: configured.plan.id, source: configured.source }, 'rollout plan stored')
        return configured.plan
      }
      const plan = parsePlan(JSON.parse(stored.value), 'database')
      if (JSON.stringify(plan) !== JSON.stringify(configured.plan)) {
        log.warn({ stored: plan.id, configured: configured.plan.id, source: configured.source }, 'FLEET_PLAN differs from the plan stored on first start; keeping the stored plan')
      } else {
        log.info({ plan: plan.id }, 'rollout plan loaded')
      }
      return plan
    },
  }
}
