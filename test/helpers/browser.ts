// Real Chromium for the dashboard's browser tests: Debian's package, started
// as the machine notes say (no background networking: this machine's closed
// network refuses those connections).
import { existsSync } from 'node:fs'
import { chromium, type Browser, type Page } from 'playwright-core'
import { onTestFinished } from 'vitest'

export const CHROMIUM = '/usr/bin/chromium'
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

/**
 * Browser tests are skipped only on a machine without Chromium; in CI (which
 * installs it) a missing browser fails them instead of passing by skipping.
 */
export const NO_CHROMIUM = !existsSync(CHROMIUM) && !process.env.CI

export const launchChromium = (): Promise<Browser> => chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true })

export interface DashboardSession {
  readonly page: Page
  /** Requests that failed and script errors on the page, for the tests to assert empty. */
  readonly failed: string[]
}

/** A fresh zh-CN browser context logged in to the dashboard at `httpUrl`; closed when the test finishes. */
export async function logInDashboard(
  browser: Browser,
  httpUrl: string,
  username: string,
  password: string,
  viewport = { width: 1280, height: 900 },
): Promise<DashboardSession> {
  const ctx = await browser.newContext({ viewport, locale: 'zh-CN', acceptDownloads: true })
  onTestFinished(() => ctx.close())
  const page = await ctx.newPage()
  const failed: string[] = []
  page.on('requestfailed', (r) => failed.push(r.url()))
  page.on('pageerror', (e) => failed.push(e.message))
  await page.goto(`${httpUrl}/dashboard/`)
  await page.fill('#u', username)
  await page.fill('#p', password)
  await page.click('button[type=submit]')
  await page.waitForSelector('[data-testid=who]')
  return { page, failed }
}
