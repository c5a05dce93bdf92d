// A tampered ledger judged on the alerts page in a real browser (issue 16 §4):
// the cabinet's county official clicks 核查后解除, writes the conclusion, and
// the flag is cleared on the server; an operator gets no such button.
import { type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AlertList } from '../../shared/src/index.js'
import { launchChromium, logInDashboard, NO_CHROMIUM } from '../helpers/browser.js'
import { api, connectCabinet, provision, startFleet } from '../helpers/fleet.js'
import { userToken } from '../helpers/rollout.js'
import { aBatch, aChain, aLine } from '../helpers/sales.js'

const PASSWORD = 'review-2020!'

describe.skipIf(NO_CHROMIUM)('clearing a tampered ledger in Chromium', () => {
  let browser: Browser
  beforeAll(async () => {
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
  })

  it('a county official clears it with a conclusion; the operator sees the alert without the button', async () => {
    const fleet = await startFleet()
    await userToken(fleet, { username: 'dy', password: PASSWORD, role: 'county', countyCode: '341125' })
    await userToken(fleet, { username: 'op', password: PASSWORD, role: 'operator', operator: 'dy-coop' })
    const cab = await provision(fleet, { countyCode: '341125', operator: 'dy-coop' })
    const raw = await connectCabinet(fleet.mqttUrl, cab)
    const sales = aChain(cab.cabinetId, 3)
    expect(await raw.send(aBatch(cab.cabinetId, sales))).toMatchObject({ status: 'committed' })
    const forked = aChain(cab.cabinetId, 2, { fromSeq: 2, prevHash: sales[0]!.hash, lines: () => [aLine({ unitPriceFen: 1 })] })
    expect(await raw.send(aBatch(cab.cabinetId, forked))).toMatchObject({ status: 'rejected', code: 'SALE_TAMPERED' })
    const evaluate = async () => expect((await api(fleet, 'POST', '/api/v1/alerts/evaluate')).status).toBe(200)
    const open = async () => (await api<AlertList>(fleet, 'GET', '/api/v1/alerts?kind=ledger_tampered&state=open')).body.alerts
    await evaluate()
    expect(await open()).toHaveLength(1)

    const operator = await logInDashboard(browser, fleet.httpUrl, 'op', PASSWORD)
    await operator.page.goto(`${fleet.httpUrl}/dashboard/#/alerts`)
    await operator.page.waitForSelector('[data-testid=alerts]')
    expect(await operator.page.locator('button[data-tamper]').count()).toBe(0)

    const { page, failed } = await logInDashboard(browser, fleet.httpUrl, 'dy', PASSWORD)
    await page.goto(`${fleet.httpUrl}/dashboard/#/alerts`)
    const button = page.locator(`button[data-tamper="${cab.cabinetId}"]`)
    await button.waitFor()
    page.once('dialog', (d) => void d.accept('已核查：重复上传，原记录无误'))
    await button.click()
    await page.getByText('已解除，告警将在下次评估时恢复').waitFor()
    await evaluate()
    expect(await open()).toEqual([])
    const cleared = (await api<AlertList>(fleet, 'GET', '/api/v1/alerts?kind=ledger_tampered&state=all')).body.alerts
    expect(cleared).toHaveLength(1)
    expect(cleared[0]!.clearedAt).not.toBeNull()
    expect(failed).toEqual([])
  })
})
