import { AppError, quoteZh } from '../../../shared/src/index.js'

/** Not found, or outside the caller's scope: indistinguishable on purpose. */
export const commandNotFound = (commandId: string) => new AppError('COMMAND_NOT_FOUND', `command ${commandId} not found`, 404, { commandId }, quoteZh(commandId))
export const cabinetNotFound = (cabinetId: string) => new AppError('CABINET_NOT_FOUND', `cabinet ${cabinetId} not found`, 404, { cabinetId }, quoteZh(cabinetId))
export const cabinetRetired = (cabinetId: string) =>
  new AppError('COMMAND_CABINET_RETIRED', `cabinet ${cabinetId} is retired; it takes no commands`, 409, { cabinetId }, `专柜 ${quoteZh(cabinetId)} 已撤除`)
