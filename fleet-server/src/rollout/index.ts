// Rollout: the plan in force (counties, quotas, milestones, policy). Progress
// views and lifecycle rules come with the rollout issue.
export { createSqlitePlanStore, type PlanStore } from './plan-store.js'
