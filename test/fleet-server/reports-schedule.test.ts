// Report periods and the schedule rules, in Asia/Shanghai time, without
// waiting for any clock: which reports are due at an instant.
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../fleet-server/src/config.js'
import { dueOn, dueReports, parseReportPeriod, previousPeriod, REPORT_CRON, reportPeriodOf } from '../../fleet-server/src/reports/index.js'
import { BUNDLED_PLANS } from '../../shared/src/index.js'

const policy = BUNDLED_PLANS['chuzhou-2020']!.policy.reports // Tuesday, the 25th, quarterly
const due = (iso: string, p = policy) => Object.fromEntries(dueReports(new Date(iso), p).map((d) => [d.kind, d.period.id]))

describe('report periods', () => {
  it('parses each kind’s own form only, with Asia/Shanghai calendar ranges', () => {
    expect(parseReportPeriod('weekly', '2020-W40')).toEqual({ kind: 'weekly', id: '2020-W40', from: '2020-09-28', to: '2020-10-04' })
    expect(parseReportPeriod('weekly', '2020-W53')).toMatchObject({ from: '2020-12-28', to: '2021-01-03' })
    expect(parseReportPeriod('weekly', '2021-W01')).toMatchObject({ from: '2021-01-04', to: '2021-01-10' })
    expect(parseReportPeriod('monthly', '2020-02')).toEqual({ kind: 'monthly', id: '2020-02', from: '2020-02-01', to: '2020-02-29' })
    expect(parseReportPeriod('quarterly', '2020-Q3')).toEqual({ kind: 'quarterly', id: '2020-Q3', from: '2020-07-01', to: '2020-09-30' })
    expect(parseReportPeriod('quarterly', '2020-Q4')).toMatchObject({ from: '2020-10-01', to: '2020-12-31' })
    expect(parseReportPeriod('quarterly', '2020-Q1')).toMatchObject({ from: '2020-01-01', to: '2020-03-31' })
    for (const [kind, bad] of [
      ['weekly', '2020-09'], ['weekly', '2021-W53'], ['weekly', '2020-W00'], ['weekly', '2020-W54'], ['weekly', '2020-W4'],
      ['monthly', '2020-W40'], ['monthly', '2020-13'], ['monthly', '2020-00'], ['monthly', '2020-09-01'],
      ['quarterly', '2020-Q5'], ['quarterly', '2020-Q0'], ['quarterly', '2020-09'], ['quarterly', '2020-q3'],
    ] as const) {
      expect(parseReportPeriod(kind, bad), `${kind} ${bad}`).toBeNull()
    }
  })

  it('steps back across year ends', () => {
    expect(previousPeriod(reportPeriodOf('weekly', '2021-01-06')).id).toBe('2020-W53')
    expect(previousPeriod(reportPeriodOf('monthly', '2021-01-06')).id).toBe('2020-12')
    expect(previousPeriod(reportPeriodOf('quarterly', '2021-01-06')).id).toBe('2020-Q4')
  })
})

