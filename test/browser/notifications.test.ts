// The 通知 page (issue 16 §6, §7) in a real browser: a county official adds a
// 钉钉 subscription limited to one alert kind, tests it (the receiver gets a
// signed message and the page shows the verdict), sees a delivery once an
// alert is raised, and deletes the subscription; an auditor gets no form.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser } from 'playwright-core'
import { launchChromium, logInDashboard, NO_CHROMIUM } from '../helpers/browser.js'
import { api } from '../helpers/fleet.js'
import { clockAt, csvRow, importCsv, userToken } from '../helpers/rollout.js'
import { dingtalkSignOk, notifyingFleet, settled, startReceiver } from '../fleet-server/notifications.fixtures.js'

const PASSWORD = 'notify-2020!'

describe.skipIf(NO_CHROMIUM)('the 通知 page in Chromium', () => {
  let browser: Browser
  beforeAll(async () => {
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
  })

  it('adds, tests and deletes a subscription and lists its deliveries; an auditor only reads', async () => {
    const clock = clockAt('2020-10-10T00:00:00.000Z')
    const fleet = await notifyingFleet(clock)
    const rx = await startReceiver()
    await importCsv(fleet, [csvRow('DY-1', '341125', 'operating')])
    await userToken(fleet, { username: 'dingyuan', password: PASSWORD, role: 'county', countyCode: '341125' })
    await userToken(fleet, { username: 'shenji', password: PASSWORD, role: 'auditor' })

    const { page, failed } = await logInDashboard(browser, fleet.httpUrl, 'dingyuan', PASSWORD)
    await page.click('nav a[href="#/notifications"]')
    await page.waitForSelector('#notify-form')
    expect(await page.locator('main').textContent()).toContain('尚未订阅告警通知')
    await page.fill('#notify-form input[name=url]', `${rx.url}/ding?access_token=t`)
    await page.selectOption('#notify-form select[name=format]', 'dingtalk')
    await page.fill('#notify-form input[name=secret]', 'SECpage')
    await page.check('#notify-form input[name=kinds][value=offline]')
    await page.click('#notify-form button[type=submit]')
    await page.waitForSelector('[data-testid=subscriptions]')
    const row = page.locator('[data-testid=subscriptions] tbody tr')
    expect(await row.count()).toBe(1)
    const text = (await row.textContent())!
    for (const part of ['钉钉群机器人', '（加签）', '离线超过 24 小时']) expect(text).toContain(part)

    await row.locator('button[data-test]').click()
    await expect.poll(() => row.locator('.test-result').textContent()).toBe('已送达（HTTP 200）')
    expect(dingtalkSignOk(rx.at('/ding')[0]!.query, 'SECpage')).toBe(true)

    clock.set('2020-10-11T00:00:01.000Z')
    await api(fleet, 'POST', '/api/v1/alerts/evaluate')
    await settled(fleet)
    // A day later the morning's session has expired: log in again.
    const later = await logInDashboard(browser, fleet.httpUrl, 'dingyuan', PASSWORD)
    await later.page.goto(`${fleet.httpUrl}/dashboard/#/notifications`)
    await later.page.waitForSelector('[data-testid=deliveries]')
    const delivery = (await later.page.locator('[data-testid=deliveries] tbody tr').first().textContent())!
    for (const part of ['发生', '专柜 DY-1 已运营 24 小时，从未上线', '已发送']) expect(delivery).toContain(part)

    later.page.once('dialog', (d) => void d.accept())
    await later.page.locator('[data-testid=subscriptions] button[data-delete]').click()
    await later.page.waitForSelector('text=尚未订阅告警通知')
    expect(await later.page.locator('[data-testid=deliveries]').count()).toBe(0)
    expect([...failed, ...later.failed]).toEqual([])

    const auditor = await logInDashboard(browser, fleet.httpUrl, 'shenji', PASSWORD)
    await auditor.page.goto(`${fleet.httpUrl}/dashboard/#/notifications`)
    await auditor.page.waitForSelector('text=审计账号只读，不能订阅告警通知')
    expect(await auditor.page.locator('#notify-form').count()).toBe(0)
  })
})
