// The operator's page for one cabinet (issue 16 §1/§7) in a real browser
// (Debian's Chromium driven by Playwright): the operator generates a bootstrap
// code — the code shown enrolls a board, the QR is the code's — and sends a
// price command that the list shows pending, as the API has it; an auditor
// sees the commands but no form and no code button; a county official of
// another county cannot open the cabinet.
import { generateKeyPairSync } from 'node:crypto'
import { join } from 'node:path'
import { type Browser, type Page } from 'playwright-core'
import QRCode from 'qrcode'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Fleet } from '../../fleet-server/src/app.js'
import { beijingZh, LABELS_ZH, type CommandList, type CommandView } from '../../shared/src/index.js'
import { launchChromium, logInDashboard, NO_CHROMIUM } from '../helpers/browser.js'
import { api, startFleet } from '../helpers/fleet.js'
import { userToken } from '../helpers/rollout.js'

const PASSWORD = 'ops-2020!'

/** SCREENSHOT_DIR=dir keeps a full-page picture of each page for a look. */
async function shot(page: Page, name: string): Promise<void> {
  if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: join(process.env.SCREENSHOT_DIR, `${name}.png`), fullPage: true })
}
const OPERATOR = '滁州甲运营公司'

async function seed() {
  const fleet = await startFleet()
  for (const [username, body] of [
    ['op-a', { role: 'operator', operator: OPERATOR }],
    ['shenji', { role: 'auditor' }],
    ['dingyuan', { role: 'county', countyCode: '341125' }],
  ] as const) await userToken(fleet, { username, password: PASSWORD, ...body })
  const c = await api<{ cabinetId: string }>(fleet, 'POST', '/api/v1/cabinets', { countyCode: '341126', operator: OPERATOR, siteName: '凤阳县府城镇一号点', venueType: '商场' })
  expect(c.status).toBe(201)
  return { fleet, cabinetId: c.body.cabinetId }
}

