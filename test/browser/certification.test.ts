// The certification workflow on the dashboard (issue 15) in a real browser
// (Debian's Chromium driven by Playwright): a county official files an
// application for its supplier with the policy's product facts and approves
// it; the 公示 list shows it; the city administrator records an objection,
// the county dismisses it; after the notice the publicity pass makes it
// effective and the 目录 page shows the product certified with its facts. A
// rejection shows its reason; an operator sees only what it filed; another
// county sees none of it. Every figure is compared with the API's answer.
import { join } from 'node:path'
import { type Browser, type Page } from 'playwright-core'
import { launchChromium, logInDashboard, NO_CHROMIUM } from '../helpers/browser.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Fleet } from '../../fleet-server/src/app.js'
import { beijingZh, LABELS_ZH, yuanZh, type ApplicationDetail, type ApplicationHistory, type ApplicationList, type ProductList, type PublicityList } from '../../shared/src/index.js'
import { aClock, aUscc, fleetWith, ok } from '../fleet-server/certification.fixtures.js'
import { api } from '../helpers/fleet.js'

const PASSWORD = 'cert-2020!'
const A = '/api/v1/certification/applications'

type Who = 'shi' | 'dingyuan' | 'fengyang' | 'dyop'

/** SCREENSHOT_DIR=dir keeps a full-page picture of each page for a look. */
async function shot(page: Page, name: string): Promise<void> {
  if (process.env.SCREENSHOT_DIR) await page.screenshot({ path: join(process.env.SCREENSHOT_DIR, `${name}.png`), fullPage: true })
}

/** Monday 2020-09-14 in two counties: a 定远县 supplier registered by the operator dy-coop, a 凤阳县 one; four users. */
async function seed() {
  const clock = aClock('2020-09-14T02:00:00Z')
  const fleet = await fleetWith({ deps: { now: clock.now } })
  await ok(fleet, 'POST', '/api/v1/suppliers', { uscc: aUscc(1), name: '定远县蜂业合作社', countyCode: '341125', operator: 'dy-coop' })
  await ok(fleet, 'POST', '/api/v1/suppliers', { uscc: aUscc(2, '341126'), name: '凤阳县小岗村茶叶合作社', countyCode: '341126' })
  const user = async (username: string, body: Record<string, unknown>) => (await ok<{ token: string }>(fleet, 'POST', '/api/v1/users', { username, password: PASSWORD, ...body })).token
  const tokens: Record<Who, string> = {
    shi: await user('shi', { role: 'admin' }),
    dingyuan: await user('dingyuan', { role: 'county', countyCode: '341125' }),
    fengyang: await user('fengyang', { role: 'county', countyCode: '341126' }),
    dyop: await user('dyop', { role: 'operator', operator: 'dy-coop' }),
  }
  return { clock, fleet, tokens }
}
type Seeded = Awaited<ReturnType<typeof seed>>

async function as<T>(s: Seeded, who: Who, method: 'GET' | 'POST', url: string, body?: unknown, status = method === 'GET' ? 200 : 201): Promise<T> {
  const r = await api<T>(s.fleet, method, url, body, s.tokens[who])
  expect(r.status, `${method} ${url}: ${JSON.stringify(r.body)}`).toBe(status)
  return r.body
}

