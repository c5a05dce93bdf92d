// A report document laid out as the tables officials read — 汇总 (the title
// and per-county figures with totals), 专柜明细 (one row per cabinet, with
// totals) and 说明 (period, scope, how it was made) — with typed cells that the
// CSV and XLSX renderers format. Money stays integer fen; the 元 columns,
// percentages and totals are computed from integers, never through floats. Labels come from
// shared/src/text/zh.ts (issue 15).
import {
  formatShanghai,
  LABELS_ZH,
  labelZh,
  percentBpZh,
  shareBp,
  type ReportDocument,
  type ReportForwarding,
  type ReportSales,
  type RolloutCounts,
} from '../../../shared/src/index.js'

/** An amount in fen shown in 元 with two decimals. */
export interface Yuan {
  readonly yuanOfFen: number
}
/** A share in basis points shown as a percentage with two decimals. */
export interface Percent {
  readonly pctOfBp: number
}
export type Cell = string | number | Yuan | Percent | null

export interface Row {
  readonly cells: readonly Cell[]
  readonly isHeader?: boolean
  /** The 合计 row under a table: outside its filter range, so sorting leaves it last. */
  readonly isTotal?: boolean
  /** A heading above a table (the report's title). */
  readonly isTitle?: boolean
}

export interface Sheet {
  readonly name: string
  readonly rows: readonly Row[]
  /** Column widths in characters, for XLSX. */
  readonly widths: readonly number[]
  /** Rows kept in view when scrolling (XLSX): up to and including the table's header row. */
  readonly frozenRows?: number
  /** 0-based index of the table's header row; the filter spans from it to the last row before the totals. */
  readonly headerRow: number
}

export const isYuan = (c: Cell): c is Yuan => typeof c === 'object' && c !== null && 'yuanOfFen' in c
export const isPercent = (c: Cell): c is Percent => typeof c === 'object' && c !== null && 'pctOfBp' in c

/** 123456 fen → "1234.56" (non-negative integers; integer arithmetic only). */
export function yuanText(fen: number): string {
  const sign = fen < 0 ? '-' : ''
  const abs = Math.abs(fen)
  return `${sign}${Math.trunc(abs / 100)}.${String(abs % 100).padStart(2, '0')}`
}

/** 4312 bp → "0.4312": the share as a decimal number for a spreadsheet's percent format. */
export function bpDecimal(bp: number): string {
  return `${Math.trunc(bp / 10_000)}.${String(bp % 10_000).padStart(4, '0')}`
}

/** 4312 bp → "43.12%". */
export const bpPercent = percentBpZh

const yuan = (fen: number): Yuan => ({ yuanOfFen: fen })
const pct = (bp: number): Percent => ({ pctOfBp: bp })

const COUNTY_HEAD = [
  '区县代码', '区县', '任务数', '已定点', '已安装', '运营中', '在线',
  '销售笔数', '销售额(分)', '销售额(元)', '扶贫产品销售额(分)', '扶贫产品销售额(元)', '扶贫产品占比', '达标专柜数', '参评专柜数',
  ...(['sent', 'pending', 'held', 'failed'] as const).map((s) => LABELS_ZH.forwardingState[s]),
]

function countyCells(code: string, name: string, r: RolloutCounts, s: ReportSales, f: ReportForwarding): Cell[] {
  return [
    code, name, r.quota, r.sitesAssigned, r.installed, r.operating, r.online,
    s.salesCount, s.amountFen, yuan(s.amountFen), s.certifiedAmountFen, yuan(s.certifiedAmountFen), pct(s.shareBp), s.compliantCabinets, s.judgedCabinets,
    f.sent, f.pending, f.held, f.failed,
  ]
}

const CABINET_HEAD = ['专柜编号', '区县代码', '区县', '运营企业', '点位', '场所类型', '状态', '销售笔数', '销售额(分)', '销售额(元)', '扶贫产品销售额(分)', '扶贫产品销售额(元)', '扶贫产品占比', '是否达标']

const TARGET_HEAD = ['目标编号', '目标', '范围', '计量', '单位', '目标值', '完成', '完成率', '按进度应完成', '预计到期完成', '开始日期', '截止日期', '是否按期', '状态']

/** Fen figures as 元 cells, counts as numbers. */
const figure = (n: number, unit: 'fen' | 'count'): Cell => (unit === 'fen' ? yuan(n) : n)

/** 目标进度: the plan's targets the scope sees, as at targetsAsOf (the overview's figures). */
function targetsSheet(doc: ReportDocument): Sheet | null {
  if (doc.targets === undefined) return null
  const rows: Row[] = [
    { cells: TARGET_HEAD, isHeader: true },
    ...doc.targets.map((t) => ({
      cells: [
        t.id, t.description, t.scope.name, labelZh('targetMeasure', t.measure ?? t.kind), t.unit === 'fen' ? '元' : '个',
        figure(t.target, t.unit), figure(t.actual, t.unit), pct(shareBp(t.actual, t.target)), figure(t.expectedByNow, t.unit), figure(t.projected, t.unit),
        t.startDate, t.dueDate, LABELS_ZH.targetPace[t.onTrack ? 'onTrack' : 'behind'], labelZh('milestoneState', t.state),
      ],
    })),
  ]
  return { name: '目标进度', rows, widths: [26, 48, 12, 16, 6, 18, 18, 10, 18, 18, 12, 12, 10, 8], headerRow: 0, frozenRows: 1 }
}

