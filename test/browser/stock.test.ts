// The 库存 card and the 补货 page (issue 16 §3) in a real browser: the operator
// sees a cabinet's slots (qty/par, oversold, level), sets a planogram with the
// editor and records a fill-to-par restock (both go out as commands); the
// 补货 page lists the slots below par with the van's totals and downloads the
// same CSV the API gives. A county official of another county sees neither.
import { readFile } from 'node:fs/promises'
import { type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CommandList } from '../../shared/src/index.js'
import { launchChromium, logInDashboard, NO_CHROMIUM } from '../helpers/browser.js'
import { api, startFleet } from '../helpers/fleet.js'
import { userToken } from '../helpers/rollout.js'
import { sqlRun } from '../helpers/test-db.js'

const PASSWORD = 'ops-2020!'
const OPERATOR = '滁州甲运营公司'

describe.skipIf(NO_CHROMIUM)('stock in the dashboard (Chromium)', () => {
  let browser: Browser
  beforeAll(async () => {
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
  })

  it('shows the 库存 card, sets a planogram, records a restock, and lists the 补货 page with its CSV', async () => {
    const fleet = await startFleet()
    await userToken(fleet, { username: 'op-a', password: PASSWORD, role: 'operator', operator: OPERATOR })
    await userToken(fleet, { username: 'dingyuan', password: PASSWORD, role: 'county', countyCode: '341125' })
    const c = await api<{ cabinetId: string }>(fleet, 'POST', '/api/v1/cabinets', { countyCode: '341126', operator: OPERATOR, siteName: '凤阳县府城镇一号点' })
    const id = c.body.cabinetId
    for (const [slot, sku, par, qty, oversold] of [['A1', 'FY-RICE', 8, 0, 2], ['A2', 'FY-OIL', 10, 1, 0], ['A3', 'FY-TEA', 4, 4, 0]] as const) {
      await sqlRun(fleet.database, 'INSERT INTO cabinet_stock (cabinet_id, slot, sku, capacity, par, qty, oversold) VALUES (?, ?, ?, 10, ?, ?, ?)', id, slot, sku, par, qty, oversold)
    }
    await sqlRun(fleet.database, "INSERT INTO cabinet_stock_reports (cabinet_id, rev, sent_at, reported_at) VALUES (?, 1, '2026-12-01T00:00:00.000Z', '2026-12-01T00:00:01.000Z')", id)

    const { page, failed } = await logInDashboard(browser, fleet.httpUrl, 'op-a', PASSWORD)
    await page.goto(`${fleet.httpUrl}/dashboard/#/cabinet/${encodeURIComponent(id)}`)
    await page.waitForSelector('[data-testid=stock]')
    const row = (slot: string) => page.locator(`[data-testid=stock] tr[data-slot=${slot}]`).innerText()
    expect(await row('A1')).toMatch(/A1\s+FY-RICE[\s\S]*0 \/ 8[\s\S]*2\s+缺货/)
    expect(await row('A2')).toMatch(/1 \/ 10[\s\S]*不足/)
    expect(await row('A3')).toMatch(/4 \/ 4[\s\S]*正常/)

    await page.click('details summary')
    await page.fill('#planogram-form textarea', 'A1,FY-RICE,12,10\nA2,FY-OIL,10,8')
    await page.click('#planogram-form button[type=submit]')
    await page.waitForSelector('[data-testid=planogram-state]')
    expect(await page.locator('[data-testid=planogram-state]').innerText()).toBe('待送达')
    await page.click('details summary')
    await page.fill('#planogram-form textarea', 'A1,FY-RICE,twelve,10')
    await page.click('#planogram-form button[type=submit]')
    expect(await page.locator('#stock-error').innerText()).toContain('第 1 行')
    await page.click('#restock-fill')
    await expect.poll(() => page.locator('#stock-sent').innerText()).toContain('已登记补货')
    const sent = (await api<CommandList>(fleet, 'GET', `/api/v1/cabinets/${id}/commands`)).body.commands.map((x) => [x.kind, x.sentBy])
    expect(sent).toEqual([['restock', 'op-a'], ['planogram', 'op-a']])

    await page.goto(`${fleet.httpUrl}/dashboard/#/restock`)
    await page.waitForSelector('[data-county="341126"]')
    const county = await page.locator('[data-county="341126"]').innerText()
    expect(county).toContain('凤阳县府城镇一号点')
    expect(county).toMatch(/装车合计[\s\S]*FY-OIL\s+9[\s\S]*FY-RICE\s+8/)
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('a[href*="format=csv"]')])
    const viaPage = await readFile((await download.path())!)
    const viaApi = await fleet.http.inject({ method: 'GET', url: '/api/v1/restock-list?format=csv', headers: { authorization: `Bearer ${fleet.adminToken}` } })
    expect(viaPage.toString('utf8').split('\r\n').slice(0, 3)).toEqual(viaApi.body.split('\r\n').slice(0, 3))
    expect(failed).toEqual([])

    const other = await logInDashboard(browser, fleet.httpUrl, 'dingyuan', PASSWORD)
    await other.page.goto(`${fleet.httpUrl}/dashboard/#/restock`)
    // Polled, not waitForSelector('main .empty'): the overview the login lands on
    // has an empty list of its own, which matched before the hash route rendered.
    await expect.poll(() => other.page.locator('main').innerText()).toContain('没有低于标准库存的货道')
  })
})
