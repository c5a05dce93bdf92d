// A report's HTML preview on the dashboard's 报表 page in a real browser
// (Debian's Chromium driven by Playwright, issue 15): opened from the list,
// its summary figures, per-county table, chart of the county shares with the
// threshold line, targets and catalog figures are the report JSON's
// (GET /reports/:id), and its download links fetch the CSV and XLSX.
import { type Browser, type Page } from 'playwright-core'
import { launchChromium, logInDashboard, NO_CHROMIUM } from '../helpers/browser.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { percentBpZh, wanYuanZh, yuanZh, type ReportDocument } from '../../shared/src/index.js'
import { aCatalog, aClock, aDatedCabinet, fleetWith, line, ok } from '../fleet-server/certification.fixtures.js'

const PASSWORD = 'preview-2020!'

/** The report chart's bars and threshold line as ECharts holds them (run in the page). */
function chartOf(page: Page) {
  return page.evaluate(() => {
    // In the page (no DOM types in this project's tsconfig).
    const w = globalThis as unknown as {
      document: { getElementById(id: string): unknown }
      echarts: { getInstanceByDom(el: unknown): { getOption(): { xAxis: Array<{ data: string[] }>; series: Array<{ data: Array<{ value: number }>; markLine?: { data: Array<{ yAxis: number }> } }> } } }
    }
    const o = w.echarts.getInstanceByDom(w.document.getElementById('report-chart')).getOption()
    return { names: o.xAxis[0]!.data, values: o.series[0]!.data.map((d) => d.value), line: o.series[0]!.markLine?.data.map((d) => d.yAxis) }
  })
}

const fenOrCount = (n: number, unit: string) => (unit === 'fen' ? wanYuanZh(n) : `${n.toLocaleString('zh-CN')} 个`)

describe.skipIf(NO_CHROMIUM)('report preview in Chromium', () => {
  let browser: Browser
  beforeAll(async () => {
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
  })

  it('opens a report from the list and shows the report JSON\'s figures, county shares against the threshold, targets and catalog, with its files', async () => {
    // Tuesday 2020-10-06 10:00 in Shanghai.
    const fleet = await fleetWith({ deps: { now: aClock('2020-10-06T02:00:00Z').now }, env: { FLEET_REPORTS_SCHEDULE: 'off' } })
    await aCatalog(fleet, { CERT: { cert: ['2020-01-01'] }, PLAIN: {} })
    const dy = await aDatedCabinet(fleet, { countyCode: '341125', operator: 'dy-coop', siteName: '定远县政务中心' })
    const fy = await aDatedCabinet(fleet, { countyCode: '341126', operator: 'fy-coop', siteName: '凤阳县人民医院' })
    await dy.sell('2020-09-10', [line('CERT', 3000), line('PLAIN', 1000)])
    await fy.sell('2020-09-12', [line('PLAIN', 3000), line('CERT', 1001)])
    await ok(fleet, 'POST', '/api/v1/users', { username: 'shi', password: PASSWORD, role: 'admin' })
    const { reportId } = await ok<{ reportId: string }>(fleet, 'POST', '/api/v1/reports', { kind: 'monthly', period: '2020-09' })
    const d = await ok<ReportDocument>(fleet, 'GET', `/api/v1/reports/${reportId}`)

    const { page, failed } = await logInDashboard(browser, fleet.httpUrl, 'shi', PASSWORD)
    await page.goto(`${fleet.httpUrl}/dashboard/#/reports`)
    await page.click(`tr[data-report="${reportId}"] a[href^="#/report/"]`)
    await page.waitForSelector('[data-testid=report-counties]')

    const text = (id: string) => page.textContent(`[data-testid=${id}]`)
    expect(await text('report-title')).toBe(d.title)
    expect(await text('report-range')).toBe(`${d.from} 至 ${d.to}`)
    expect(await text('report-threshold')).toBe(percentBpZh(d.threshold.bp))
    expect(await text('report-amount')).toBe(`¥${yuanZh(d.totals.sales.amountFen)}`)
    expect(await text('report-count')).toBe(String(d.totals.sales.salesCount))
    expect(await text('report-certified')).toBe(`¥${yuanZh(d.totals.sales.certifiedAmountFen)}`)
    expect(await text('report-share')).toBe(percentBpZh(d.totals.sales.shareBp))
    expect(await text('report-compliant')).toBe(`${d.totals.sales.compliantCabinets}/${d.totals.sales.judgedCabinets}`)
    expect(await text('report-operating')).toBe(`${d.totals.rollout.operating}/${d.totals.rollout.quota}`)
    // The fixture's figures, so the comparisons are not vacuous: 8001 fen, 4001 certified.
    expect(d.totals.sales).toMatchObject({ amountFen: 8001, certifiedAmountFen: 4001, compliantCabinets: 1, judgedCabinets: 2 })

    const counties = await page.locator('tr[data-county]').evaluateAll((rows) => rows.map((r) => [r.getAttribute('data-county'), ...[...r.querySelectorAll('td')].map((td) => td.textContent)]))
    expect(counties).toEqual(
      d.counties.map((c) => [
        c.code, c.name, String(c.rollout.quota), String(c.rollout.installed), String(c.rollout.operating), String(c.sales.salesCount),
        `¥${yuanZh(c.sales.amountFen)}`, `¥${yuanZh(c.sales.certifiedAmountFen)}`, percentBpZh(c.sales.shareBp), `${c.sales.compliantCabinets}/${c.sales.judgedCabinets}`, String(c.forwarding.held),
      ]),
    )

    await expect.poll(() => page.evaluate(() => Boolean((globalThis as unknown as { echarts?: unknown }).echarts))).toBe(true)
    const chart = await chartOf(page)
    expect(chart).toEqual({ names: d.counties.map((c) => c.name), values: d.counties.map((c) => c.sales.shareBp / 100), line: [d.threshold.bp / 100] })

    const targets = await page.locator('tr[data-target]').evaluateAll((rows) => rows.map((r) => [r.getAttribute('data-target'), ...[...r.querySelectorAll('td')].slice(2, 6).map((td) => td.textContent)]))
    expect(targets).toEqual(d.targets!.map((t) => [t.id, fenOrCount(t.actual, t.unit), fenOrCount(t.target, t.unit), fenOrCount(t.expectedByNow, t.unit), fenOrCount(t.projected, t.unit)]))
    expect(targets.length).toBeGreaterThan(0)

    const catalog = await page.locator('tr[data-catalog]').evaluateAll((rows) => rows.map((r) => [r.getAttribute('data-catalog'), ...[...r.querySelectorAll('td')].map((td) => td.textContent)]))
    expect(catalog).toEqual(d.catalog!.counties.map((c) => [c.code, c.name, String(c.certifiedProducts), c.certifiedProductsTarget === null ? '—' : String(c.certifiedProductsTarget), String(c.expiringCertificates), String(c.inPublicity)]))

    // The download links fetch the files with the page's session.
    for (const [format, type] of [['csv', 'text/csv'], ['xlsx', 'spreadsheetml']] as const) {
      const href = await page.getAttribute(`main a[href$="format=${format}"]`, 'href')
      expect(href).toBe(`/api/v1/reports/${reportId}?format=${format}`)
      const res = await page.request.get(`${fleet.httpUrl}${href}`)
      expect(res.status()).toBe(200)
      expect(res.headers()['content-type']).toContain(type)
    }
    expect(failed).toEqual([])
  })
})
