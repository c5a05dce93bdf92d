import { AppError } from '../../../shared/src/index.js'

export const countyUnknown = (countyCode: string, planId: string, known: readonly string[]) =>
  new AppError('CABINET_COUNTY_UNKNOWN', `countyCode ${countyCode} is not a county of plan ${planId}; expected one of ${known.join(', ')}`, 400, { countyCode })

export const cabinetIdTaken = (cabinetId: string) => new AppError('CABINET_ID_TAKEN', `cabinet id ${cabinetId} is already taken`, 409, { cabinetId })

/** For callers who may see every cabinet; scoped callers get the access domain's NOT_FOUND. */
export const cabinetNotFound = (cabinetId: string) => new AppError('CABINET_NOT_FOUND', `cabinet ${cabinetId} not found`, 404, { cabinetId })
