// The dashboard's compliance, forwarding, catalog and map pages in a real
// browser (Debian's Chromium driven by Playwright): each page's figures are
// the API's answer for the user logged in, and a county sees only its own rows.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pino } from 'pino'
import { type Browser, type Page } from 'playwright-core'
import { launchChromium, logInDashboard, NO_CHROMIUM } from '../helpers/browser.js'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import type { Fleet } from '../../fleet-server/src/app.js'
import { beijingZh, percentBpZh, yuanZh, type CabinetList, type CertificateList, type ComplianceReply, type ForwardingReply, type ProductList, type SupplierList } from '../../shared/src/index.js'
import { buildPlatform } from '../../simulators/src/platform/app.js'
import { aClock, aDatedCabinet, aUscc, fleetWith, line, ok } from '../fleet-server/certification.fixtures.js'
import { api, tempDir } from '../helpers/fleet.js'

const PASSWORD = 'pages-2020!'

/** SCREENSHOT_DIR=dir keeps a full-page picture of each page for a look. */
async function shot(page: Page, name: string): Promise<void> {
  if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: join(process.env.SCREENSHOT_DIR, `${name}.png`), fullPage: true })
}

async function aPlatform() {
  const p = await buildPlatform({ failRate: 0, latencyMs: 0, secret: 'k3y', storePath: null, logger: pino({ level: 'silent' }) })
  await p.app.listen({ port: 0, host: '127.0.0.1' })
  onTestFinished(() => p.app.close())
  const addr = p.app.server.address()
  return { ...p, url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/intake` }
}

interface Seeded {
  fleet: Fleet
  good: string
  poor: string
  planned: string
  fy: string
  tokens: Record<'shi' | 'dingyuan' | 'fengyang' | 'dyop', string>
}

/**
 * September 2020 in two counties: 定远县 has a compliant cabinet (sent to the
 * platform), one below the threshold (held) and one planned without sales;
 * 凤阳县's cabinet was refused by the platform (a wrong key before a restart).
 * The catalog has a certificate in its renewal window, a revoked one and a
 * blacklisted supplier.
 */
async function seed(): Promise<Seeded> {
  const platform = await aPlatform()
  const clock = aClock('2020-10-02T02:00:00Z')
  const dataDir = await tempDir()
  const wrong = await fleetWith({ dataDir, env: { PLATFORM_URL: platform.url, PLATFORM_SECRET: 'typo' }, deps: { now: clock.now }, manualClose: true })
  await ok(wrong, 'POST', '/api/v1/suppliers', { uscc: aUscc(1), name: '定远县炉桥镇粮油合作社', contact: '张三' })
  await ok(wrong, 'POST', '/api/v1/suppliers', { uscc: aUscc(2, '341126'), name: '凤阳县小岗村茶叶合作社' })
  await ok(wrong, 'POST', '/api/v1/suppliers', { uscc: aUscc(3), name: '某食品有限公司' })
  await ok(wrong, 'POST', '/api/v1/products', { sku: 'DY-RICE-5KG', name: '定远大米 5kg', supplierUscc: aUscc(1), priceFen: 4990, origin: '定远县炉桥镇', category: '粮油' })
  await ok(wrong, 'POST', '/api/v1/products', { sku: 'FY-TEA-250G', name: '凤阳绿茶 250g', supplierUscc: aUscc(2, '341126'), priceFen: 5000 })
  await ok(wrong, 'POST', '/api/v1/products', { sku: 'PLAIN', name: '普通矿泉水', supplierUscc: aUscc(3), priceFen: 200 })
  await ok(wrong, 'POST', '/api/v1/products', { sku: 'X-CAKE', name: '糕点', supplierUscc: aUscc(3), priceFen: 1500 })
  await ok(wrong, 'POST', '/api/v1/certificates', { sku: 'DY-RICE-5KG', certificateNo: 'DY2020-001', validFrom: '2020-01-01' })
  // Valid 2019-11-01..2020-10-31: on 2020-10-02 inside its 3-month renewal window.
  await ok(wrong, 'POST', '/api/v1/certificates', { sku: 'FY-TEA-250G', certificateNo: 'FY2019-007', validFrom: '2019-11-01' })
  await ok(wrong, 'POST', '/api/v1/certificates', { sku: 'X-CAKE', certificateNo: 'X2020-002', validFrom: '2020-02-01', level: 'city' })
  await ok(wrong, 'POST', `/api/v1/suppliers/${aUscc(3)}/blacklist`, { reason: '以次充好', effectiveFrom: '2020-08-01' }, 200)

  const fy = await aDatedCabinet(wrong, { countyCode: '341126', operator: 'fy-coop', siteName: '凤阳县人民医院', venueType: '医院' })
  await fy.sell('2020-09-10', [line('FY-TEA-250G', 5000)])
  await fy.sell('2020-10-01', [line('FY-TEA-250G', 5000)])
  await ok(wrong, 'POST', '/api/v1/forwarding/run', undefined, 200)
  await expect.poll(async () => (await ok<ForwardingReply>(wrong, 'GET', '/api/v1/forwarding', undefined, 200)).failed.length, { timeout: 10_000 }).toBe(1)
  await fy.mqtt.close()
  await wrong.close()

  // The key fixed and the server restarted: 定远县's cabinets trade.
  const fleet = await fleetWith({ dataDir, env: { PLATFORM_URL: platform.url, PLATFORM_SECRET: 'k3y' }, deps: { now: clock.now } })
  const good = await aDatedCabinet(fleet, { countyCode: '341125', operator: 'dy-coop', siteName: '定远县政务中心', venueType: '机关' })
  const poor = await aDatedCabinet(fleet, { countyCode: '341125', operator: 'dy-coop', siteName: '定远县第一中学', venueType: '高校' })
  const planned = await ok<{ cabinetId: string }>(fleet, 'POST', '/api/v1/cabinets', { countyCode: '341125' })
  await good.sell('2020-09-10', [line('DY-RICE-5KG', 6000), line('PLAIN', 1000)])
  await good.sell('2020-10-01', [line('DY-RICE-5KG', 100)])
  await poor.sell('2020-09-12', [line('DY-RICE-5KG', 1000), line('PLAIN', 2000), line('X-CAKE', 1000)])
  await poor.sell('2020-10-01', [line('PLAIN', 100)])
  for (const [id, latitude, longitude] of [[good.cabinetId, 32.53, 117.67], [poor.cabinetId, 32.45, 117.5], [fy.cabinetId, 32.87, 117.56]] as const) {
    await ok(fleet, 'PATCH', `/api/v1/cabinets/${id}`, { latitude, longitude }, 200)
  }
  await ok(fleet, 'POST', '/api/v1/forwarding/run', undefined, 200)
  await expect.poll(async () => (await ok<ForwardingReply>(fleet, 'GET', '/api/v1/forwarding', undefined, 200)).sent, { timeout: 10_000 }).toBe(1)

  const user = async (username: string, body: Record<string, unknown>) =>
    (await ok<{ token: string }>(fleet, 'POST', '/api/v1/users', { username, password: PASSWORD, ...body })).token
  const tokens = {
    shi: await user('shi', { role: 'admin' }),
    dingyuan: await user('dingyuan', { role: 'county', countyCode: '341125' }),
    fengyang: await user('fengyang', { role: 'county', countyCode: '341126' }),
    dyop: await user('dyop', { role: 'operator', operator: 'dy-coop' }),
  }
  return { fleet, good: good.cabinetId, poor: poor.cabinetId, planned: planned.cabinetId, fy: fy.cabinetId, tokens }
}

async function get<T>(s: Seeded, who: keyof Seeded['tokens'], url: string): Promise<T> {
  const r = await api<T>(s.fleet, 'GET', url, undefined, s.tokens[who])
  expect(r.status, JSON.stringify(r.body)).toBe(200)
  return r.body
}

describe.skipIf(NO_CHROMIUM)('dashboard pages in Chromium', () => {
  let browser: Browser
  beforeAll(async () => {
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
  })

  const loggedIn = (s: Seeded, username: string, viewport?: { width: number; height: number }) => logInDashboard(browser, s.fleet.httpUrl, username, PASSWORD, viewport)

  /** Goes to a page of the dashboard and waits for `selector`. */
  async function open(page: Page, s: Seeded, hash: string, selector: string): Promise<void> {
    await page.goto(`${s.fleet.httpUrl}/dashboard/#${hash}`)
    await page.waitForSelector(selector)
  }

  const texts = (page: Page, selector: string) => page.locator(selector).allTextContents()

  /** The compliance page's figures against GET /compliance for that user. */
  async function expectComplianceAsApi(page: Page, c: ComplianceReply) {
    expect(await page.textContent('[data-testid=range]')).toBe(`${c.from} 至 ${c.to}`)
    expect(await page.textContent('[data-testid=threshold]')).toBe(percentBpZh(c.thresholdBp))
    expect(await page.textContent('[data-testid=cabinets]')).toBe(String(c.summary.cabinets))
    expect(await page.textContent('[data-testid=compliant]')).toBe(String(c.summary.compliant))
    expect(await page.textContent('[data-testid=amount]')).toBe(`¥${yuanZh(c.summary.amountFen)}`)
    expect(await page.textContent('[data-testid=certified]')).toBe(`¥${yuanZh(c.summary.certifiedAmountFen)}`)
    const shown = await page.locator('tr[data-cabinet]').evaluateAll((rows) => rows.map((r) => [r.getAttribute('data-cabinet'), ...[...r.querySelectorAll('td')].slice(2, 6).map((td) => td.textContent)]))
    const expected = c.cabinets.map((r) => [r.cabinetId, `¥${yuanZh(r.amountFen)}`, `¥${yuanZh(r.certifiedAmountFen)}`, percentBpZh(r.shareBp), r.compliant ? '达标' : '未达标'])
    expect(shown.slice().sort()).toEqual(expected.slice().sort())
  }

  it('shows the city administrator compliance, forwarding, catalog and map as the API has them; exports CSV; retries a failed batch', async () => {
    const s = await seed()
    const { page, failed } = await loggedIn(s, 'shi')

    // Compliance for September: every cabinet, below-threshold first and marked, held and failed named.
    await open(page, s, '/compliance?period=2020-09', '[data-testid=compliance-cabinets]')
    const c = await get<ComplianceReply>(s, 'shi', '/api/v1/compliance?period=2020-09')
    expect(c.cabinets.map((r) => r.cabinetId).sort()).toEqual([s.good, s.poor, s.fy].sort())
    await expectComplianceAsApi(page, c)
    await shot(page, 'city-compliance')
    expect(await page.getAttribute('tr[data-cabinet]:first-child', 'data-cabinet')).toBe(s.poor)
    expect(await page.getAttribute(`tr[data-cabinet="${s.poor}"]`, 'class')).toContain('below')
    expect(await page.textContent(`tr[data-cabinet="${s.poor}"] td.fw`)).toBe('暂缓上报：扶贫产品占比不足（2020-09）')
    expect(await page.textContent(`tr[data-cabinet="${s.fy}"] td.fw`)).toBe('上报失败（2020-09）')
    expect(await page.textContent(`tr[data-cabinet="${s.good}"] td.fw`)).toBe('已上报（2020-09）')
    const counties = await texts(page, 'tr[data-county]')
    // 定远县: 2 cabinets, 1 compliant, ¥110.00 of which ¥70.00 certified (63.63%), 1 held; 凤阳县: ¥50.00 all certified.
    expect(counties).toEqual(['定远县21¥110.00¥70.00' + percentBpZh(Math.floor((7000 * 10000) / 11000)) + '1', '凤阳县11¥50.00¥50.00100.00%0'])

    // Export: a CSV with a BOM and Chinese headers, one row per cabinet.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')])
    expect(download.suggestedFilename()).toBe('扶贫产品占比_2020-09-01_2020-09-30.csv')
    const csv = await readFile((await download.path())!, 'utf8')
    expect(csv.startsWith('\uFEFF期间起,期间止,县区,专柜编号,销售额（元）,扶贫产品销售额（元）,扶贫产品占比,达标线,是否达标,上报情况\r\n')).toBe(true)
    const lines = csv.trim().split('\r\n').slice(1)
    expect(lines).toHaveLength(3)
    const poor = c.cabinets.find((r) => r.cabinetId === s.poor)!
    expect(lines).toContain(`2020-09-01,2020-09-30,定远县,${s.poor},40.00,10.00,${percentBpZh(poor.shareBp)},50.00%,未达标,暂缓上报：扶贫产品占比不足（2020-09）`)

    // The month chosen in the form is the one shown.
    await page.fill('input[name=period]', '2020-10')
    await page.click('#filters button[type=submit]')
    await expect.poll(() => page.textContent('[data-testid=range]')).toBe('2020-10-01 至 2020-10-31')
    await expectComplianceAsApi(page, await get<ComplianceReply>(s, 'shi', '/api/v1/compliance?period=2020-10'))

    // Forwarding: the counts, the held period with its reason and amounts, the failed batch; retry sends it.
    await open(page, s, '/forwarding', '[data-testid=held-periods]')
    const fw = await get<ForwardingReply>(s, 'shi', '/api/v1/forwarding')
    expect(fw).toMatchObject({ sent: 1, pending: 0, held: [expect.objectContaining({ cabinetId: s.poor })], failed: [expect.objectContaining({ cabinetId: s.fy })] })
    expect(await page.textContent('[data-testid=sent]')).toBe(String(fw.sent))
    expect(await page.textContent('[data-testid=pending]')).toBe(String(fw.pending))
    expect(await page.textContent('[data-testid=held]')).toBe(String(fw.held.length))
    expect(await page.textContent('[data-testid=failed]')).toBe(String(fw.failed.length))
    expect(await texts(page, 'tr[data-held] td')).toEqual([s.poor, '定远县', '2020-09', '扶贫产品占比不足', '¥40.00', '¥10.00', `占比 ${percentBpZh(poor.shareBp)}，低于 50.00%`])
    await shot(page, 'city-forwarding')
    // Each sent batch with its receipt (?receipts=true): the platform took its key and record count.
    const withReceipts = await get<ForwardingReply>(s, 'shi', '/api/v1/forwarding?receipts=true')
    expect(withReceipts.sentBatches).toEqual([expect.objectContaining({ cabinetId: s.good, period: '2020-09', kind: 'report', status: 202, records: 1, attempts: 1 })])
    expect(fw.sentBatches).toBeUndefined()
    const sentBatch = withReceipts.sentBatches![0]!
    expect(await texts(page, `tr[data-sent="${sentBatch.batchKey}"] td`)).toEqual([s.good, '2020-09', '报送', beijingZh(sentBatch.deliveredAt), '平台已接收 1 条记录（HTTP 202）', '1', sentBatch.batchKey])
    const batchKey = fw.failed[0]!.batchKey
    expect(await page.textContent(`tr[data-failed="${batchKey}"]`)).toContain('401')
    await page.click(`button[data-retry="${batchKey}"]`)
    await page.waitForSelector('#fw-msg:has-text("已重新排队")')
    await expect.poll(async () => (await get<ForwardingReply>(s, 'shi', '/api/v1/forwarding')).sent, { timeout: 10_000 }).toBe(2)
    await page.click('#run')
    await page.waitForSelector('#fw-msg:has-text("已评判")')
    expect(await page.textContent('[data-testid=sent]')).toBe('2')
    expect(await page.locator('tr[data-failed]').count()).toBe(0)
    expect(await page.textContent(`tr[data-sent="${batchKey}"]`)).toContain('平台已接收 1 条记录（HTTP 202）')

    // Catalog: products, suppliers (registration county when the API has one; blacklist), certificates.
    await open(page, s, '/catalog', '[data-testid=products]')
    const products = await get<ProductList>(s, 'shi', '/api/v1/products')
    const productRows = await page.locator('tr[data-product]').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)))
    await shot(page, 'city-products')
    expect(productRows).toHaveLength(products.products.length)
    const rice = productRows.find((r) => r[0] === 'DY-RICE-5KG')!
    expect(rice).toEqual(['DY-RICE-5KG', '定远大米 5kg', '定远县炉桥镇粮油合作社', '定远县炉桥镇', '粮油', '¥49.90', '已认定 DY2020-001'])
    expect(productRows.find((r) => r[0] === 'X-CAKE')![6]).toBe('未认定')
    await page.click('a[data-tab=suppliers]')
    await page.waitForSelector('[data-testid=suppliers]')
    const suppliers = await get<SupplierList>(s, 'shi', '/api/v1/suppliers')
    expect(await page.locator('tr[data-supplier]').count()).toBe(suppliers.suppliers.length)
    expect(await page.textContent(`tr[data-supplier="${aUscc(3)}"]`)).toContain('自 2020-08-01 起列入黑名单：以次充好')
    expect(await page.textContent(`tr[data-supplier="${aUscc(1)}"] td:nth-child(1)`)).toBe(aUscc(1))
    // The registration county, where the API has one (H3 adds it to suppliers).
    for (const sup of suppliers.suppliers as Array<SupplierList['suppliers'][number] & { countyCode?: string | null }>) {
      const county = { '341125': '定远县', '341126': '凤阳县' }[sup.countyCode ?? ''] ?? '—'
      expect(await page.textContent(`tr[data-supplier="${sup.uscc}"] td:nth-child(3)`)).toBe(county)
    }
    await page.click('a[data-tab=certificates]')
    await page.waitForSelector('[data-testid=certificates]')
    await shot(page, 'city-certificates')
    const certs = await get<CertificateList>(s, 'shi', '/api/v1/certificates')
    expect(certs.asOf).toBe('2020-10-02')
    for (const cert of certs.certificates) {
      const row = await texts(page, `tr[data-certificate="${cert.certificateNo}"] td`)
      expect(row[4]).toBe(`${cert.validFrom} 至 ${cert.validTo}`)
      expect(row[5]).toBe({ pending: '尚未生效', valid: '有效', expired: '已过期', revoked: '已撤销' }[cert.status])
    }
    expect(await texts(page, 'tr[data-certificate="FY2019-007"] td')).toEqual(['FY2019-007', '凤阳绿茶 250g（FY-TEA-250G）', '凤阳县小岗村茶叶合作社', '县级', '2019-11-01 至 2020-10-31', '有效', '可续期（2020-07-31 起）', '—', '—'])
    expect(await page.textContent('tr[data-certificate="X2020-002"]')).toContain('自 2020-08-01 起撤销')
    expect(await page.textContent('tr[data-certificate="DY2020-001"] td:nth-child(7)')).toBe('可续期（2020-09-30 起）')
    await page.selectOption('#cert-status', 'revoked')
    await expect.poll(() => page.locator('tr[data-certificate]').count()).toBe(1)

    // Map: every located cabinet at its longitude/latitude, coloured by status; counties listed.
    await open(page, s, '/map', '#chart canvas')
    await shot(page, 'city-map')
    const cabs = await get<CabinetList>(s, 'shi', '/api/v1/cabinets?limit=1000')
    expect(await page.textContent('[data-testid=total]')).toBe(String(cabs.total))
    const located = cabs.cabinets.filter((x) => typeof x.latitude === 'number')
    expect(await page.textContent('[data-testid=located]')).toBe(String(located.length))
    const points = async () =>
      page.evaluate(() => {
        // In the page (no DOM types in this project's tsconfig): ECharts' own view of the chart.
        const w = globalThis as unknown as {
          document: { getElementById(id: string): unknown }
          echarts: { getInstanceByDom(el: unknown): { getOption(): { series: Array<{ name: string; data: Array<{ name: string; value: number[] }> }> } } }
        }
        const series = w.echarts.getInstanceByDom(w.document.getElementById('chart')).getOption().series
        return series.filter((x) => x.name !== '县区').flatMap((x) => x.data.map((d) => [d.name, x.name, ...d.value]))
      })
    const statusZh: Record<string, string> = { planned: '规划中', site_assigned: '已定点', installed: '已安装', operating: '运营中', suspended: '暂停', retired: '已撤除' }
    expect((await points()).sort()).toEqual(located.map((x) => [x.cabinetId, statusZh[x.status], x.longitude, x.latitude]).sort())
    await page.selectOption('#map-by', 'online')
    await expect.poll(async () => (await points()).map((p) => p[1]).sort()).toEqual(located.map((x) => (x.online ? '在线' : '离线')).sort())
    expect(await texts(page, 'tr[data-county] td:nth-child(-n+4)')).toEqual(['定远县', '3', '2', String(cabs.cabinets.filter((x) => x.countyCode === '341125' && x.online).length), '凤阳县', '1', '1', '0'])
    expect(failed).toEqual([])
  })

  it('shows a county official only its county on every page, and an operator only its company', async () => {
    const s = await seed()
    for (const [who, mine, theirs] of [
      ['dingyuan', [s.good, s.poor], [s.fy]],
      ['dyop', [s.good, s.poor], [s.fy]],
      ['fengyang', [s.fy], [s.good, s.poor]],
    ] as const) {
      const { page, failed } = await loggedIn(s, who, { width: 390, height: 844 })
      await open(page, s, '/compliance?period=2020-09', '[data-testid=compliance-cabinets]')
      const c = await get<ComplianceReply>(s, who, '/api/v1/compliance?period=2020-09')
      expect(c.cabinets.map((r) => r.cabinetId).sort()).toEqual([...mine].sort())
      await expectComplianceAsApi(page, c)
      expect(await page.locator('tr[data-county]').count()).toBe(1)
      await shot(page, `${who}-compliance`)

      await open(page, s, '/forwarding', '.kpis')
      const fw = await get<ForwardingReply>(s, who, '/api/v1/forwarding')
      expect(await page.textContent('[data-testid=sent]')).toBe(String(fw.sent))
      expect(await page.locator('tr[data-held]').count()).toBe(fw.held.length)
      expect(await page.locator('tr[data-failed]').count()).toBe(fw.failed.length + fw.corrections.failed.length)
      const receipts = await get<ForwardingReply>(s, who, '/api/v1/forwarding?receipts=true')
      expect(receipts.sentBatches!.map((b) => b.cabinetId).every((id) => (mine as readonly string[]).includes(id))).toBe(true)
      expect(await page.locator('tr[data-sent]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-sent')))).toEqual(receipts.sentBatches!.map((b) => b.batchKey))
      // Only the city administrator retries or runs forwarding.
      expect(await page.locator('button[data-retry], #run').count()).toBe(0)

      await open(page, s, '/map', '[data-testid=map-counties]')
      const cabs = await get<CabinetList>(s, who, '/api/v1/cabinets?limit=1000')
      expect(await page.textContent('[data-testid=total]')).toBe(String(cabs.total))
      await page.waitForSelector('#chart canvas')
      await shot(page, `${who}-map`)

      for (const path of ['/compliance?period=2020-09', '/forwarding', '/map']) {
        await open(page, s, path, '.kpis, [data-testid=map-counties]')
        const text = (await page.textContent('main')) ?? ''
        for (const id of theirs) expect(text, `${who} ${path}`).not.toContain(id)
        expect(text).not.toContain(who === 'fengyang' ? '定远县' : '凤阳县')
      }
      if (who === 'dingyuan') {
        // Asking for 凤阳县 by address selects nothing (the API narrows, never widens).
        await open(page, s, '/compliance?period=2020-09&county=341126', 'main .empty')
        expect(await page.textContent('[data-testid=cabinets]')).toBe('0')
        expect(await page.textContent('[data-testid=amount]')).toBe('¥0.00')
        expect(await page.textContent('main')).not.toContain(s.fy)
      }
      expect(failed).toEqual([])
    }
  })
})
