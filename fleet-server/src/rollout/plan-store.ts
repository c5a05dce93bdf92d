// The rollout plan in force. FLEET_PLAN is loaded on the first start and
// stored; later starts keep the stored plan (quotas and milestones must not
// shift under existing data because an environment variable changed).
import type { Logger } from 'pino'
import { parsePlan, type Plan } from '../../../shared/src/index.js'
import type { FleetDb } from '../db/database.js'

export interface PlanStore {
  /** The stored plan, storing `configured` first when there is none. */
  activate(configured: { source: string; plan: Plan }): Promise<Plan>
}

export function createPlanStore(db: FleetDb, log: Logger): PlanStore {
  return {
    async activate(configured) {
      // Insert-if-absent, then read back: of replicas starting together on a
      // new database the first to commit decides, and all run on its plan.
      const { stored, isNew } = await db.transaction(async (tx) => {
        const r = await tx
          .insertInto('meta')
          .values([
            { key: 'plan', value: JSON.stringify(configured.plan) },
            { key: 'plan_source', value: configured.source },
          ])
          .onConflict((oc) => oc.column('key').doNothing())
          .returning('key')
          .execute()
        const row = await tx.selectFrom('meta').select('value').where('key', '=', 'plan').executeTakeFirstOrThrow()
        return { stored: row.value, isNew: r.some((x) => x.key === 'plan') }
      })
      if (isNew) {
        log.info({ plan: configured.plan.id, source: configured.source }, 'rollout plan stored')
        return configured.plan
      }
      const plan = parsePlan(JSON.parse(stored), 'database')
      if (JSON.stringify(plan) !== JSON.stringify(configured.plan)) {
        log.warn({ stored: plan.id, configured: configured.plan.id, source: configured.source }, 'FLEET_PLAN differs from the plan stored on first start; keeping the stored plan')
      } else {
        log.info({ plan: plan.id }, 'rollout plan loaded')
      }
      return plan
    },
  }
}
