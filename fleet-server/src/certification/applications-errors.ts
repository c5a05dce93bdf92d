// Errors of the certification workflow (issue 15).
import { AppError, type ApplicationState } from '../../../shared/src/index.js'

/** Not found, or outside the caller's scope: the two are indistinguishable on purpose. */
export const applicationNotFound = (id: number) => new AppError('APPLICATION_NOT_FOUND', `certification application ${id} not found`, 404, { applicationId: id })

export const applicationInvalid = (message: string, details: Record<string, unknown>) => new AppError('APPLICATION_INVALID', message, 409, details)

export const applicationOpenExists = (sku: string) =>
  new AppError('APPLICATION_OPEN_EXISTS', `product ${sku} already has a certification application in progress; finish or reject it first`, 409, { sku })

export const applicationStateInvalid = (id: number, state: ApplicationState, expected: readonly string[], action: string) =>
  new AppError('APPLICATION_STATE_INVALID', `application ${id} is ${state}; ${action} needs it ${expected.join(' or ')}`, 409, { applicationId: id, state, expected })

export const publicityEnded = (id: number, publicityTo: string) =>
  new AppError('PUBLICITY_ENDED', `the 公示 of application ${id} ended on ${publicityTo}; objections are taken only during it`, 409, { applicationId: id, publicityTo })

export const objectionNotFound = (id: number) => new AppError('OBJECTION_NOT_FOUND', `objection ${id} not found`, 404, { objectionId: id })

export const objectionResolved = (id: number, state: string) => new AppError('OBJECTION_RESOLVED', `objection ${id} is already ${state}`, 409, { objectionId: id, state })
