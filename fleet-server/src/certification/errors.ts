import { AppError, describeUsccProblem, type UsccProblem } from '../../../shared/src/index.js'

export const invalidUscc = (uscc: string, rule: UsccProblem) =>
  new AppError('INVALID_USCC', `uscc ${JSON.stringify(uscc)} is not a valid 统一社会信用代码: ${describeUsccProblem(rule)}`, 400, { uscc, rule })

export const supplierExists = (uscc: string) => new AppError('SUPPLIER_EXISTS', `supplier ${uscc} is already registered`, 409, { uscc })

export const supplierNotFound = (uscc: string) => new AppError('SUPPLIER_NOT_FOUND', `supplier ${uscc} not found; register it with POST /api/v1/suppliers`, 404, { uscc })

export const supplierBlacklisted = (uscc: string, from: string) =>
  new AppError('SUPPLIER_BLACKLISTED', `supplier ${uscc} is on the 扶贫失信黑名单 since ${from}; it may not add products or certificates`, 409, { uscc, blacklistedFrom: from })

export const productExists = (sku: string) => new AppError('PRODUCT_EXISTS', `product ${sku} already exists`, 409, { sku })

export const productNotFound = (sku: string) => new AppError('PRODUCT_NOT_FOUND', `product ${sku} not found; add it with POST /api/v1/products`, 404, { sku })

export const certExists = (no: string) => new AppError('CERT_EXISTS', `certificate ${no} already exists`, 409, { certificateNo: no })

export const certNotFound = (no: string) => new AppError('CERT_NOT_FOUND', `certificate ${no} not found`, 404, { certificateNo: no })

export const certValidityInvalid = (message: string, details: Record<string, unknown>) => new AppError('CERT_VALIDITY_INVALID', message, 400, details)

export const certRenewalTooEarly = (sku: string, current: string, validTo: string, mayApplyFrom: string) =>
  new AppError(
    'CERT_RENEWAL_TOO_EARLY',
    `product ${sku} holds certificate ${current} valid to ${validTo}; a new certificate may be applied for from ${mayApplyFrom} (3 months before expiry)`,
    409,
    { sku, current, validTo, mayApplyFrom },
  )

export const certRevocationInvalid = (no: string, revokedFrom: string, requested: string) =>
  new AppError(
    'CERT_REVOCATION_INVALID',
    `certificate ${no} is already revoked from ${revokedFrom}; a revocation can only move earlier, not to ${requested}`,
    409,
    { certificateNo: no, revokedFrom, requested },
  )

export const catalogFull = (max: number) =>
  new AppError('CATALOG_FULL', `the catalog holds ${max} products, the most one catalog message to the cabinets can carry; retire a product or split the catalog first`, 409, { maxProducts: max })

export const supplierCountyRequired = () =>
  new AppError('SUPPLIER_COUNTY_REQUIRED', 'countyCode is required: the supplier\'s registration county, whose officials review its applications', 400)

export const supplierCountyUnknown = (countyCode: string, known: readonly string[]) =>
  new AppError('SUPPLIER_COUNTY_UNKNOWN', `countyCode ${countyCode} is not a county of the plan in force (${known.join(', ')})`, 400, { countyCode })
