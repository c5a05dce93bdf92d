// The cabinet page's 运行状态 card and the telemetry alerts in a real browser
// (issue 16 §4): the operator sees the latest reading in Chinese with a
// temperature line, and the alerts page names the new kinds with their labels.
import { join } from 'node:path'
import { type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTelemetryStore } from '../../fleet-server/src/telemetry/index.js'
import { DEFAULT_ALERT_RULES, LABELS_ZH, type TelemetryMsg } from '../../shared/src/index.js'
import { launchChromium, logInDashboard, NO_CHROMIUM } from '../helpers/browser.js'
import { api, startFleet } from '../helpers/fleet.js'
import { userToken } from '../helpers/rollout.js'

const PASSWORD = 'ops-2020!'
const OPERATOR = '滁州甲运营公司'

async function shot(page: Page, name: string): Promise<void> {
  if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: join(process.env.SCREENSHOT_DIR, `${name}.png`), fullPage: true })
}

describe.skipIf(NO_CHROMIUM)('the 运行状态 card in Chromium', () => {
  let browser: Browser
  beforeAll(async () => {
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
  })

  it('shows the latest reading and a 24 h temperature line, and the alerts page labels a door left open', async () => {
    const fleet = await startFleet()
    await userToken(fleet, { username: 'op-a', password: PASSWORD, role: 'operator', operator: OPERATOR })
    const c = await api<{ cabinetId: string }>(fleet, 'POST', '/api/v1/cabinets', { countyCode: '341126', operator: OPERATOR })
    const quiet = await api<{ cabinetId: string }>(fleet, 'POST', '/api/v1/cabinets', { countyCode: '341126', operator: OPERATOR })
    const id = c.body.cabinetId
    const now = Date.now()
    const at = (agoMin: number, patch: Partial<TelemetryMsg>) => {
      const iso = new Date(now - agoMin * 60_000).toISOString()
      const msg: TelemetryMsg = {
        v: 1, type: 'telemetry', cabinetId: id, sentAt: iso, agentInstanceId: '0190a000-0000-7000-8000-000000000003', agentVersion: '0.1.0',
        chilled: true, temperatureC: 4, doorOpen: false, doorOpenSince: null, faults: [], diskUsedPct: 37.5, outboxPending: 0, outboxOldestAgeS: 0, ledgerBytes: 2 * 1_048_576, ...patch,
      }
      return { msg, receivedAt: iso }
    }
    await createTelemetryStore(fleet.database).write([
      at(180, { temperatureC: 3.5 }),
      at(120, { temperatureC: 5 }),
      at(60, { temperatureC: 4.5 }),
      at(20, { temperatureC: 6.5, doorOpen: true, doorOpenSince: new Date(now - 20 * 60_000).toISOString(), faults: [{ module: 'vending', code: 'M3' }] }),
    ], DEFAULT_ALERT_RULES)
    expect((await api(fleet, 'POST', '/api/v1/alerts/evaluate')).status).toBe(200)

    const { page, failed } = await logInDashboard(browser, fleet.httpUrl, 'op-a', PASSWORD)
    await page.goto(`${fleet.httpUrl}/dashboard/#/cabinet/${encodeURIComponent(id)}`)
    await page.waitForSelector('[data-testid=telemetry]')
    const card = (await page.locator('#telemetry').textContent())!
    for (const part of ['运行状态', '6.5 °C（冷藏柜）', '打开（自', '出货模块（M3', '已用 37.5%，账本 2.0 MB', '0 笔', '0.1.0']) expect(card).toContain(part)
    await page.waitForSelector('#telemetry-chart canvas')
    await shot(page, 'telemetry-card')

    await page.goto(`${fleet.httpUrl}/dashboard/#/cabinet/${encodeURIComponent(quiet.body.cabinetId)}`)
    // A hash change re-renders in place: wait for the quiet cabinet's card, not the one still on screen.
    await page.locator('#telemetry', { hasText: '尚未上报运行状态' }).waitFor()
    expect(await page.locator('#telemetry').textContent()).not.toContain('6.5 °C')

    await page.goto(`${fleet.httpUrl}/dashboard/#/alerts`)
    await page.waitForSelector('[data-testid=alerts]')
    const alerts = (await page.locator('[data-testid=alerts]').textContent())!
    expect(alerts).toContain(LABELS_ZH.alertKind.door_open)
    expect(alerts).toContain(LABELS_ZH.alertKind.device_fault)
    expect(alerts).toContain('柜门已打开 20 分钟未关闭')
    await shot(page, 'telemetry-alerts')
    expect(failed).toEqual([])
  })
})