const CATALOG_HEAD = ['区县代码', '区县', '认定扶贫产品数', '计划目标', '完成率', '30日内到期证书', '公示中申请']

/** 扶贫产品目录: certified products per county against the plan's targets, expiring certificates, applications in 公示. */
function catalogSheet(doc: ReportDocument): Sheet | null {
  const c = doc.catalog
  if (c === undefined) return null
  const cells = (code: string, name: string, x: { certifiedProducts: number; certifiedProductsTarget: number | null; expiringCertificates: number; inPublicity: number }): Cell[] => [
    code, name, x.certifiedProducts, x.certifiedProductsTarget, x.certifiedProductsTarget === null ? null : pct(shareBp(x.certifiedProducts, x.certifiedProductsTarget)), x.expiringCertificates, x.inPublicity,
  ]
  const head = c.expiringWithinDays === 30 ? CATALOG_HEAD : CATALOG_HEAD.map((h) => (h === '30日内到期证书' ? `${c.expiringWithinDays}日内到期证书` : h))
  const rows: Row[] = [
    { cells: [`扶贫产品目录（截至 ${c.asOf}）`], isTitle: true },
    { cells: head, isHeader: true },
    ...c.counties.map((x) => ({ cells: cells(x.code, x.name, x) })),
    { cells: cells('', '合计', c.totals), isTotal: true },
  ]
  return { name: '扶贫产品目录', rows, widths: [12, 12, 16, 12, 10, 16, 12], headerRow: 1, frozenRows: 2 }
}

/** The report's tables: 汇总, 目标进度 and 扶贫产品目录 (when the document has them), 专柜明细, 说明. */
export function reportSheets(doc: ReportDocument): Sheet[] {
  const summary: Row[] = [
    { cells: [doc.title], isTitle: true },
    { cells: COUNTY_HEAD, isHeader: true },
    ...doc.counties.map((c) => ({ cells: countyCells(c.code, c.name, c.rollout, c.sales, c.forwarding) })),
    { cells: countyCells('', '合计', doc.totals.rollout, doc.totals.sales, doc.totals.forwarding), isTotal: true },
  ]
  const sum = { salesCount: 0, amountFen: 0, certifiedAmountFen: 0, compliant: 0, judged: 0 }
  for (const c of doc.cabinets) {
    sum.salesCount += c.salesCount
    sum.amountFen += c.amountFen
    sum.certifiedAmountFen += c.certifiedAmountFen
    if (c.compliant !== null) sum.judged++
    if (c.compliant === true) sum.compliant++
  }
  const cabinets: Row[] = [
    { cells: CABINET_HEAD, isHeader: true },
    ...doc.cabinets.map((c) => ({
      cells: [
        c.cabinetId, c.countyCode, c.countyName, c.operator, c.siteName, c.venueType, labelZh('cabinetStatus', c.status),
        c.salesCount, c.amountFen, yuan(c.amountFen), c.certifiedAmountFen, yuan(c.certifiedAmountFen), pct(c.shareBp),
        LABELS_ZH.compliance[c.compliant === null ? 'noSales' : c.compliant ? 'compliant' : 'nonCompliant'],
      ],
    })),
    {
      cells: [
        '合计', '', '', '', '', '', '',
        sum.salesCount, sum.amountFen, yuan(sum.amountFen), sum.certifiedAmountFen, yuan(sum.certifiedAmountFen), pct(shareBp(sum.certifiedAmountFen, sum.amountFen)),
        `达标 ${sum.compliant}/${sum.judged}`,
      ],
      isTotal: true,
    },
  ]
  const notes: Row[] = [
    { cells: ['项目', '内容'], isHeader: true },
    { cells: ['报表名称', doc.title] },
    { cells: ['报表类型', labelZh('reportKind', doc.kind)] },
    { cells: ['统计期间', `${doc.from} 至 ${doc.to}（北京时间）`] },
    { cells: ['统计范围', doc.scopeName] },
    { cells: ['报送期限', doc.dueOn ?? '—'] },
    { cells: ['生成时间', `${formatShanghai(doc.createdAt)}（北京时间）`] },
    { cells: ['生成方式', doc.scheduled ? '定时生成' : `手动生成（${doc.createdBy}）`] },
    { cells: ['期间状态', doc.isComplete ? '期间已结束' : '期间未结束，数据截至生成时间'] },
    { cells: ['扶贫产品销售额占比要求', `不低于 ${bpPercent(doc.threshold.bp)}`] },
    { cells: ['说明', `销售数据为统计期间内数据；布设进度与上报状态为生成时数据；报表编号 ${doc.reportId}`] },
  ]
  if (doc.targetsAsOf !== undefined) notes.splice(notes.length - 1, 0, { cells: ['目标进度与目录截至', `${doc.targetsAsOf}（期间最后一天，期间未结束时为生成当天）`] })
  return [
    { name: '汇总', rows: summary, widths: [22, 40, 8, 8, 8, 8, 8, 10, 14, 14, 18, 18, 12, 10, 10, 8, 8, 10, 10], headerRow: 1, frozenRows: 2 },
    ...[targetsSheet(doc), catalogSheet(doc)].filter((x): x is Sheet => x !== null),
    { name: '专柜明细', rows: cabinets, widths: [18, 10, 10, 16, 28, 10, 8, 10, 14, 14, 18, 18, 12, 10], headerRow: 0, frozenRows: 1 },
    { name: '说明', rows: notes, widths: [24, 80], headerRow: 0, frozenRows: 1 },
  ]
}
