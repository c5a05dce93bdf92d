// Working days (工作日) for the 公示 (issue 15): weekends, the 2020 and 2021
// holidays and the weekend days worked in their place, from data.
import { describe, expect, it } from 'vitest'
import { workdaysOf } from '../../shared/src/index.js'

describe('working days', () => {
  const wd = workdaysOf()

  it('skips weekends', () => {
    // Thursday 2020-09-10 + 5 working days: Fri 11, Mon 14, Tue 15, Wed 16, Thu 17.
    expect(wd.addWorkingDays('2020-09-10', 5)).toBe('2020-09-17')
    expect(wd.addWorkingDays('2020-09-11', 1)).toBe('2020-09-14')
    expect(wd.isWorkingDay('2020-09-12')).toBe(false)
  })

  it('skips 国庆 2020 (10-01..08) and counts the Saturday worked in its place (10-10)', () => {
    expect(wd.isWorkingDay('2020-09-27')).toBe(true) // Sunday worked
    for (let d = 1; d <= 8; d++) expect(wd.isWorkingDay(`2020-10-0${d}`)).toBe(false)
    expect(wd.isWorkingDay('2020-10-10')).toBe(true)
    // Approved Wednesday 09-30: Fri 10-09, Sat 10-10, Mon 12, Tue 13, Wed 14.
    expect(wd.addWorkingDays('2020-09-30', 5)).toBe('2020-10-14')
  })

  it('knows the 2020 Spring Festival extension and the 2021 holidays', () => {
    // 2020-02-01 was first to be worked, then given off with the extension to 02-02.
    expect(wd.isWorkingDay('2020-01-19')).toBe(true)
    expect(wd.isWorkingDay('2020-01-31')).toBe(false)
    expect(wd.isWorkingDay('2020-02-01')).toBe(false)
    expect(wd.addWorkingDays('2020-01-23', 1)).toBe('2020-02-03')
    // 2021 中秋 09-19..21 with Saturday 09-18 worked; 国庆 10-01..07 with 09-26 and 10-09 worked.
    expect(wd.isWorkingDay('2021-09-18')).toBe(true)
    expect(wd.addWorkingDays('2021-09-17', 2)).toBe('2021-09-22')
    expect(wd.addWorkingDays('2021-09-30', 1)).toBe('2021-10-08')
    expect(wd.addWorkingDays('2021-09-30', 2)).toBe('2021-10-09')
  })

  it('counts weekends only outside the years it has notices for, and says so', () => {
    expect(wd.covers('2020-05-01')).toBe(true)
    expect(wd.covers('2026-10-01')).toBe(false)
    expect(wd.isWorkingDay('2026-10-01')).toBe(true) // a Thursday; that year's 国庆 is not in the data
    expect(() => wd.addWorkingDays('2020-10-01', 0)).toThrow(RangeError)
  })
})
