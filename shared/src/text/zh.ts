// The one source of zh-CN words that users read (issue 15): labels of the
// domain's enums and the number formats of money and shares. The dashboard,
// fleetctl, reports and alerts all take them from here; the dashboard gets
// them as /dashboard/zh.js (built from this module), so nothing is copied.
// Error messages are in ../errors.ts (ERROR_CODES) beside their codes.
import type { ALERT_KINDS } from '../api/rollout.js'
import type { FAULT_MODULES } from '../messages/telemetry.js'
import type { CERT_LEVELS, CERT_STATUSES, HOLD_REASONS } from '../api/catalog.js'
import type { APPLICATION_ACTIONS } from '../api/certification-workflow.js'
import type { CABINET_STATUSES, Role } from '../api/fleet.js'
import type { COMMAND_KINDS, COMMAND_STATES } from '../messages/command.js'
import type { NOTIFY_FORMATS, NOTIFY_STATES } from '../api/notifications.js'

type Labels<K extends string> = Readonly<Record<K, string>>

export const LABELS_ZH = {
  cabinetStatus: {
    planned: '规划中', site_assigned: '已定点', installed: '已安装', operating: '运营中', suspended: '暂停', retired: '已撤除',
  } satisfies Labels<(typeof CABINET_STATUSES)[number]>,
  role: { admin: '市级管理员', county: '县区', operator: '运营企业', auditor: '审计（只读）' } satisfies Labels<Role>,
  milestoneState: { met: '已完成', due: '进行中', missed: '已逾期' },
  alertKind: {
    offline: '离线超过 24 小时', behind_schedule: '进度落后', compliance_low: '扶贫产品占比不足', cert_expiring: '认定证书即将到期',
    forwarding_failing: '数据上报异常', sale_id_reused: '销售编号重复', clock_skew: '设备时钟偏差',
    signature_invalid: '销售签名校验失败',
    stock_out: '货道缺货', stock_low: '货道库存不足',
    temperature_high: '冷藏温度过高', door_open: '柜门长时间未关', device_fault: '设备故障', outbox_stale: '销售数据积压未上传',
    disk_full: '存储空间不足', two_agents: '同一专柜多个程序运行', ledger_tampered: '销售账本被篡改',
  } satisfies Labels<(typeof ALERT_KINDS)[number]>,
  severity: { warning: '警告', critical: '严重' },
  reportKind: { weekly: '周报', monthly: '月报', quarterly: '季报' },
  /** Forwarding to 社会扶贫网: a cabinet-period's or a batch's state. */
  forwardingState: { sent: '已上报', pending: '待上报', held: '暂缓上报', failed: '上报失败' },
  /** A cabinet's period against the certified-share threshold. */
  compliance: { compliant: '达标', nonCompliant: '未达标', noSales: '无销售' },
  certificateState: { active: '有效', expiring: '即将到期', expired: '已过期', revoked: '已撤销' },
  /** A cabinet's fields as users name them (the import's Chinese headers, the rejected rows' 字段). */
  cabinetField: {
    cabinetId: '专柜编号', countyCode: '区县代码', operator: '运营企业', siteName: '点位名称', siteAddress: '点位地址',
    venueType: '场所类型', latitude: '纬度', longitude: '经度', status: '状态',
  },
  /** Certification applications (issue 15). */
  applicationKind: { new: '新申请认定', renewal: '到期重新认定', change: '认定信息变更' },
  applicationState: {
    county_review: '县级审核中', city_review: '市级复核中', province_review: '省级审核中', publicity: '公示中', on_hold: '异议处理中', effective: '已认定', rejected: '未通过',
  },
  objectionState: { open: '待处理', upheld: '异议成立', dismissed: '异议不成立', moot: '申请已终止' },
  reviewStep: { county: '县级审核', city: '市级复核', province: '省级审核' },
  /** Why forwarding holds a cabinet-period (HOLD_REASONS). */
  holdReason: {
    NOT_COMPLIANT: '扶贫产品占比不足', INCOMPLETE_SYNC: '销售数据尚未同步完整', CHAIN_BROKEN: '账本校验发现篡改', SALE_ID_REUSED: '销售编号重复待核查',
  } satisfies Labels<(typeof HOLD_REASONS)[number]>,
  /** A certificate's status on a date (CERT_STATUSES). */
  certStatus: { pending: '尚未生效', valid: '有效', expired: '已过期', revoked: '已撤销' } satisfies Labels<(typeof CERT_STATUSES)[number]>,
  /** The issuing level of a certificate (CERT_LEVELS). */
  certLevel: { county: '县级', city: '市级', province: '省级', national: '国家级' } satisfies Labels<(typeof CERT_LEVELS)[number]>,
  /** A forwarded batch: the period's report or a correction of it. */
  batchKind: { report: '报送', correction: '更正' },
  /** A step of a certification application's history (APPLICATION_ACTIONS). */
  applicationAction: {
    submitted: '提交申请', approved: '审核通过', rejected: '不予通过', publicity_started: '开始公示', objection_lodged: '登记异议',
    objection_upheld: '异议成立', objection_dismissed: '异议不成立', publicity_resumed: '恢复公示', effective: '认定生效',
  } satisfies Labels<(typeof APPLICATION_ACTIONS)[number]>,
  /** The product facts the policy lists (issue 15; ProductFactsView and the name/origin/category beside them). */
  productFact: {
    name: '产品名称', priceFen: '售价', origin: '产地', category: '产品类别', scale: '生产规模', annualOutput: '年产量', supplyPeriod: '供货时间（上市季节）',
    priceRange: '价格区间', operator: '经营主体', householdsHelped: '带贫人数', materialSource: '生产资料来源',
  },
  /** A target's pace: met, or projected to meet it by the due date (onTrack), or not. */
  targetPace: { onTrack: '按期', behind: '落后' },
  /** What a plan target counts (OverviewTarget kind / measure). */
  targetMeasure: { amount: '销售额', certifiedAmount: '扶贫产品销售额', certified_products: '认定扶贫产品数' },
  // issue 16 (commands)
  commandKind: {
    price: '调价', planogram: '下发货道配置', 'catalog-refresh': '刷新商品目录', sync: '立即同步', restart: '重启终端程序', lock: '暂停销售', unlock: '恢复销售', restock: '登记补货',
  } satisfies Labels<(typeof COMMAND_KINDS)[number]>,
  commandState: { pending: '待送达', delivered: '已送达', done: '已执行', failed: '执行失败', expired: '已过期' } satisfies Labels<(typeof COMMAND_STATES)[number]>,
  // issue 16 (notifications)
  notifyFormat: { json: '通用 JSON', wecom: '企业微信群机器人', dingtalk: '钉钉群机器人' } satisfies Labels<(typeof NOTIFY_FORMATS)[number]>,
  notifyState: { pending: '待发送', sent: '已发送', failed: '发送失败', skipped: '未发送（不在订阅人范围内）' } satisfies Labels<(typeof NOTIFY_STATES)[number]>,
  notifyEvent: { raised: '发生', cleared: '恢复' },
  // issue 16 §3 (stock): the restock (pick) list's columns and the stock card's words
  stockField: {
    countyCode: '区县代码', countyName: '区县', siteName: '点位名称', cabinetId: '专柜编号', slot: '货道', sku: '商品编码', productName: '商品名称',
    capacity: '容量', par: '标准库存', qty: '现有库存', need: '需补数量', oversold: '超卖', reportedAt: '上报时间', total: '合计',
  },
  // issue 16 (telemetry)
  faultModule: { payment: '支付模块', vending: '出货模块', cooling: '制冷模块', other: '其他模块' } satisfies Labels<(typeof FAULT_MODULES)[number]>,
} as const

