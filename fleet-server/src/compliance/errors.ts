import { AppError } from '../../../shared/src/index.js'

export const rangeInvalid = (message: string, details: Record<string, unknown>, zh: string) => new AppError('COMPLIANCE_RANGE_INVALID', message, 400, details, zh)
