// The dashboard's home page in a real browser (Debian's Chromium driven by
// Playwright): the city, a county and an operator each see GET /overview's
// figures for their own scope — sales, the share against the threshold line,
// the cabinets below it, targets, forwarding — above the rollout.
import { join } from 'node:path'
import { type Browser, type Page } from 'playwright-core'
import { launchChromium, NO_CHROMIUM } from '../helpers/browser.js'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { percentBpZh, wanYuanZh, yuanZh, type OverviewReply } from '../../shared/src/index.js'
import { aCatalog, aClock, aDatedCabinet, fleetWith, line, ok } from '../fleet-server/certification.fixtures.js'
import { api } from '../helpers/fleet.js'

const PASSWORD = 'home-2020!'

/** The figures of one chart as ECharts holds them (run in the page). */
function chartOption(page: Page, id: string) {
  return page.evaluate((elId) => {
    // In the page (no DOM types in this project's tsconfig).
    const w = globalThis as unknown as {
      document: { getElementById(id: string): unknown }
      echarts: { getInstanceByDom(el: unknown): { getOption(): { series: Array<{ name: string; data: unknown[]; markLine?: { data: Array<{ yAxis: number }> } }> } } }
    }
    return w.echarts.getInstanceByDom(w.document.getElementById(elId)).getOption().series.map((s) => ({ name: s.name, data: s.data, markLine: s.markLine?.data.map((d) => d.yAxis) }))
  }, id)
}

const figText = (f: OverviewReply['sales']['today']) => `¥${yuanZh(f.amountFen)}${f.salesCount} 笔 · 扶贫产品 ¥${yuanZh(f.certifiedAmountFen)}占比 ${f.amountFen > 0 ? percentBpZh(f.shareBp) : '—'}`
const amount = (n: number, unit: string) => (unit === 'fen' ? wanYuanZh(n) : `${n.toLocaleString('zh-CN')} 个`)