describe.skipIf(NO_CHROMIUM)('the operator’s cabinet page in Chromium: bootstrap code and remote commands', () => {
  let browser: Browser
  beforeAll(async () => {
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
  })

  const loggedIn = (fleet: Fleet, username: string) => logInDashboard(browser, fleet.httpUrl, username, PASSWORD)

  it('the operator generates a code that enrolls and sends a price command; the auditor only reads; another county is refused', async () => {
    const { fleet, cabinetId } = await seed()
    const { page, failed } = await loggedIn(fleet, 'op-a')
    await page.goto(`${fleet.httpUrl}/dashboard/#/cabinet/${encodeURIComponent(cabinetId)}`)
    await page.waitForSelector('#command-list table, #command-list .empty')
    expect(await page.locator('#command-list').textContent()).toContain('尚未发送过指令')

    await page.click('#bootstrap-new')
    await page.waitForSelector('[data-testid=bootstrap-code]')
    const code = (await page.locator('[data-testid=bootstrap-code]').textContent())!.trim()
    expect(code).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/)
    expect(await page.locator('[data-testid=bootstrap-cmd]').textContent()).toBe(`npm run edge-agent -- enroll --code ${code} --http ${fleet.httpUrl} --data /var/lib/fupin-edge-agent`)
    const expires = (await page.locator('[data-testid=bootstrap-expires]').textContent())!
    // The QR is an image of exactly this code: the same library renders the same SVG from it.
    const src = (await page.locator('[data-testid=bootstrap-qr]').getAttribute('src'))!
    expect(src.startsWith('data:image/svg+xml;base64,')).toBe(true)
    const svg = Buffer.from(src.slice('data:image/svg+xml;base64,'.length), 'base64').toString('utf8')
    expect(svg).toBe(await QRCode.toString(code, { type: 'svg' }))
    expect(await page.locator('[data-testid=bootstrap-qr]').evaluate((el) => {
      const img = el as unknown as { complete: boolean; naturalWidth: number }
      return img.complete && img.naturalWidth > 0
    })).toBe(true)

    // The text on the screen is the code: a board enrolls with it.
    const publicKey = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString()
    const enrolled = await api<{ cabinetId: string; expiresAt?: string }>(fleet, 'POST', '/api/v1/enroll', { code, publicKey }, null)
    expect(enrolled.status, JSON.stringify(enrolled.body)).toBe(200)
    expect(enrolled.body.cabinetId).toBe(cabinetId)
    expect(expires).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d/)

    // A price in 元 with a typo is refused on the page; the server's message shows when it refuses.
    await page.selectOption('#command-form select[name=kind]', 'price')
    await page.fill('#command-form input[name=sku]', 'TEA-01')
    await page.fill('#command-form input[name=price]', '19.999')
    await page.click('#command-form button[type=submit]')
    expect(await page.locator('#command-error').textContent()).toBe('请填写售价（元，至多两位小数）')
    await page.fill('#command-form input[name=sku]', '茶 叶')
    await page.fill('#command-form input[name=price]', '19.90')
    await page.click('#command-form button[type=submit]')
    await expect.poll(() => page.locator('#command-error').textContent()).not.toBe('')
    const refused = await api<{ error: { message: string } }>(fleet, 'POST', `/api/v1/cabinets/${encodeURIComponent(cabinetId)}/commands`, { kind: 'price', params: { sku: '茶 叶', priceFen: 1990 } })
    expect(refused.status).toBe(400)
    expect(await page.locator('#command-error').textContent()).toBe(refused.body.error.message)

    await page.fill('#command-form input[name=sku]', 'TEA-01')
    await page.fill('#command-form input[name=expires]', '2')
    await page.click('#command-form button[type=submit]')
    await page.waitForSelector('[data-testid=commands] tr[data-command]')
    const list = await api<CommandList>(fleet, 'GET', `/api/v1/cabinets/${encodeURIComponent(cabinetId)}/commands`)
    expect(list.body.commands).toHaveLength(1)
    const sent = list.body.commands[0]!
    const one = await api<CommandView>(fleet, 'GET', `/api/v1/commands/${sent.commandId}`)
    expect(one.body).toMatchObject({ kind: 'price', params: { sku: 'TEA-01', priceFen: 1990 }, state: 'pending', sentBy: 'op-a' })
    expect(Date.parse(one.body.expiresAt) - Date.parse(one.body.issuedAt)).toBe(2 * 3600 * 1000)
    const row = page.locator(`tr[data-command="${sent.commandId}"] td`)
    expect(await row.allTextContents()).toEqual([
      LABELS_ZH.commandKind.price,
      'TEA-01 → ¥19.90',
      `op-a（${LABELS_ZH.role.operator}）`,
      beijingZh(one.body.issuedAt),
      LABELS_ZH.commandState.pending,
      '',
    ])
    expect(await page.locator('#command-sent').textContent()).toContain('已发送：调价（待送达）')
    await shot(page, 'operator-cabinet')
    expect(failed).toEqual([])

    // The auditor sees the list, but neither the form nor the code button.
    const auditor = await loggedIn(fleet, 'shenji')
    await auditor.page.goto(`${fleet.httpUrl}/dashboard/#/cabinet/${encodeURIComponent(cabinetId)}`)
    await auditor.page.waitForSelector(`tr[data-command="${sent.commandId}"]`)
    expect(await auditor.page.locator('#command-form').count()).toBe(0)
    expect(await auditor.page.locator('#bootstrap-new').count()).toBe(0)
    expect(auditor.failed).toEqual([])
    await shot(auditor.page, 'auditor-cabinet')

    // 定远县 does not see 凤阳县's cabinet at all.
    const other = await loggedIn(fleet, 'dingyuan')
    await other.page.goto(`${fleet.httpUrl}/dashboard/#/cabinet/${encodeURIComponent(cabinetId)}`)
    await other.page.waitForSelector('main .empty.bad')
    expect(await other.page.locator('main .empty.bad').textContent()).toContain('不存在或无权查看')
    expect(await other.page.locator('#command-list').count()).toBe(0)
    expect(await other.page.locator('#bootstrap-new').count()).toBe(0)
  })
})
