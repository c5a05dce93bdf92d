// Report periods: an ISO week (2020-W40, Monday to Sunday), a month (2020-09)
// or a quarter (2020-Q3), all Asia/Shanghai calendar dates. Weeks and months
// are the compliance domain's periods; a quarter is three whole months.
import type { ReportKind } from '../../../shared/src/index.js'
import { addDays, parsePeriod, periodOf } from '../compliance/index.js'

export interface ReportPeriod {
  readonly kind: ReportKind
  readonly id: string
  /** First date, inclusive. */
  readonly from: string
  /** Last date, inclusive. */
  readonly to: string
}

/** The form each kind's period id takes, for error messages. */
export const PERIOD_FORMS: Record<ReportKind, string> = {
  weekly: 'an ISO week YYYY-Www, e.g. 2020-W40',
  monthly: 'a month YYYY-MM, e.g. 2020-09',
  quarterly: 'a quarter YYYY-Qn, e.g. 2020-Q3',
}

const lastOfMonth = (year: number, month: number): string => new Date(Date.UTC(year, month, 0)).toISOString().slice(0, 10)

function quarter(year: number, q: number): ReportPeriod {
  const first = 3 * q - 2
  return { kind: 'quarterly', id: `${year}-Q${q}`, from: `${year}-${String(first).padStart(2, '0')}-01`, to: lastOfMonth(year, first + 2) }
}

/** The period of `kind` with id `id`; null when `id` is not such a period (2020-W54, 2020-13, 2020-Q5, a month for weekly …). */
export function parseReportPeriod(kind: ReportKind, id: string): ReportPeriod | null {
  switch (kind) {
    case 'weekly': {
      if (!/^\d{4}-W\d{2}$/.test(id)) return null
      const p = parsePeriod(id)
      return p ? { kind, id: p.id, from: p.from, to: p.to } : null
    }
    case 'monthly': {
      if (!/^\d{4}-\d{2}$/.test(id)) return null
      const p = parsePeriod(id)
      return p ? { kind, id: p.id, from: p.from, to: p.to } : null
    }
    case 'quarterly': {
      const m = /^(\d{4})-Q([1-4])$/.exec(id)
      return m ? quarter(Number(m[1]), Number(m[2])) : null
    }
  }
}

/** The period of `kind` that contains `date` (YYYY-MM-DD). */
export function reportPeriodOf(kind: ReportKind, date: string): ReportPeriod {
  switch (kind) {
    case 'weekly': {
      const p = periodOf('week', date)
      return { kind, id: p.id, from: p.from, to: p.to }
    }
    case 'monthly': {
      const p = periodOf('month', date)
      return { kind, id: p.id, from: p.from, to: p.to }
    }
    case 'quarterly': {
      const [y, m] = date.split('-').map(Number) as [number, number]
      return quarter(y, Math.ceil(m / 3))
    }
  }
}

/** The period just before `p`. */
export function previousPeriod(p: ReportPeriod): ReportPeriod {
  return reportPeriodOf(p.kind, addDays(p.from, -1))
}

/** "2020年第40周，2020-09-28至2020-10-04", "2020年9月", "2020年第三季度". */
export function periodNameZh(p: ReportPeriod): string {
  const year = p.id.slice(0, 4)
  switch (p.kind) {
    case 'weekly':
      return `${year}年第${Number(p.id.slice(6))}周，${p.from}至${p.to}`
    case 'monthly':
      return `${year}年${Number(p.id.slice(5))}月`
    case 'quarterly':
      return `${year}年第${'一二三四'[Number(p.id.slice(6)) - 1]}季度`
  }
}
