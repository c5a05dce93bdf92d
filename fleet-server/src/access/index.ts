// Access: bearer tokens, users, roles and scopes.
export { ensureAdminToken, ADMIN_TOKEN_FILE, BUILTIN_ADMIN_USERNAME, type AdminToken } from './admin-token.js'
export { createAccessService, type AccessService } from './service.js'
export { createLoginThrottle, DEFAULT_LOGIN_THROTTLE, type LoginThrottle, type LoginThrottleOptions } from './login-throttle.js'
export { createUserStore, type UserStore } from './store.js'
export { createAuthHook, principalOf, sessionRoutes, userRoutes, SESSION_COOKIE } from './routes.js'
export * from './policy.js'
export { notFound, outOfScope, unauthorized } from './errors.js'
