// One error type for the whole system, with a catalogue of codes. Codes are the
// contract (HTTP bodies, MQTT reject replies); `errorTextZh` gives the Chinese
// text user interfaces show beside them.

export const ERROR_CODES = {
  // generic
  VALIDATION_FAILED: '请求内容不符合要求',
  NOT_FOUND: '对象不存在或无权查看',
  UNAUTHORIZED: '未登录或令牌无效',
  ACCESS_OUT_OF_SCOPE: '无权访问该对象',
  USER_EXISTS: '用户名已存在',
  CONFIG_INVALID: '配置无效',
  INTERNAL: '服务器内部错误',
  PAYLOAD_TOO_LARGE: '请求内容过大',
  BROKER_UNAVAILABLE: '消息集群暂时无法完成操作，请稍后重试',
  // cabinets
  CABINET_NOT_FOUND: '专柜不存在',
  CABINET_ID_TAKEN: '专柜编号已被使用',
  CABINET_ID_UNSUPPORTED: '专柜编号含有本部署消息集群不支持的字符（如“.”）',
  CABINET_COUNTY_UNKNOWN: '区县代码不在当前布设计划中',
  CABINET_STATUS_INVALID: '专柜状态变更不合法',
  // plans
  PLAN_INVALID: '布设计划数据无效',
  PLAN_NOT_FOUND: '找不到布设计划',
  // suppliers
  INVALID_USCC: '统一社会信用代码无效',
  SUPPLIER_EXISTS: '该统一社会信用代码的经营主体已登记',
  SUPPLIER_NOT_FOUND: '经营主体不存在',
  SUPPLIER_BLACKLISTED: '经营主体已列入扶贫失信黑名单',
  // catalog (issue 3): products and certificates
  PRODUCT_EXISTS: '商品编码已存在',
  PRODUCT_NOT_FOUND: '商品不存在',
  CERT_EXISTS: '认定证书编号已存在',
  CERT_NOT_FOUND: '认定证书不存在',
  CERT_VALIDITY_INVALID: '认定证书有效期不合法（起止日期或超过一年）',
  CERT_RENEWAL_TOO_EARLY: '现有认定在有效期满前三个月内方可再次申请',
  CERT_REVOCATION_INVALID: '撤销认定的生效日期不合法',
  // compliance and forwarding (issue 3)
  COMPLIANCE_RANGE_INVALID: '查询期间不合法',
  // MQTT ingest (reject replies)
  BAD_MESSAGE: '消息格式错误',
  MESSAGE_TOO_LARGE: '消息超过大小上限',
  UNSUPPORTED_VERSION: '消息版本不受支持',
  CABINET_MISMATCH: '消息中的专柜编号与主题或登录身份不一致',
  SALE_TOTAL_MISMATCH: '销售总额与明细不符',
  SALE_SEQ_GAP: '销售序号不连续',
  SALE_CHAIN_BROKEN: '销售哈希链校验失败',
  SALE_TAMPERED: '同一序号的销售内容被改动',
  // edge agent
  LEDGER_WRITE_FAILED: '销售记录写入本地存储失败，本笔未记录',
  // rollout, sessions, alerts (issue 4)
  CABINET_SITE_REQUIRED: '专柜需先落实具体点位（名称和场所类型）',
  CABINET_IMPORT_INVALID: '导入文件有错误行，未导入任何专柜',
  LOGIN_FAILED: '用户名或密码错误',
  LOGIN_THROTTLED: '登录失败次数过多，请稍后再试',
  ALERT_NOT_FOUND: '告警不存在或无权查看',
  // reports (报表)
  REPORT_PERIOD_INVALID: '报表期间与报表类型不符（周报 2020-W40，月报 2020-09，季报 2020-Q3）',
  REPORT_PERIOD_NOT_STARTED: '报表期间尚未开始',
  REPORT_FORMAT_INVALID: '报表格式不支持（可选 “json”、“csv”、“xlsx”）',
  REPORT_COUNTY_UNKNOWN: '区县代码不在当前布设计划中',
  REPORT_NOT_FOUND: '报表不存在或无权查看',
  // forwarding and catalog limits (issue 3)
  FORWARDING_BATCH_NOT_FOUND: '转发批次不存在',
  FORWARDING_BATCH_NOT_FAILED: '该转发批次不在失败列表中，无需重试',
  CATALOG_FULL: '商品目录已达下发上限',
  // issue 12 (http)
  UNSUPPORTED_MEDIA_TYPE: '请求内容类型不支持（请使用 UTF-8 编码的 “application/json”；批量导入使用 “text/csv”）',
  RATE_LIMITED: '请求过于频繁，请稍后再试',
  CABINET_ID_OUT_OF_RANGE: '专柜编号须以本区县代码开头（如 341125-00001）',
  // issue 12 (flags)
  SALE_FLAG_NOT_FOUND: '销售标记不存在或无权查看',
  SALE_FLAG_RESOLVED: '该销售标记已处理，不能重复处理',
  CHAIN_NOT_TAMPERED: '该专柜的销售账本没有篡改标记，无需处理',
  // issue 13 (backup)
  BACKUP_FAILED: '数据库备份失败，未生成备份文件',
  BACKUP_NOT_FOUND: '备份文件不存在',
  BACKUP_NOT_SQLITE: '本服务器使用 PostgreSQL 数据库，不提供内置备份；请使用 “pg_dump” 或流复制备份',
  // issue 15 (certification workflow)
  SUPPLIER_COUNTY_REQUIRED: '请填写经营主体的注册地区县（县级用户默认本县）',
  SUPPLIER_COUNTY_UNKNOWN: '经营主体的注册地区县不在当前布设计划中',
  APPLICATION_NOT_FOUND: '认定申请不存在或无权查看',
  APPLICATION_INVALID: '认定申请内容与现有商品或证书不符',
  APPLICATION_OPEN_EXISTS: '该商品已有办理中的认定申请',
  APPLICATION_STATE_INVALID: '认定申请当前所处环节不能进行此操作',
  PUBLICITY_ENDED: '公示期已结束，不能再提出异议',
  OBJECTION_NOT_FOUND: '异议不存在或无权查看',
  OBJECTION_RESOLVED: '该异议已处理，不能重复处理',
  // issue 15 (overview)
  OVERVIEW_DATE_INVALID: '总览日期不合法（不能晚于今天）',
  // issue 16 (deployment)
  ENROLL_CODE_UNKNOWN: '引导码无效，请核对后重试，或向运营企业索取新的引导码',
  ENROLL_CODE_USED: '引导码已被使用过，每个引导码只能用一次；请向运营企业索取新的引导码',
  ENROLL_CODE_EXPIRED: '引导码已过期，请向运营企业索取新的引导码',
  ENROLL_KEY_INVALID: '签名公钥不合法（应为 Ed25519 公钥）',
  ENROLL_THROTTLED: '引导码错误次数过多，请稍后再试',
  ENROLL_CABINET_RETIRED: '专柜已撤除，不能再部署',
  // issue 16 (commands)
  COMMAND_NOT_FOUND: '远程指令不存在或无权查看',
  COMMAND_CABINET_RETIRED: '专柜已撤除，不能再下发远程指令',
  SALES_LOCKED: '本专柜已被远程暂停销售，请联系运营企业',
  // issue 16 §2 (signed sales)
  SIGNATURE_MISSING: '销售批次缺少专柜签名',
  SIGNATURE_INVALID: '销售批次签名校验失败',
  AUDIT_MONTH_INVALID: '月份应写作四位年份加两位月份，如 2026-12',
  // issue 16 (notifications)
  NOTIFY_URL_INVALID: '通知地址须为以 “http://” 或 “https://” 开头的网址',
  NOTIFY_SUBSCRIPTION_NOT_FOUND: '通知订阅不存在或无权查看',
  NOTIFY_SECRET_UNSUPPORTED: '只有钉钉群机器人支持加签密钥',
} as const

export type ErrorCode = keyof typeof ERROR_CODES

/**
 * `message` is English, for logs; what users read is `messageZh`: the code's
 * text, then `zh`, the specifics (which value, what was expected) in Chinese.
 */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly statusCode = 400,
    readonly details?: Record<string, unknown>,
    readonly zh?: string,
  ) {
    super(message)
    this.name = 'AppError'
  }

  get messageZh(): string {
    return this.zh ? `${ERROR_CODES[this.code]}：${this.zh}` : ERROR_CODES[this.code]
  }
}

export function errorTextZh(code: ErrorCode): string {
  return ERROR_CODES[code]
}

/** Literal values (ids, codes, enum values) inside Chinese text: “341125”. */
export const quoteZh = (value: unknown): string => `“${String(value)}”`

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError
}
