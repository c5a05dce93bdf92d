// Overview (总览, issue 15): the home page's figures per role, and the plan's
// targets against what was reached (also carried by reports).
export { createOverviewService, BELOW_LIST_MAX, TREND_DAYS, type OverviewService, type OverviewServiceDeps } from './service.js'
export { measuredTo, targetPace, targetsFor, type TargetPace, type TargetViewer } from './targets.js'
export { overviewRoutes } from './routes.js'