describe.skipIf(NO_CHROMIUM)('certification workflow on the dashboard in Chromium', () => {
  let browser: Browser
  beforeAll(async () => {
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
  })

  const loggedIn = (fleet: Fleet, username: string) => logInDashboard(browser, fleet.httpUrl, username, PASSWORD)

  async function open(page: Page, fleet: Fleet, hash: string, selector: string): Promise<void> {
    await page.goto(`${fleet.httpUrl}/dashboard/#${hash}`)
    await page.waitForSelector(selector)
  }

  const texts = (page: Page, selector: string) => page.locator(selector).allTextContents()
  const cells = (page: Page, selector: string) => page.locator(selector).evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)))

  /** The list page's rows and total against GET /certification/applications for that user. */
  async function expectListAsApi(page: Page, s: Seeded, who: Who): Promise<ApplicationList> {
    const list = await as<ApplicationList>(s, who, 'GET', A)
    expect(await page.textContent('[data-testid=app-total]')).toBe(String(list.total))
    const shown = await page.locator('tr[data-application]').evaluateAll((rows) => rows.map((r) => [r.getAttribute('data-application'), r.querySelectorAll('td')[5]!.textContent]))
    expect(shown).toEqual(list.applications.map((a) => [String(a.applicationId), `${LABELS_ZH.applicationState[a.state]}${a.isDue ? ' 公示期满' : ''}`]))
    return list
  }

  /** The detail page's history against GET …/history: time in Beijing, who, role, action, reason. */
  async function expectHistoryAsApi(page: Page, s: Seeded, who: Who, id: number): Promise<void> {
    const h = await as<ApplicationHistory>(s, who, 'GET', `${A}/${id}/history`)
    const rows = (await cells(page, 'tr[data-event]')).map((r) => [r[0], r[1], r[2], r[3], r[5]])
    const role = (r: string) => (r === 'system' ? '系统' : LABELS_ZH.role[r as keyof typeof LABELS_ZH.role])
    expect(rows).toEqual(h.events.map((e) => [beijingZh(e.at), e.actor, role(e.role), LABELS_ZH.applicationAction[e.action], e.reason ?? '']))
  }

  it('takes a county’s application with its product facts through review, 公示 and an objection to a certified product in the catalog', async () => {
    const s = await seed()
    const { fleet, clock } = s
    const county = await loggedIn(fleet, 'dingyuan')
    let { page } = county

    // File through the form: the supplier list holds the county's own suppliers only.
    await open(page, fleet, '/certification', '#file-form')
    expect(await page.locator('#file-form select[name=supplierUscc] option').evaluateAll((o) => o.map((x) => x.getAttribute('value')))).toEqual([aUscc(1)])
    // A bad price range: the server's Chinese message is shown and nothing is filed.
    await page.fill('#file-form input[name=sku]', 'DY-HONEY')
    await page.fill('#file-form input[name=name]', '定远槐花蜜')
    await page.fill('#file-form input[name=price]', '39.90')
    await page.fill('#file-form input[name=priceMin]', '45')
    await page.fill('#file-form input[name=priceMax]', '35')
    await page.click('#file-form button[type=submit]')
    await expect.poll(() => page.textContent('#file-error')).toContain('不能低于最低价')
    expect((await as<ApplicationList>(s, 'dingyuan', 'GET', A)).total).toBe(0)
    for (const [name, value] of [['priceMin', '35'], ['priceMax', '45'], ['origin', '定远县'], ['category', '农副产品'], ['scale', '蜂群 300 箱'], ['annualOutput', '5000 公斤'], ['supplyPeriod', '4月至9月'], ['operator', '定远县蜂业合作社'], ['householdsHelped', '12'], ['materialSource', '自养蜂群']] as const) {
      await page.fill(`#file-form input[name=${name}]`, value)
    }
    await page.click('#file-form button[type=submit]')
    await page.waitForSelector('#review-form')
    const [filed] = (await as<ApplicationList>(s, 'dingyuan', 'GET', A)).applications
    expect(filed).toMatchObject({ kind: 'new', state: 'county_review', sku: 'DY-HONEY', filedBy: 'dingyuan' })
    const facts = { name: '定远槐花蜜', priceFen: 3990, origin: '定远县', category: '农副产品', scale: '蜂群 300 箱', annualOutput: '5000 公斤', supplyPeriod: '4月至9月', priceRange: { minFen: 3500, maxFen: 4500 }, operator: '定远县蜂业合作社', householdsHelped: 12, materialSource: '自养蜂群' }
    expect(filed!.facts).toEqual(facts)
    const id = filed!.applicationId
    expect(await page.textContent('[data-testid=app-state]')).toBe('县级审核中')
    expect(await page.textContent('dd[data-fact=priceRange]')).toBe('¥35.00–¥45.00')
    expect(await page.textContent('dd[data-fact=householdsHelped]')).toBe('12 户')

    // Approve: into 公示, 5 working days after the approval day.
    await page.fill('#review-form input[name=reason]', '材料齐全')
    await page.click('button[data-review=approve]')
    await expect.poll(() => page.textContent('[data-testid=app-state]')).toBe('公示中')
    const approved = await as<ApplicationDetail>(s, 'dingyuan', 'GET', `${A}/${id}`)
    expect(approved).toMatchObject({ state: 'publicity', publicityFrom: '2020-09-15', publicityTo: '2020-09-21', effectiveFrom: '2020-09-22' })
    expect(await page.textContent('[data-testid=publicity-window]')).toBe('2020-09-15 至 2020-09-21，2020-09-22 起生效')
    await expectHistoryAsApi(page, s, 'dingyuan', id)
    await open(page, fleet, '/certification', '[data-testid=publicity]')
    const pub = await as<PublicityList>(s, 'dingyuan', 'GET', '/api/v1/certification/publicity')
    expect(pub.notices.map((n) => n.applicationId)).toEqual([id])
    expect(await cells(page, 'tr[data-notice]')).toEqual(pub.notices.map((n) => [n.productName, '新申请认定', n.supplierName, '定远县', `${n.publicityFrom} 至 ${n.publicityTo}`, n.effectiveFrom, '公示中']))
    await expectListAsApi(page, s, 'dingyuan')
    await shot(page, 'county-certification')

    // The city administrator records an objection during 公示.
    clock.set('2020-09-16T02:00:00Z')
    const admin = await loggedIn(fleet, 'shi')
    await open(admin.page, fleet, `/certification/${id}`, '#objection-form')
    await admin.page.fill('#objection-form input[name=reason]', '产地存疑')
    await admin.page.fill('#objection-form input[name=by]', '12317 举报人')
    await admin.page.click('#objection-form button[type=submit]')
    await expect.poll(() => admin.page.textContent('[data-testid=app-state]')).toBe('异议处理中')
    const held = await as<ApplicationDetail>(s, 'shi', 'GET', `${A}/${id}`)
    expect(held).toMatchObject({ state: 'on_hold', openObjections: 1 })
    const objectionId = held.objections[0]!.objectionId
    expect((await texts(admin.page, `tr[data-objection="${objectionId}"] td`)).slice(0, 5)).toEqual([beijingZh(held.objections[0]!.lodgedAt), '产地存疑', '12317 举报人', 'shi', '待处理'])

    // The county dismisses it with a reason (empty first: the server's message is shown).
    // Sessions end after idle hours, and the clock moved on by days: log in again.
    const county2 = await loggedIn(fleet, 'dingyuan')
    page = county2.page
    await open(page, fleet, `/certification/${id}`, `button[data-resolve="${objectionId}"]`)
    await page.click(`button[data-resolve="${objectionId}"][data-decision=dismissed]`)
    await expect.poll(() => page.textContent('#action-error')).not.toBe('')
    await page.fill(`input[data-resolve-reason="${objectionId}"]`, '经核实产地为定远县')
    await page.click(`button[data-resolve="${objectionId}"][data-decision=dismissed]`)
    await expect.poll(() => page.textContent('[data-testid=app-state]')).toBe('公示中')
    expect((await as<ApplicationDetail>(s, 'dingyuan', 'GET', `${A}/${id}`)).objections[0]).toMatchObject({ state: 'dismissed', resolution: '经核实产地为定远县', resolvedBy: 'dingyuan' })
    expect(await texts(page, `tr[data-objection="${objectionId}"] td:nth-child(5)`)).toEqual(['异议不成立'])

    // After the notice the publicity pass makes it effective.
    clock.set('2020-09-22T02:00:00Z')
    const run = await as<{ effective: Array<{ applicationId: number; certificateNo: string }> }>(s, 'shi', 'POST', '/api/v1/certification/publicity/run', undefined, 200)
    expect(run.effective).toEqual([{ applicationId: id, certificateNo: 'RD2020-000001' }])
    const county3 = await loggedIn(fleet, 'dingyuan')
    page = county3.page
    await open(page, fleet, `/certification/${id}`, '[data-testid=events]')
    expect(await page.textContent('[data-testid=app-state]')).toBe('已认定')
    expect(await page.textContent('[data-testid=certificate-no]')).toBe('RD2020-000001')
    await expectHistoryAsApi(page, s, 'dingyuan', id)
    expect((await cells(page, 'tr[data-event]')).map((r) => r[3])).toEqual(['提交申请', '审核通过', '开始公示', '登记异议', '异议不成立', '恢复公示', '认定生效'])
    await shot(page, 'county-application')

    // The 目录 page: certified, with the facts the application declared.
    await open(page, fleet, '/catalog', '[data-testid=products]')
    const products = await as<ProductList>(s, 'dingyuan', 'GET', '/api/v1/products')
    const honey = products.products.find((p) => p.sku === 'DY-HONEY')!
    expect(honey).toMatchObject({ ...facts, isCertified: true, certificateNo: 'RD2020-000001' })
    expect(await texts(page, 'tr[data-product="DY-HONEY"] td')).toEqual(['DY-HONEY', honey.name, '定远县蜂业合作社', '定远县', '农副产品', `¥${yuanZh(honey.priceFen)}`, '已认定 RD2020-000001'])
    const shownFacts = await page.locator('tr[data-product-facts="DY-HONEY"] [data-fact]').evaluateAll((els) => els.map((e) => [e.getAttribute('data-fact'), e.textContent]))
    expect(shownFacts).toEqual([
      ['scale', '生产规模 蜂群 300 箱'],
      ['annualOutput', '年产量 5000 公斤'],
      ['supplyPeriod', '供货时间（上市季节） 4月至9月'],
      ['priceRange', `价格区间 ¥${yuanZh(honey.priceRange!.minFen)}–¥${yuanZh(honey.priceRange!.maxFen)}`],
      ['operator', '经营主体 定远县蜂业合作社'],
      ['householdsHelped', `带贫人数 ${honey.householdsHelped} 户`],
      ['materialSource', '生产资料来源 自养蜂群'],
    ])
    await shot(page, 'county-catalog-facts')
    for (const c of [county, county2, county3, admin]) expect(c.failed).toEqual([])
  })

  it('shows a rejection’s reason; an operator sees only what it filed, another county none of it', async () => {
    const s = await seed()
    const { fleet } = s
    const byOperator = await as<ApplicationDetail>(s, 'dyop', 'POST', A, { kind: 'new', supplierUscc: aUscc(1), sku: 'DY-TEA', product: { name: '定远野茶', priceFen: 2800, householdsHelped: 5 } })
    const byCounty = await as<ApplicationDetail>(s, 'dingyuan', 'POST', A, { kind: 'new', supplierUscc: aUscc(1), sku: 'DY-RICE', product: { name: '定远大米', priceFen: 1200 } })
    const fengyang = await as<ApplicationDetail>(s, 'fengyang', 'POST', A, { kind: 'new', supplierUscc: aUscc(2, '341126'), sku: 'FY-TEA', product: { name: '凤阳绿茶', priceFen: 5000 } })

    // The county rejects 定远大米 from its detail page; without a reason the server's message is shown.
    const { page, failed } = await loggedIn(fleet, 'dingyuan')
    await open(page, fleet, `/certification/${byCounty.applicationId}`, '#review-form')
    await page.click('button[data-review=reject]')
    await expect.poll(() => page.textContent('#action-error')).toContain('理由')
    await page.fill('#review-form input[name=reason]', '带贫成效证明缺失')
    await page.click('button[data-review=reject]')
    await expect.poll(() => page.textContent('[data-testid=app-state]')).toBe('未通过')
    expect(await page.textContent('[data-testid=reject-reason]')).toBe('带贫成效证明缺失')
    expect(await as<ApplicationDetail>(s, 'dingyuan', 'GET', `${A}/${byCounty.applicationId}`)).toMatchObject({ state: 'rejected', rejectReason: '带贫成效证明缺失' })
    await expectHistoryAsApi(page, s, 'dingyuan', byCounty.applicationId)
    // The county sees both of its county's applications (the operator's too), not 凤阳县's.
    await open(page, fleet, '/certification', '[data-testid=applications]')
    expect((await expectListAsApi(page, s, 'dingyuan')).applications.map((a) => a.applicationId).sort()).toEqual([byOperator.applicationId, byCounty.applicationId].sort())
    await page.selectOption('#filters select[name=state]', 'rejected')
    await expect.poll(() => page.locator('tr[data-application]').evaluateAll((r) => r.map((x) => x.getAttribute('data-application')))).toEqual([String(byCounty.applicationId)])
    expect(failed).toEqual([])

    // The operator: only what it filed; no review buttons.
    const op = await loggedIn(fleet, 'dyop')
    await open(op.page, fleet, '/certification', '[data-testid=applications]')
    expect((await expectListAsApi(op.page, s, 'dyop')).applications.map((a) => a.applicationId)).toEqual([byOperator.applicationId])
    expect(await op.page.textContent('main')).not.toContain('定远大米')
    await open(op.page, fleet, `/certification/${byOperator.applicationId}`, '[data-testid=events]')
    expect(await op.page.locator('#review-form').count()).toBe(0)
    await open(op.page, fleet, `/certification/${byCounty.applicationId}`, 'main .empty.bad')
    expect(await op.page.textContent('main')).not.toContain('定远大米')
    expect(op.failed).toEqual([])

    // Another county: none of 定远县's, on the list, the 公示 list or by address.
    const fy = await loggedIn(fleet, 'fengyang')
    await open(fy.page, fleet, '/certification', '[data-testid=applications]')
    expect((await expectListAsApi(fy.page, s, 'fengyang')).applications.map((a) => a.applicationId)).toEqual([fengyang.applicationId])
    const text = (await fy.page.textContent('main')) ?? ''
    for (const name of ['定远野茶', '定远大米', '定远县蜂业合作社']) expect(text).not.toContain(name)
    expect(await fy.page.locator('#file-form select[name=supplierUscc] option').evaluateAll((o) => o.map((x) => x.getAttribute('value')))).toEqual([aUscc(2, '341126')])
    for (const other of [byOperator.applicationId, byCounty.applicationId]) {
      await open(fy.page, fleet, `/certification/${other}`, 'main .empty.bad')
      expect(await fy.page.textContent('main')).not.toContain('定远')
    }
    expect(fy.failed).toEqual([])
  })
})
