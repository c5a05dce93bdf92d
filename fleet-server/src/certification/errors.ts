import { AppError, describeUsccProblem, type UsccProblem } from '../../../shared/src/index.js'

const USCC_PROBLEM_ZH: Readonly<Record<UsccProblem, string>> = {
  LENGTH: ' 不是 18 位',
  CHARSET: ' 只能含数字和大写字母（不含 I、O、S、V、Z）',
  DIVISION: ' 第 3–8 位须为 6 位行政区划代码',
  CHECK: ' 第 18 位校验码不符',
}

export const invalidUscc = (uscc: string, rule: UsccProblem) =>
  new AppError('INVALID_USCC', `uscc ${JSON.stringify(uscc)} is not a valid 统一社会信用代码: ${describeUsccProblem(rule)}`, 400, { uscc, rule }, `“${uscc}”${USCC_PROBLEM_ZH[rule]}`)

export const supplierExists = (uscc: string) => new AppError('SUPPLIER_EXISTS', `supplier ${uscc} is already registered`, 409, { uscc }, `“${uscc}”`)

export const supplierNotFound = (uscc: string) => new AppError('SUPPLIER_NOT_FOUND', `supplier ${uscc} not found; register it with POST /api/v1/suppliers`, 404, { uscc }, `“${uscc}” 尚未登记，请先登记经营主体`)

export const supplierBlacklisted = (uscc: string, from: string) =>
  new AppError('SUPPLIER_BLACKLISTED', `supplier ${uscc} is on the 扶贫失信黑名单 since ${from}; it may not add products or certificates`, 409, { uscc, blacklistedFrom: from }, `“${uscc}” 自 ${from} 起列入黑名单，不能新增商品或认定证书`)

export const productExists = (sku: string) => new AppError('PRODUCT_EXISTS', `product ${sku} already exists`, 409, { sku }, `“${sku}”`)

export const productNotFound = (sku: string) => new AppError('PRODUCT_NOT_FOUND', `product ${sku} not found; add it with POST /api/v1/products`, 404, { sku }, `“${sku}” 尚未登记，请先新增商品`)

export const certExists = (no: string) => new AppError('CERT_EXISTS', `certificate ${no} already exists`, 409, { certificateNo: no }, `“${no}”`)

export const certNotFound = (no: string) => new AppError('CERT_NOT_FOUND', `certificate ${no} not found`, 404, { certificateNo: no }, `“${no}”`)

export const certValidityInvalid = (message: string, details: Record<string, unknown>, zh: string) => new AppError('CERT_VALIDITY_INVALID', message, 400, details, zh)

export const certRenewalTooEarly = (sku: string, current: string, validTo: string, mayApplyFrom: string) =>
  new AppError(
    'CERT_RENEWAL_TOO_EARLY',
    `product ${sku} holds certificate ${current} valid to ${validTo}; a new certificate may be applied for from ${mayApplyFrom} (3 months before expiry)`,
    409,
    { sku, current, validTo, mayApplyFrom },
    `商品 “${sku}” 的认定证书 “${current}” 有效至 ${validTo}，自 ${mayApplyFrom} 起方可再次申请`,
  )

export const certRevocationInvalid = (no: string, revokedFrom: string, requested: string) =>
  new AppError(
    'CERT_REVOCATION_INVALID',
    `certificate ${no} is already revoked from ${revokedFrom}; a revocation can only move earlier, not to ${requested}`,
    409,
    { certificateNo: no, revokedFrom, requested },
    `认定证书 “${no}” 已自 ${revokedFrom} 起撤销，撤销日期只能提前，不能改为 ${requested}`,
  )

export const catalogFull = (max: number) =>
  new AppError('CATALOG_FULL', `the catalog holds ${max} products, the most one catalog message to the cabinets can carry; retire a product or split the catalog first`, 409, { maxProducts: max }, `目录最多 ${max} 种商品，请先停用商品或拆分目录`)

export const supplierCountyRequired = () =>
  new AppError('SUPPLIER_COUNTY_REQUIRED', 'countyCode is required: the supplier\'s registration county, whose officials review its applications', 400, undefined, '请填写 “countyCode”')

export const supplierCountyUnknown = (countyCode: string, known: readonly string[]) =>
  new AppError('SUPPLIER_COUNTY_UNKNOWN', `countyCode ${countyCode} is not a county of the plan in force (${known.join(', ')})`, 400, { countyCode }, `区县代码 “${countyCode}” 不在当前布设计划中`)
