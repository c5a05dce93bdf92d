// Periods the policy judges over: a day (2020-09-30), an ISO week (2020-W40,
// Monday to Sunday) or a month (2020-09). All are Asia/Shanghai calendar
// dates; a period ends at the start of the day after its last date.
import { shanghaiDayStartUtc } from '../../../shared/src/index.js'

export type PeriodKind = 'day' | 'week' | 'month'

export interface Period {
  readonly kind: PeriodKind
  readonly id: string
  /** First date, inclusive. */
  readonly from: string
  /** Last date, inclusive. */
  readonly to: string
}

const DAY_MS = 86_400_000
const utcDay = (date: string): number => Date.parse(`${date}T00:00:00.000Z`)
const fmt = (ms: number): string => new Date(ms).toISOString().slice(0, 10)

export function addDays(date: string, n: number): string {
  return fmt(utcDay(date) + n * DAY_MS)
}

/** Whole days from a to b (b − a). */
export function daysBetween(a: string, b: string): number {
  return Math.round((utcDay(b) - utcDay(a)) / DAY_MS)
}

/** a + n years − 1 day: the last day of an n-year validity starting on a (29 Feb → 28 Feb). */
export function plusYearsInclusive(date: string, years: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number]
  const target = new Date(Date.UTC(y + years, m - 1, 1))
  const lastOfMonth = new Date(Date.UTC(y + years, m, 0)).getUTCDate()
  target.setUTCDate(Math.min(d, lastOfMonth))
  return fmt(target.getTime() - DAY_MS)
}

/** a − n months, clamped to the month's length. */
export function minusMonths(date: string, months: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number]
  const first = new Date(Date.UTC(y, m - 1 - months, 1))
  const lastOfMonth = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 0)).getUTCDate()
  first.setUTCDate(Math.min(d, lastOfMonth))
  return fmt(first.getTime())
}

function isoWeek(date: string): { year: number; week: number; monday: string } {
  const ms = utcDay(date)
  const dow = (new Date(ms).getUTCDay() + 6) % 7 // Monday = 0
  const monday = ms - dow * DAY_MS
  const thursday = monday + 3 * DAY_MS
  const year = new Date(thursday).getUTCFullYear()
  const jan4 = Date.UTC(year, 0, 4)
  const week1Monday = jan4 - ((new Date(jan4).getUTCDay() + 6) % 7) * DAY_MS
  return { year, week: 1 + Math.round((monday - week1Monday) / (7 * DAY_MS)), monday: fmt(monday) }
}

/** The period of `kind` that contains `date`. */
export function periodOf(kind: PeriodKind, date: string): Period {
  switch (kind) {
    case 'day':
      return { kind, id: date, from: date, to: date }
    case 'week': {
      const w = isoWeek(date)
      return { kind, id: `${w.year}-W${String(w.week).padStart(2, '0')}`, from: w.monday, to: addDays(w.monday, 6) }
    }
    case 'month': {
      const [y, m] = date.split('-').map(Number) as [number, number]
      return { kind, id: date.slice(0, 7), from: `${date.slice(0, 7)}-01`, to: fmt(Date.UTC(y, m, 0)) }
    }
  }
}

/** Parses a period id (YYYY-MM-DD, YYYY-Www, YYYY-MM); null when it is not one. */
export function parsePeriod(id: string): Period | null {
  if (/^\d{4}-\d{2}-\d{2}$/.test(id)) {
    return Number.isNaN(utcDay(id)) || fmt(utcDay(id)) !== id ? null : periodOf('day', id)
  }
  const month = /^(\d{4})-(\d{2})$/.exec(id)
  if (month) {
    const m = Number(month[2])
    return m >= 1 && m <= 12 ? periodOf('month', `${id}-01`) : null
  }
  const week = /^(\d{4})-W(\d{2})$/.exec(id)
  if (week) {
    const year = Number(week[1])
    const n = Number(week[2])
    const jan4 = Date.UTC(year, 0, 4)
    const monday = fmt(jan4 - ((new Date(jan4).getUTCDay() + 6) % 7) * DAY_MS + (n - 1) * 7 * DAY_MS)
    const p = periodOf('week', monday)
    return n >= 1 && p.id === id ? p : null
  }
  return null
}

/** The UTC instant a period ends: the start (Asia/Shanghai) of the day after `to`. */
export function periodEnd(p: Pick<Period, 'to'>): Date {
  return shanghaiDayStartUtc(addDays(p.to, 1))
}
