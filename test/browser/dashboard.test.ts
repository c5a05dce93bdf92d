// The dashboard in a real browser (Debian's Chromium driven by Playwright):
// a county official logs in and sees the county's progress; another county's
// official sees none of the first county's cabinets.
import { join } from 'node:path'
import { type Browser } from 'playwright-core'
import { launchChromium, NO_CHROMIUM } from '../helpers/browser.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, connectCabinet, startFleet, tempDir } from '../helpers/fleet.js'
import { csvRow, csvRows, importCsv, userToken } from '../helpers/rollout.js'


// .ci/run installs Chromium; without it this suite cannot run at all.
describe.skipIf(NO_CHROMIUM)('dashboard in Chromium', () => {
  let browser: Browser
  beforeAll(async () => {
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
  })

  it('a county official logs in, sees the county progress with its chart; another county sees none of its cabinets', async () => {
    const fleet = await startFleet({}, { now: () => new Date('2020-09-20T04:00:00.000Z') })
    const imported = await importCsv(fleet, [
      ...csvRows('341125', 'site_assigned', 120, 1, 'DY'),
      ...csvRows('341125', 'installed', 80, 121, 'DY'),
      ...csvRows('341125', 'operating', 60, 201, 'DY'),
      ...csvRows('341126', 'installed', 30, 1, 'FY'),
      csvRow('FY-341126-09999', '341126', 'operating', 'fy-coop'),
    ])
    expect(imported.status).toBe(201)
    const creds = new Map(imported.body.cabinets!.map((c) => [c.cabinetId, c]))
    await connectCabinet(fleet.mqttUrl, creds.get('DY-341125-00201')!)
    await api(fleet, 'POST', '/api/v1/alerts/evaluate')
    await userToken(fleet, { username: 'dingyuan', role: 'county', countyCode: '341125', password: 'dingyuan-2020!' })
    await userToken(fleet, { username: 'fengyang', role: 'county', countyCode: '341126', password: 'fengyang-2020!' })
    // SCREENSHOT_DIR keeps them for a look; otherwise a temp dir removed after the test.
    const shots = process.env.SCREENSHOT_DIR ?? (await tempDir('shots-'))

    // 定远县 on a phone-sized screen.
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, locale: 'zh-CN' })
    const page = await phone.newPage()
    const failed: string[] = []
    page.on('requestfailed', (r) => failed.push(r.url()))
    page.on('pageerror', (e) => failed.push(e.message))
    await page.goto(`${fleet.httpUrl}/`)
    await page.fill('#u', 'dingyuan')
    await page.fill('#p', 'wrong-password')
    await page.click('button[type=submit]')
    await expect.poll(() => page.textContent('#login-error')).toBe('用户名或密码错误')
    await page.fill('#p', 'dingyuan-2020!')
    await page.click('button[type=submit]')
    await page.waitForSelector('[data-testid=title]')
    expect(await page.textContent('[data-testid=title]')).toBe('定远县 总览')
    expect(await page.textContent('[data-testid=who]')).toContain('定远县')
    const row = await page.locator('tr[data-county]').allTextContents()
    expect(row).toHaveLength(1)
    expect(row[0]).toMatch(/^定远县415260140601/)
    expect(await page.locator('[data-milestone]').count()).toBe(2)
    await page.waitForSelector('#chart canvas')
    await page.screenshot({ path: join(shots, 'dingyuan-overview.png'), fullPage: true })

    await page.click('nav a[href="#/cabinets"]')
    await page.waitForSelector('[data-testid=total]')
    expect(await page.textContent('[data-testid=total]')).toBe('260')
    await page.selectOption('select[name=online]', 'true')
    await expect.poll(() => page.textContent('[data-testid=total]')).toBe('1')
    await page.click('a[href="#/cabinet/DY-341125-00201"]')
    await page.waitForSelector('text=最近销售')
    expect(await page.textContent('main')).toContain('尚无销售记录')
    await page.screenshot({ path: join(shots, 'dingyuan-cabinet.png'), fullPage: true })

    // Reports: a wrong period is explained in Chinese; a September monthly
    // report of the county is taken and downloads as Excel.
    await page.click('nav a[href="#/reports"]')
    await page.waitForSelector('#new-report')
    expect(await page.textContent('main')).toContain('暂无报表')
    await page.fill('input[name=period]', '2020-W38')
    await page.click('#new-report button[type=submit]')
    await expect.poll(() => page.textContent('#report-error')).toContain('报表期间与报表类型不符')
    await page.fill('input[name=period]', '2020-09')
    await page.click('#new-report button[type=submit]')
    await page.waitForSelector('[data-testid=reports]')
    const reports = await page.locator('tr[data-report]').allTextContents()
    expect(reports).toHaveLength(1)
    expect(reports[0]).toMatch(/^月报2020-09定远县.*dingyuan.*Excel · CSV$/)
    const xlsxHref = await page.getAttribute('tr[data-report] a[href*="format=xlsx"]', 'href')
    const xlsx = await page.request.get(`${fleet.httpUrl}${xlsxHref}`)
    expect(xlsx.status()).toBe(200)
    expect(xlsx.headers()['content-type']).toContain('spreadsheetml')
    expect((await xlsx.body()).subarray(0, 2).toString()).toBe('PK')
    await page.screenshot({ path: join(shots, 'dingyuan-reports.png'), fullPage: true })
    expect(failed).toEqual([])
    await phone.close()

    // 凤阳县 on a desktop: only its own 31 cabinets; 定远县's are nowhere.
    const desk = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' })
    const p2 = await desk.newPage()
    await p2.goto(`${fleet.httpUrl}/dashboard/`)
    await p2.fill('#u', 'fengyang')
    await p2.fill('#p', 'fengyang-2020!')
    await p2.click('button[type=submit]')
    await p2.waitForSelector('[data-testid=title]')
    expect(await p2.textContent('[data-testid=title]')).toBe('凤阳县 总览')
    expect(await p2.locator('tr[data-county]').count()).toBe(1)
    await p2.goto(`${fleet.httpUrl}/dashboard/#/cabinets?limit=1000`)
    await p2.waitForSelector('[data-testid=total]')
    expect(await p2.textContent('[data-testid=total]')).toBe('31')
    const text = (await p2.textContent('main')) ?? ''
    expect(text).not.toContain('DY-')
    expect(text).not.toContain('定远')
    // Even typing a 定远县 cabinet's address shows nothing of it.
    await p2.goto(`${fleet.httpUrl}/dashboard/#/cabinet/DY-341125-00201`)
    await p2.waitForSelector('.empty')
    expect(await p2.textContent('main')).toBe('对象不存在或无权查看：专柜 “DY-341125-00201”')
    // 定远县's report is not 凤阳县's to see.
    await p2.goto(`${fleet.httpUrl}/dashboard/#/reports`)
    await p2.waitForSelector('#new-report')
    expect(await p2.locator('tr[data-report]').count()).toBe(0)
    await p2.goto(`${fleet.httpUrl}/dashboard/#/`)
    await p2.waitForSelector('#chart canvas')
    await p2.screenshot({ path: join(shots, 'fengyang-overview.png'), fullPage: true })
    await desk.close()
  })
})
