import { AppError, quoteZh } from '../../../shared/src/index.js'

/** Not found, or outside the caller's scope: indistinguishable on purpose (as the cabinets' routes answer). */
export const cabinetNotFound = (cabinetId: string) => new AppError('CABINET_NOT_FOUND', `cabinet ${cabinetId} not found`, 404, { cabinetId }, quoteZh(cabinetId))