export type LabelGroup = keyof typeof LABELS_ZH

/** The label of an enum value, or the value itself where the group does not know it (never undefined). */
export function labelZh(group: LabelGroup, value: string): string {
  const g = LABELS_ZH[group] as Readonly<Record<string, string>>
  return Object.hasOwn(g, value) ? g[value]! : value
}

// The formatters below are self-contained (no imports, no closures): the
// dashboard's zh.js carries their source text, so they run in the browser as is.

/** 123456 fen → "1,234.56" (元, integer arithmetic, thousands separated). */
export function yuanZh(fen: number): string {
  const sign = fen < 0 ? '-' : ''
  const abs = Math.abs(Math.trunc(fen))
  const whole = String(Math.trunc(abs / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ',')
  return `${sign}${whole}.${String(abs % 100).padStart(2, '0')}`
}

/** 123456789 fen → "123.46 万元" for headline figures (rounded half up to 0.01 万元). */
export function wanYuanZh(fen: number): string {
  const sign = fen < 0 ? '-' : ''
  const abs = Math.abs(Math.trunc(fen))
  // 1 万元 = 1,000,000 fen; two decimals of 万元 = 10,000 fen.
  const hundredths = Math.floor((abs + 5_000) / 10_000)
  const whole = String(Math.trunc(hundredths / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ',')
  return `${sign}${whole}.${String(hundredths % 100).padStart(2, '0')} 万元`
}

/** 4312 basis points → "43.12%". */
export function percentBpZh(bp: number): string {
  const sign = bp < 0 ? '-' : ''
  const abs = Math.abs(Math.trunc(bp))
  return `${sign}${Math.trunc(abs / 100)}.${String(abs % 100).padStart(2, '0')}%`
}

/** An instant → "2020-09-30 18:05" in Beijing time (UTC+8, no daylight saving); "—" for none. */
export function beijingZh(instant: string | number | null | undefined): string {
  if (instant === null || instant === undefined || instant === '') return '—'
  const ms = typeof instant === 'number' ? instant : Date.parse(instant)
  if (!Number.isFinite(ms)) return '—'
  return new Date(ms + 8 * 3_600_000).toISOString().slice(0, 16).replace('T', ' ')
}

/** What /dashboard/zh.js sets as window.ZH: the labels, the error texts and the formatters above. */
export function dashboardTextScript(errors: Readonly<Record<string, string>>): string {
  const fns = [yuanZh, wanYuanZh, percentBpZh, beijingZh].map((f) => `${f.name}: ${f.toString()}`).join(',\n')
  return `'use strict';\n// Built by the fleet server from shared/src/text/zh.ts and shared/src/errors.ts.\nwindow.ZH = Object.freeze({\nlabels: ${JSON.stringify(LABELS_ZH)},\nerrors: ${JSON.stringify(errors)},\n${fns}\n});\n`
}
