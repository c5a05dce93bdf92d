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
      const raw = JSON.parse(stored) as Record<string, unknown>
      const plan = parsePlan(raw, 'database')
      // Keys the plan schema gained after this plan was stored (targets,
      // issue 15) are taken from the configured plan when all it stored is
      // unchanged: they add data and shift nothing under existing data.
      const added = Object.keys(configured.plan).filter((k) => !(k in raw)) as Array<keyof Plan>
      if (added.length > 0) {
        const merged: Record<string, unknown> = { ...plan }
        for (const k of added) merged[k] = configured.plan[k]
        if (JSON.stringify(merged) === JSON.stringify(configured.plan)) {
          await db.kysely.updateTable('meta').set({ value: JSON.stringify(configured.plan) }).where('key', '=', 'plan').execute()
          log.info({ plan: plan.id, added }, 'stored rollout plan completed with the keys it predates')
          return configured.plan
        }
      }
      if (JSON.stringify(plan) !== JSON.stringify(configured.plan)) {
        log.warn({ stored: plan.id, configured: configured.plan.id, source: configured.source }, 'FLEET_PLAN differs from the plan stored on first start; keeping the stored plan')
      } else {
        log.info({ plan: plan.id }, 'rollout plan loaded')
      }
      return plan
    },
  }
}
