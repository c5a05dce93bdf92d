import { AppError } from '../../../shared/src/index.js'

export const countyUnknown = (countyCode: string, planId: string, known: readonly string[]) =>
  new AppError('CABINET_COUNTY_UNKNOWN', `countyCode ${countyCode} is not a county of plan ${planId}; expected one of ${known.join(', ')}`, 400, { countyCode }, `“${countyCode}” 不是计划 “${planId}” 的区县；可选 ${known.map((k) => `“${k}”`).join('、')}`)

/**
 * A county user chose an id outside its county's range. Judged before any
 * lookup, so the answer is the same whether the id exists elsewhere or not.
 */
export const cabinetIdOutOfRange = (cabinetId: string, countyCode: string) =>
  new AppError('CABINET_ID_OUT_OF_RANGE', `cabinet id ${cabinetId} is outside county ${countyCode}'s range; ids you choose must start with "${countyCode}-" (e.g. ${countyCode}-00001)`, 403, { cabinetId, countyCode }, `“${cabinetId}” 不以 “${countyCode}-” 开头`)

/** Ids a caller may choose: admin any; everyone else only `${countyCode}-…` of its own county. */
export function isIdInRange(by: { readonly role: string }, cabinetId: string, countyCode: string): boolean {
  return by.role === 'admin' || cabinetId.startsWith(`${countyCode}-`)
}

/** The generator's ids: `${countyCode}-nnnnn`. */
export const generatedCabinetId = (countyCode: string, n: number): string => `${countyCode}-${String(n).padStart(5, '0')}`

/** The broker in use (a NATS cluster) cannot carry the id: refused before anything is stored. */
export const cabinetIdUnsupported = (cabinetId: string, problem: string) => new AppError('CABINET_ID_UNSUPPORTED', problem, 400, { cabinetId }, `“${cabinetId}”`)

export const cabinetIdTaken = (cabinetId: string) => new AppError('CABINET_ID_TAKEN', `cabinet id ${cabinetId} is already taken`, 409, { cabinetId }, `“${cabinetId}”`)

/** For callers who may see every cabinet; scoped callers get the access domain's NOT_FOUND. */
export const cabinetNotFound = (cabinetId: string) => new AppError('CABINET_NOT_FOUND', `cabinet ${cabinetId} not found`, 404, { cabinetId }, `“${cabinetId}”`)
