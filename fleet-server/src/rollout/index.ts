// Rollout: the plan in force (counties, quotas, milestones, policy), and
// progress against it (counts, milestone states, projections).
export { createPlanStore, type PlanStore } from './plan-store.js'
export { createRolloutStore, type RolloutStore } from './store.js'
export { createRolloutService, milestoneState, requirement, DEFAULT_PACE_WINDOW_DAYS, type RolloutService } from './service.js'
export { rolloutRoutes } from './routes.js'
