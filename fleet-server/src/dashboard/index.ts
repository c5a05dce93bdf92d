// Dashboard: static zh-CN web pages over the /api/v1 endpoints.
export { dashboardRoutes } from './routes.js'
