import { AppError } from '../../../shared/src/index.js'

export const unauthorized = (message: string) => new AppError('UNAUTHORIZED', message, 401)
export const outOfScope = (message: string) => new AppError('ACCESS_OUT_OF_SCOPE', message, 403)
/** Not found, or outside the caller's scope: the two are indistinguishable on purpose. */
export const notFound = (what: string) => new AppError('NOT_FOUND', `${what} not found`, 404)
export const userExists = (username: string) => new AppError('USER_EXISTS', `username ${username} is already taken`, 409, { username })
