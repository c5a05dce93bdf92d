// HTTP plumbing shared by the domains' route plugins.
export { createHttp, BODY_LIMIT_BYTES, type HttpOptions } from './server.js'
export { errorResponses } from './schemas.js'
export { assertUtf8Charset, unsupportedMediaType } from './content-type.js'
export { SESSION_COOKIE } from './cookies.js'
export { DEFAULT_RATE_LIMIT, type RateLimitOptions } from './rate-limit.js'
