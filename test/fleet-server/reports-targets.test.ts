// Targets in reports (issue 15): the report document carries the progress of
// the targets its scope sees, as at the period's end (or today while the
// period runs), in the same shape as the overview's.
import { describe, expect, it } from 'vitest'
import type { ReportDocument } from '../../shared/src/index.js'
import { aCatalog, aClock, aDatedCabinet, fleetWith, line, ok } from './certification.fixtures.js'

describe('report targets', () => {
  it('carries the scope\'s targets as at the period\'s end, or today while it runs', async () => {
    // Tuesday 2020-10-06 10:00 Asia/Shanghai.
    const fleet = await fleetWith({ deps: { now: aClock('2020-10-06T02:00:00Z').now }, env: { FLEET_REPORTS_SCHEDULE: 'off' } })
    await aCatalog(fleet, { CERT: { cert: ['2020-01-01'] }, PLAIN: {} })
    const dy1 = await aDatedCabinet(fleet, { countyCode: '341125', operator: 'dy-coop' })
    await dy1.sell('2020-09-29', [line('CERT', 3000), line('PLAIN', 1000)])
    await dy1.sell('2020-10-05', [line('CERT', 700)])
    const report = async (body: Record<string, unknown>) => {
      const { reportId } = await ok<{ reportId: string }>(fleet, 'POST', '/api/v1/reports', body)
      return ok<ReportDocument>(fleet, 'GET', `/api/v1/reports/${reportId}`)
    }

    const sept = await report({ kind: 'monthly', period: '2020-09' })
    expect(sept.targetsAsOf).toBe('2020-09-30')
    const city = sept.targets!.find((t) => t.id === 'city-sales-2020')!
    // September's certified sales only; day 30 of 122.
    expect(city).toMatchObject({ actual: 3000, target: 50_000_000_000, unit: 'fen', expectedByNow: Math.floor((50_000_000_000 * 30) / 122), projected: Math.floor((3000 * 122) / 30), state: 'due', onTrack: false })
    expect(sept.targets!.find((t) => t.id === 'certified-products-341125')).toMatchObject({ actual: 1, target: 60, unit: 'count', state: 'due' })
    expect(sept.targets).toHaveLength(7)

    const running = await report({ kind: 'weekly', period: '2020-W41' })
    expect(running.targetsAsOf).toBe('2020-10-06')
    expect(running.targets!.find((t) => t.id === 'city-sales-2020')).toMatchObject({ actual: 3700 })
    expect(running.targets!.find((t) => t.id === 'certified-products-341125')).toMatchObject({ actual: 1, state: 'missed' })

    // A county's report: its own targets only.
    const county = await report({ kind: 'monthly', period: '2020-09', county: '341125' })
    expect(county.targets!.map((t) => t.id)).toEqual(['certified-products-341125'])
  })
})
