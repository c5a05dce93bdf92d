// The public disclosure page (公开披露, issue 15) in a real browser
// (Debian's Chromium driven by Playwright): without logging in, /public/
// shows exactly GET /api/v1/public/held-cabinets — the cabinets held for
// non-compliance in the last closed month — and makes no other request.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type Browser } from 'playwright-core'
import { launchChromium, NO_CHROMIUM } from '../helpers/browser.js'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { BUNDLED_PLANS, percentBpZh, type PublicHeldCabinets } from '../../shared/src/index.js'
import { aCatalog, aClock, aDatedCabinet, fleetWith, line, ok } from '../fleet-server/certification.fixtures.js'
import { tempDir } from '../helpers/fleet.js'


describe.skipIf(NO_CHROMIUM)('public disclosure page in Chromium', () => {
  let browser: Browser
  beforeAll(async () => {
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
  })

  it('shows, without login, the held list of the API and requests nothing else', async () => {
    const base = BUNDLED_PLANS['chuzhou-2020']!
    const planFile = join(await tempDir(), 'nmg.json')
    await writeFile(planFile, JSON.stringify({ ...base, id: 'nmg-test', policy: { ...base.policy, publicDisclosure: true } }))
    const clock = aClock('2020-09-20T02:00:00Z')
    const fleet = await fleetWith({ env: { FLEET_PLAN: planFile }, deps: { now: clock.now } })
    await aCatalog(fleet, { CERT: { cert: ['2020-01-01'] }, PLAIN: {} })
    const good = await aDatedCabinet(fleet, { countyCode: '341125', operator: 'dy-coop', siteName: '县政府一楼' })
    const poor = await aDatedCabinet(fleet, { countyCode: '341125', operator: '某<b>商贸</b>公司', siteName: '定远汽车站' })
    await good.sell('2020-09-10', [line('CERT', 600)])
    await poor.sell('2020-09-10', [line('CERT', 500), line('PLAIN', 600)])
    clock.set('2020-10-02T02:00:00Z')
    for (const c of [good, poor]) await c.sell('2020-10-01', [line('CERT', 100)])
    await ok(fleet, 'POST', '/api/v1/forwarding/run', undefined, 200)
    const list = (await fleet.http.inject({ method: 'GET', url: '/api/v1/public/held-cabinets' })).json<PublicHeldCabinets>()
    expect(list.cabinets.map((c) => c.cabinetId)).toEqual([poor.cabinetId])

    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'zh-CN' })
    onTestFinished(() => ctx.close())
    const page = await ctx.newPage()
    const requests: string[] = []
    const failed: string[] = []
    page.on('request', (r) => requests.push(new URL(r.url()).pathname))
    page.on('requestfailed', (r) => failed.push(r.url()))
    page.on('pageerror', (e) => failed.push(e.message))
    await page.goto(`${fleet.httpUrl}/public/`)
    await page.waitForSelector('[data-testid=held]')
    const rows = await page.locator('tr[data-cabinet]').evaluateAll((trs) => trs.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)))
    expect(rows).toEqual(list.cabinets.map((c) => [c.cabinetId, c.countyName, c.siteName, c.operator, c.period, percentBpZh(c.certifiedShareBp)]))
    // The operator's name is shown as text, never as markup.
    expect(await page.locator('main b').count()).toBe(0)
    expect(await page.textContent('h1')).toContain(`${list.period.from} 至 ${list.period.to}`)
    expect(requests.sort()).toEqual(['/api/v1/public/held-cabinets', '/dashboard/app.css', '/dashboard/zh.js', '/public/', '/public/public.js'])
    expect(failed).toEqual([])
  })
})
