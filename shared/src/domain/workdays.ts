// Working days (工作日) in mainland China: Monday to Friday, less the public
// holidays (法定节假日) and plus the weekend days worked in their place (调休),
// as the State Council announces them each year. The calendar is data: add a
// year's notice to WORKDAY_CALENDAR. Dates outside the years it covers count
// weekends only (calendarCovers() tells a caller to log that).
import { z } from 'zod'
import { CalendarDate } from './time.js'

export const WorkdayCalendar = z.strictObject({
  /** Years whose notices are in the data (YYYY). */
  years: z.array(z.number().int()),
  /** Days off that would otherwise be working days, and the holidays themselves. */
  holidays: z.array(CalendarDate),
  /** Saturdays and Sundays that are working days (调休上班). */
  workdays: z.array(CalendarDate),
})
export type WorkdayCalendar = z.infer<typeof WorkdayCalendar>

/** Inclusive list of the dates from `from` to `to`. */
function span(from: string, to: string): string[] {
  const out: string[] = []
  for (let ms = Date.parse(`${from}T00:00:00Z`), end = Date.parse(`${to}T00:00:00Z`); ms <= end; ms += 86_400_000) out.push(new Date(ms).toISOString().slice(0, 10))
  return out
}

/**
 * 2020: 国办发明电〔2019〕16号, with the Spring Festival extended to 2 February
 * by 国办发明电〔2020〕1号 (1 February, a Saturday first due to be worked, was
 * then a day off). 2021: 国办发明电〔2020〕27号.
 */
export const WORKDAY_CALENDAR: WorkdayCalendar = WorkdayCalendar.parse({
  years: [2020, 2021],
  holidays: [
    '2020-01-01',
    ...span('2020-01-24', '2020-02-02'), // 春节 (extended)
    ...span('2020-04-04', '2020-04-06'), // 清明节
    ...span('2020-05-01', '2020-05-05'), // 劳动节
    ...span('2020-06-25', '2020-06-27'), // 端午节
    ...span('2020-10-01', '2020-10-08'), // 国庆节、中秋节
    ...span('2021-01-01', '2021-01-03'), // 元旦
    ...span('2021-02-11', '2021-02-17'), // 春节
    ...span('2021-04-03', '2021-04-05'), // 清明节
    ...span('2021-05-01', '2021-05-05'), // 劳动节
    ...span('2021-06-12', '2021-06-14'), // 端午节
    ...span('2021-09-19', '2021-09-21'), // 中秋节
    ...span('2021-10-01', '2021-10-07'), // 国庆节
  ],
  workdays: ['2020-01-19', '2020-04-26', '2020-05-09', '2020-06-28', '2020-09-27', '2020-10-10', '2021-02-07', '2021-02-20', '2021-04-25', '2021-05-08', '2021-09-18', '2021-09-26', '2021-10-09'],
})

export interface Workdays {
  isWorkingDay(date: string): boolean
  /** The n-th working day after `date` (not counting `date` itself); n ≥ 1. */
  addWorkingDays(date: string, n: number): string
  /** Whether the calendar has the holiday notice of `date`'s year. */
  covers(date: string): boolean
}

export function workdaysOf(calendar: WorkdayCalendar = WORKDAY_CALENDAR): Workdays {
  const holidays = new Set(calendar.holidays)
  const worked = new Set(calendar.workdays)
  const years = new Set(calendar.years)
  const isWorkingDay = (date: string): boolean => {
    if (holidays.has(date)) return false
    if (worked.has(date)) return true
    const dow = new Date(`${date}T00:00:00Z`).getUTCDay()
    return dow !== 0 && dow !== 6
  }
  return {
    isWorkingDay,
    addWorkingDays(date, n) {
      if (!Number.isInteger(n) || n < 1) throw new RangeError(`working days to add: a whole number ≥ 1, not ${n}`)
      let ms = Date.parse(`${date}T00:00:00Z`)
      if (Number.isNaN(ms)) throw new RangeError(`not a date: ${date}`)
      let left = n
      let day = date
      while (left > 0) {
        ms += 86_400_000
        day = new Date(ms).toISOString().slice(0, 10)
        if (isWorkingDay(day)) left--
      }
      return day
    },
    covers: (date) => years.has(Number(date.slice(0, 4))),
  }
}