describe('report schedule (Asia/Shanghai)', () => {
  it('makes the weekly report of the week just ended due from Tuesday 06:00 Beijing time', () => {
    // Monday 2020-10-05 23:30 UTC is Tuesday 2020-10-06 07:30 in Shanghai.
    expect(due('2020-10-05T23:30:00Z').weekly).toBe('2020-W40')
    // Tuesday 05:59 in Shanghai (Monday 21:59 UTC): still last week's report.
    expect(due('2020-10-05T21:59:59Z').weekly).toBe('2020-W39')
    expect(due('2020-10-05T22:00:00Z').weekly).toBe('2020-W40')
    // Monday 23:30 in Shanghai is still Monday: W39 stays the newest until the next morning.
    expect(due('2020-10-05T15:30:00Z').weekly).toBe('2020-W39')
    // Through the rest of the week and Sunday, W40 stays the newest due.
    expect(due('2020-10-11T15:59:59Z').weekly).toBe('2020-W40')
    // Across the year end: the 53-week year 2020.
    expect(due('2021-01-05T06:00:00Z').weekly).toBe('2020-W53')
    expect(dueReports(new Date('2020-10-05T23:30:00Z'), policy).find((d) => d.kind === 'weekly')!.dueAt.toISOString()).toBe('2020-10-05T22:00:00.000Z')
  })

  it('follows the plan’s weekday: a Monday plan reports on Monday', () => {
    expect(due('2020-10-04T22:30:00Z', { ...policy, weeklyDueIsoWeekday: 1 }).weekly).toBe('2020-W40')
    expect(due('2020-10-04T21:30:00Z', { ...policy, weeklyDueIsoWeekday: 1 }).weekly).toBe('2020-W39')
  })

  it('generates the previous month on the 1st at 06:00, well before the 25th it is due by', () => {
    // 2020-09-30 22:00 UTC = 2020-10-01 06:00 Beijing time.
    expect(due('2020-09-30T21:59:59Z').monthly).toBe('2020-08')
    expect(due('2020-09-30T22:00:00Z').monthly).toBe('2020-09')
    // Still the newest due on the 25th itself, the deadline.
    expect(due('2020-10-25T15:59:59Z').monthly).toBe('2020-09')
    expect(dueOn(parseReportPeriod('monthly', '2020-09')!, policy)).toBe('2020-10-25')
    expect(dueOn(parseReportPeriod('monthly', '2020-12')!, policy)).toBe('2021-01-25')
    expect(dueOn(parseReportPeriod('weekly', '2020-W40')!, policy)).toBe('2020-10-06')
    expect(dueOn(parseReportPeriod('quarterly', '2020-Q3')!, policy)).toBeNull()
  })

  it('generates the quarter just ended on the first day of the next, and none when the plan has no quarterly reports', () => {
    expect(due('2020-09-30T21:59:59Z').quarterly).toBe('2020-Q2')
    expect(due('2020-09-30T22:00:00Z').quarterly).toBe('2020-Q3')
    expect(due('2020-12-15T00:00:00Z').quarterly).toBe('2020-Q3')
    expect(due('2020-12-31T22:00:00Z')).toEqual({ weekly: '2020-W52', monthly: '2020-12', quarterly: '2020-Q4' })
    expect(due('2020-12-31T22:00:00Z', { ...policy, quarterly: false })).toEqual({ weekly: '2020-W52', monthly: '2020-12' })
  })
})

describe('report schedule setting', () => {
  it('is on by default; FLEET_REPORTS_SCHEDULE takes on/off, anything else is CONFIG_INVALID', () => {
    const limits = { nofileSoft: null }
    expect(loadConfig({}, [], limits).reports).toEqual({ isScheduled: true, cron: REPORT_CRON })
    expect(loadConfig({ FLEET_REPORTS_SCHEDULE: 'off' }, [], limits).reports).toEqual({ isScheduled: false, cron: REPORT_CRON })
    expect(loadConfig({ FLEET_REPORTS_SCHEDULE: 'on' }, [], limits).reports).toEqual({ isScheduled: true, cron: REPORT_CRON })
    expect(Object.isFrozen(loadConfig({}, [], limits).reports)).toBe(true)
    expect(() => loadConfig({ FLEET_REPORTS_SCHEDULE: 'weekly' }, [], limits)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('FLEET_REPORTS_SCHEDULE') }))
  })

  it('checks hourly by default; FLEET_REPORTS_CRON takes a node-cron expression (seconds allowed), anything else is CONFIG_INVALID', () => {
    const limits = { nofileSoft: null }
    expect(REPORT_CRON).toBe('0 * * * *')
    expect(loadConfig({ FLEET_REPORTS_CRON: '* * * * * *' }, [], limits).reports.cron).toBe('* * * * * *')
    expect(loadConfig({ FLEET_REPORTS_CRON: ' 30 6 * * * ' }, [], limits).reports.cron).toBe('30 6 * * *')
    for (const bad of ['hourly', '61 * * * *', '* * *'])
      expect(() => loadConfig({ FLEET_REPORTS_CRON: bad }, [], limits)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('FLEET_REPORTS_CRON') }))
  })
})