describe.skipIf(NO_CHROMIUM)('dashboard home in Chromium', () => {
  let browser: Browser
  beforeAll(async () => {
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
  })

  it('shows the city, a county and an operator their own sales, share against the threshold, cabinets below it, targets and forwarding as GET /overview has them', async () => {
    const fleet = await fleetWith({ deps: { now: aClock('2020-09-20T06:00:00Z').now } })
    await aCatalog(fleet, { CERT: { cert: ['2020-01-01'] }, PLAIN: {} })
    const good = await aDatedCabinet(fleet, { countyCode: '341125', operator: 'dy-coop', siteName: '定远县政务中心', venueType: '机关' })
    const poor = await aDatedCabinet(fleet, { countyCode: '341125', operator: 'dy-coop', siteName: '定远县第一中学', venueType: '高校' })
    const fy = await aDatedCabinet(fleet, { countyCode: '341126', operator: 'fy-coop', siteName: '凤阳县人民医院', venueType: '医院' })
    await good.sell('2020-08-15', [line('CERT', 500)])
    await good.sell('2020-09-10', [line('CERT', 3000), line('PLAIN', 1000)])
    await good.sell('2020-09-20', [line('CERT', 6000)])
    await poor.sell('2020-09-20', [line('PLAIN', 4000), line('CERT', 1000)])
    await fy.sell('2020-09-05', [line('PLAIN', 3000)])
    await fy.sell('2020-09-19', [line('CERT', 2000)])
    const tokens: Record<string, string> = {}
    for (const [username, body] of [
      ['shi', { role: 'admin' }],
      ['dingyuan', { role: 'county', countyCode: '341125' }],
      ['dyop', { role: 'operator', operator: 'dy-coop' }],
    ] as const) {
      tokens[username] = (await ok<{ token: string }>(fleet, 'POST', '/api/v1/users', { username, password: PASSWORD, ...body })).token
    }

    for (const [who, title, theirs] of [
      ['shi', '滁州市 总览', []],
      ['dingyuan', '定远县 总览', [fy.cabinetId, '凤阳县']],
      ['dyop', 'dy-coop（运营企业）总览', [fy.cabinetId, '凤阳县', 'fy-coop']],
    ] as const) {
      const r = await api<OverviewReply>(fleet, 'GET', '/api/v1/overview', undefined, tokens[who])
      expect(r.status, JSON.stringify(r.body)).toBe(200)
      const o = r.body
      const ctx = await browser.newContext({ viewport: who === 'dingyuan' ? { width: 390, height: 844 } : { width: 1280, height: 900 }, locale: 'zh-CN' })
      onTestFinished(() => ctx.close())
      const page = await ctx.newPage()
      const failed: string[] = []
      page.on('requestfailed', (q) => failed.push(q.url()))
      page.on('pageerror', (e) => failed.push(e.message))
      await page.goto(`${fleet.httpUrl}/dashboard/`)
      await page.fill('#u', who)
      await page.fill('#p', PASSWORD)
      await page.click('button[type=submit]')
      await page.waitForSelector('[data-testid=title]')
      await page.waitForSelector('#trend-chart canvas')
      if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: join(process.env.SCREENSHOT_DIR, `home-${who}.png`), fullPage: true })

      expect(await page.textContent('[data-testid=title]')).toBe(title)
      expect(await page.textContent('[data-testid=threshold]')).toBe(percentBpZh(o.thresholdBp))
      for (const k of ['today', 'month', 'year'] as const) expect(await page.textContent(`[data-fig=${k}]`)).toContain(figText(o.sales[k]))
      // By county (this month): the table and the share bars, red below the threshold, with the threshold line.
      const countyRows = await page.locator('tr[data-sales-county]').evaluateAll((rows) => rows.map((row) => [...row.querySelectorAll('td')].map((td) => td.textContent)))
      expect(countyRows).toEqual(o.sales.byCounty.map((c) => [c.countyName, String(c.salesCount), `¥${yuanZh(c.amountFen)}`, `¥${yuanZh(c.certifiedAmountFen)}`, c.amountFen > 0 ? percentBpZh(c.shareBp) : '—']))
      const [bars] = await chartOption(page, 'county-chart')
      expect(bars!.markLine).toEqual([o.thresholdBp / 100])
      expect(bars!.data).toEqual(o.sales.byCounty.map((c) => ({ value: c.shareBp / 100, itemStyle: { color: c.amountFen > 0 && c.shareBp < o.thresholdBp ? '#c0392b' : '#1e8449' } })))
      // The 30-day trend: amounts in 元 per day, and the threshold line on the share axis.
      const trend = await chartOption(page, 'trend-chart')
      expect(trend.find((s) => s.name === '销售额')!.data).toEqual(o.sales.daily.map((d) => d.amountFen / 100))
      expect(trend.find((s) => s.name === '扶贫产品销售额')!.data).toEqual(o.sales.daily.map((d) => d.certifiedAmountFen / 100))
      expect(trend.find((s) => s.name === '扶贫产品占比')!.markLine).toEqual([o.thresholdBp / 100])
      // The month's cabinets below the threshold, lowest first, marked.
      expect(await page.textContent('[data-testid=judged]')).toBe(String(o.compliance.judgedCabinets))
      expect(await page.textContent('[data-testid=compliant]')).toBe(String(o.compliance.compliantCabinets))
      expect(await page.textContent('[data-testid=below-count]')).toBe(String(o.compliance.belowCount))
      expect(await page.locator('tr[data-below]').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-below')))).toEqual(o.compliance.below.map((b) => b.cabinetId))
      expect(o.compliance.below.map((b) => b.cabinetId)).toContain(poor.cabinetId)
      expect(await page.textContent(`tr[data-below="${poor.cabinetId}"] td:last-child`)).toBe(percentBpZh(o.compliance.below.find((b) => b.cabinetId === poor.cabinetId)!.shareBp))
      // Targets: what is reached and what was set, in 万元 or a count.
      expect(await page.locator('tr[data-target]').count()).toBe(o.targets.length)
      for (const t of o.targets) {
        const cells = await page.locator(`tr[data-target="${t.id}"] td`).allTextContents()
        expect(cells.slice(2, 7)).toEqual([amount(t.actual, t.unit), amount(t.target, t.unit), amount(t.expectedByNow, t.unit), amount(t.projected, t.unit), t.dueDate])
      }
      for (const k of ['sent', 'pending', 'held', 'failed'] as const) expect(await page.textContent(`[data-testid=fw-${k}]`)).toBe(String(o.forwarding[k]))
      // The rollout stays below; an operator has no quota there.
      await page.waitForSelector('#chart canvas')
      expect((await page.textContent('main'))!.includes('任务数')).toBe(who !== 'dyop')
      const text = (await page.textContent('main')) ?? ''
      for (const t of theirs) expect(text, who).not.toContain(t)
      expect(failed).toEqual([])
    }
  })
})
