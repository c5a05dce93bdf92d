import { AppError } from '../../../shared/src/index.js'

// Each takes the English text for the log and, where there are specifics, the Chinese one users read.
export const unauthorized = (message: string, zh?: string) => new AppError('UNAUTHORIZED', message, 401, undefined, zh)
export const outOfScope = (message: string, zh?: string) => new AppError('ACCESS_OUT_OF_SCOPE', message, 403, undefined, zh)
/** Not found, or outside the caller's scope: the two are indistinguishable on purpose. */
export const notFound = (what: string, zh?: string) => new AppError('NOT_FOUND', `${what} not found`, 404, undefined, zh)
export const userExists = (username: string) => new AppError('USER_EXISTS', `username ${username} is already taken`, 409, { username }, `“${username}”`)
