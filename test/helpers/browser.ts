// Real Chromium for the dashboard's browser tests: Debian's package, started
// as the machine notes say (no background networking: this machine's closed
// network refuses those connections).
import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

/**
 * Browser tests are skipped only on a machine without Chromium; in CI (which
 * installs it) a missing browser fails them instead of passing by skipping.
 */
export const NO_CHROMIUM = !existsSync(CHROMIUM) && !process.env.CI

export const launchChromium = (): Promise<Browser> => chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true })
