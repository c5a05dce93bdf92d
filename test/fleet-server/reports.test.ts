// Reports over the HTTP API with real parts (MQTT cabinets, SQLite, the
// compliance figures): the snapshot's figures, that it never changes, scope
// per role, period validation, the three formats, and the cron job.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import ExcelJS from 'exceljs'
import cron from 'node-cron'
import { describe, expect, it } from 'vitest'
import type { Fleet } from '../../fleet-server/src/app.js'
import type { ReportDocument, ReportSummary } from '../../shared/src/index.js'
import { run } from '../../fleet-server/src/cli/fleetctl.js'
import { countingTurns } from '../helpers/event-loop.js'
import { api, startFleet, tempDir } from '../helpers/fleet.js'
import { aCatalog, aClock, aDatedCabinet, fleetWith, line, ok } from './certification.fixtures.js'

// Tuesday 2020-10-06 10:00 in Shanghai: week 40 (09-28..10-04) has ended, week 41 is running.
const TUESDAY = '2020-10-06T02:00:00Z'

async function aFleetWithSales(clockAt = TUESDAY) {
  const clock = aClock(clockAt)
  const fleet = await fleetWith({ deps: { now: clock.now }, env: { FLEET_REPORTS_SCHEDULE: 'off' } })
  await aCatalog(fleet, { CERT: { cert: ['2020-01-01'] }, PLAIN: {} })
  const dy1 = await aDatedCabinet(fleet, { countyCode: '341125', operator: 'dy-coop', siteName: '县政府, 东门', venueType: '机关' })
  const dy2 = await aDatedCabinet(fleet, { countyCode: '341125' })
  const fy1 = await aDatedCabinet(fleet, { countyCode: '341126', operator: 'fy-coop', siteName: '凤阳火车站', venueType: '车站' })
  await dy1.sell('2020-09-29', [line('CERT', 3000), line('PLAIN', 1000)])
  await dy1.sell('2020-10-04', [line('PLAIN', 2000)])
  await dy1.sell('2020-10-05', [line('PLAIN', 700)]) // week 41: not in week 40
  await fy1.sell('2020-09-30', [line('PLAIN', 5000)])
  await fy1.sell('2020-09-27', [line('CERT', 800)]) // week 39, September
  return { fleet, clock, dy1, dy2, fy1 }
}

const create = (fleet: Fleet, body: Record<string, unknown>, token = fleet.adminToken) => api<ReportSummary & { error?: { code: string; message: string } }>(fleet, 'POST', '/api/v1/reports', body, token)
const read = async (fleet: Fleet, id: string, token = fleet.adminToken) => api<ReportDocument & { error?: { code: string } }>(fleet, 'GET', `/api/v1/reports/${id}`, undefined, token)
const list = async (fleet: Fleet, token = fleet.adminToken, q = '') => (await api<{ reports: ReportSummary[] }>(fleet, 'GET', `/api/v1/reports${q}`, undefined, token)).body.reports
const tokenOf = async (fleet: Fleet, body: Record<string, unknown>) => (await ok<{ token: string }>(fleet, 'POST', '/api/v1/users', body)).token

describe('reports', () => {
  it('takes a weekly snapshot: period in Asia/Shanghai, rollout, sales judged against the threshold, forwarding, one row per cabinet', async () => {
    const { fleet, dy1, dy2, fy1 } = await aFleetWithSales()
    const r = await create(fleet, { kind: 'weekly', period: '2020-W40' })
    expect(r.status, JSON.stringify(r.body)).toBe(201)
    expect(r.body).toMatchObject({ kind: 'weekly', period: '2020-W40', scope: 'city', scopeName: '滁州市', from: '2020-09-28', to: '2020-10-04', createdBy: 'admin', scheduled: false, createdAt: '2020-10-06T02:00:00.000Z' })
    expect(r.body.reportId).toEqual(expect.any(String))

    const doc = await read(fleet, r.body.reportId)
    expect(doc.status).toBe(200)
    expect(doc.body).toMatchObject({
      v: 1, kind: 'weekly', period: '2020-W40', from: '2020-09-28', to: '2020-10-04', timeZone: 'Asia/Shanghai', dueOn: '2020-10-06', isComplete: true,
      title: '滁州市消费扶贫智能专柜周报（2020年第40周，2020-09-28至2020-10-04）', threshold: { bp: 5000, ratio: 0.5, channel: 'cabinet' },
    })
    expect(doc.body.counties.map((c) => c.code)).toEqual(fleet.plan.counties.map((c) => c.code))
    const dy = doc.body.counties.find((c) => c.code === '341125')!
    expect(dy).toMatchObject({
      name: '定远县',
      // dy1 was created with its site (site_assigned); connected cabinets not installed are not online (issue 15).
      rollout: { quota: 415, sitesAssigned: 1, installed: 0, operating: 0, online: 0 },
      sales: { salesCount: 2, amountFen: 6000, certifiedAmountFen: 3000, shareBp: 5000, ratio: 0.5, compliantCabinets: 1, judgedCabinets: 1 },
      forwarding: { sent: 0, pending: 0, held: 0, failed: 0 },
    })
    expect(doc.body.counties.find((c) => c.code === '341126')!.sales).toMatchObject({ salesCount: 1, amountFen: 5000, certifiedAmountFen: 0, compliantCabinets: 0, judgedCabinets: 1 })
    expect(doc.body.totals.sales).toEqual({ salesCount: 3, amountFen: 11000, certifiedAmountFen: 3000, shareBp: 2727, ratio: 0.2727, compliantCabinets: 1, judgedCabinets: 2 })
    expect(doc.body.totals.rollout).toMatchObject({ quota: 2700, sitesAssigned: 2, online: 0 })
    expect(doc.body.cabinets).toEqual([
      expect.objectContaining({ cabinetId: dy1.cabinetId, countyName: '定远县', operator: 'dy-coop', siteName: '县政府, 东门', venueType: '机关', status: 'site_assigned', salesCount: 2, amountFen: 6000, certifiedAmountFen: 3000, shareBp: 5000, compliant: true }),
      expect.objectContaining({ cabinetId: dy2.cabinetId, salesCount: 0, amountFen: 0, compliant: null }),
      expect.objectContaining({ cabinetId: fy1.cabinetId, countyCode: '341126', amountFen: 5000, shareBp: 0, compliant: false }),
    ])
  })

  it('keeps a report as it was taken; a new POST takes a new snapshot', async () => {
    const { fleet, dy1 } = await aFleetWithSales()
    const first = (await create(fleet, { kind: 'weekly', period: '2020-W40', county: '341125' })).body
    const before = (await read(fleet, first.reportId)).body
    // A cabinet that was offline syncs a sale of week 40 late.
    await dy1.sell('2020-10-03', [line('CERT', 4000)])
    expect((await read(fleet, first.reportId)).body).toEqual(before)
    const second = (await create(fleet, { kind: 'weekly', period: '2020-W40', county: '341125' })).body
    expect(second.reportId).not.toBe(first.reportId)
    expect((await read(fleet, second.reportId)).body.totals.sales).toMatchObject({ salesCount: 3, amountFen: 10000, certifiedAmountFen: 7000, shareBp: 7000 })
    expect((await list(fleet)).map((r) => r.reportId)).toEqual([second.reportId, first.reportId])
  })

  it('covers a month and a quarter as whole Asia/Shanghai months, and a running period as incomplete', async () => {
    const { fleet } = await aFleetWithSales()
    const month = (await create(fleet, { kind: 'monthly', period: '2020-09' })).body
    expect([month.from, month.to]).toEqual(['2020-09-01', '2020-09-30'])
    const m = (await read(fleet, month.reportId)).body
    expect(m).toMatchObject({ dueOn: '2020-10-25', isComplete: true, title: '滁州市消费扶贫智能专柜月报（2020年9月）' })
    expect(m.totals.sales).toMatchObject({ salesCount: 3, amountFen: 4000 + 5000 + 800, certifiedAmountFen: 3800 })
    const quarter = (await create(fleet, { kind: 'quarterly', period: '2020-Q3' })).body
    expect([quarter.from, quarter.to]).toEqual(['2020-07-01', '2020-09-30'])
    expect((await read(fleet, quarter.reportId)).body).toMatchObject({ dueOn: null, title: '滁州市消费扶贫智能专柜季报（2020年第三季度）', totals: { sales: { amountFen: 9800 } } })
    const running = (await create(fleet, { kind: 'weekly', period: '2020-W41' })).body
    expect((await read(fleet, running.reportId)).body).toMatchObject({ isComplete: false, totals: { sales: { amountFen: 700 } } })
  })

  it('refuses a period that does not match its kind, one not started, an unknown county or format, with specific codes', async () => {
    const { fleet } = await aFleetWithSales()
    for (const [kind, period] of [['weekly', '2020-09'], ['weekly', '2021-W53'], ['monthly', '2020-13'], ['monthly', '2020-W40'], ['quarterly', '2020-Q5'], ['quarterly', '2020-09']]) {
      const r = await create(fleet, { kind, period })
      expect(r.status, `${kind} ${period}`).toBe(400)
      expect(r.body.error).toMatchObject({ code: 'REPORT_PERIOD_INVALID', message: expect.stringContaining(period!) })
    }
    expect((await create(fleet, { kind: 'weekly', period: '2020-09' })).body.error!.message).toBe('报表期间与报表类型不符（周报 2020-W40，月报 2020-09，季报 2020-Q3）：“2020-09” 不是周报期间')
    expect((await create(fleet, { kind: 'weekly', period: '2020-W42' })).body.error).toMatchObject({ code: 'REPORT_PERIOD_NOT_STARTED' })
    expect((await create(fleet, { kind: 'daily', period: '2020-10-01' })).body.error).toMatchObject({ code: 'VALIDATION_FAILED' })
    expect((await create(fleet, { kind: 'weekly', period: '2020-W40', extra: 1 })).body.error).toMatchObject({ code: 'VALIDATION_FAILED' })
    const unknown = await create(fleet, { kind: 'weekly', period: '2020-W40', county: '341199' })
    expect([unknown.status, unknown.body.error?.code]).toEqual([400, 'REPORT_COUNTY_UNKNOWN'])
    const ok1 = (await create(fleet, { kind: 'weekly', period: '2020-W40' })).body
    const pdf = await api<{ error: { code: string } }>(fleet, 'GET', `/api/v1/reports/${ok1.reportId}?format=pdf`)
    expect([pdf.status, pdf.body.error.code]).toEqual([400, 'REPORT_FORMAT_INVALID'])
    const missing = await read(fleet, '0190b3c4-0000-7000-8000-000000000000')
    expect([missing.status, missing.body.error?.code]).toEqual([404, 'REPORT_NOT_FOUND'])
    expect((await api(fleet, 'GET', '/api/v1/reports', undefined, null)).status).toBe(401)
  })

  it('keeps each role to its scope: county officials their county, operators their cabinets, auditors everything', async () => {
    const { fleet, dy1, dy2, fy1 } = await aFleetWithSales()
    const dy = await tokenOf(fleet, { username: 'dy', role: 'county', countyCode: '341125' })
    const fyOp = await tokenOf(fleet, { username: 'fyop', role: 'operator', operator: 'fy-coop' })
    const auditor = await tokenOf(fleet, { username: 'au', role: 'auditor' })

    const city = (await create(fleet, { kind: 'weekly', period: '2020-W40' })).body
    const fyCounty = (await create(fleet, { kind: 'weekly', period: '2020-W40', county: '341126' })).body

    // County official: county omitted = its own; another county is refused without a report being made.
    const own = await create(fleet, { kind: 'weekly', period: '2020-W40' }, dy)
    expect(own.status).toBe(201)
    expect(own.body).toMatchObject({ scope: 'county:341125', scopeName: '定远县', countyCode: '341125', createdBy: 'dy' })
    const ownDoc = (await read(fleet, own.body.reportId, dy)).body
    expect(ownDoc.counties.map((c) => c.code)).toEqual(['341125'])
    expect(ownDoc.cabinets.map((c) => c.cabinetId)).toEqual([dy1.cabinetId, dy2.cabinetId])
    expect(ownDoc.totals.rollout.quota).toBe(415)
    const other = await create(fleet, { kind: 'weekly', period: '2020-W40', county: '341126' }, dy)
    expect([other.status, other.body.error?.code]).toEqual([403, 'ACCESS_OUT_OF_SCOPE'])
    expect((await list(fleet, dy)).map((r) => r.reportId)).toEqual([own.body.reportId])
    expect(await list(fleet, dy, '?county=341126')).toEqual([])
    for (const id of [city.reportId, fyCounty.reportId]) {
      for (const format of ['json', 'csv', 'xlsx']) {
        const r = await api<{ error: { code: string } }>(fleet, 'GET', `/api/v1/reports/${id}?format=${format}`, undefined, dy)
        expect([r.status, r.body.error.code]).toEqual([404, 'REPORT_NOT_FOUND'])
      }
    }

    // Operator: its own cabinets only, in any county; it sees no county or city report.
    const op = await create(fleet, { kind: 'weekly', period: '2020-W40' }, fyOp)
    expect(op.body).toMatchObject({ scope: 'operator:fy-coop', operator: 'fy-coop', countyCode: null, scopeName: '运营企业 fy-coop' })
    const opDoc = (await read(fleet, op.body.reportId, fyOp)).body
    expect(opDoc.cabinets.map((c) => c.cabinetId)).toEqual([fy1.cabinetId])
    expect(opDoc.counties.map((c) => c.code)).toEqual(['341126'])
    expect(opDoc.totals.sales).toMatchObject({ amountFen: 5000, judgedCabinets: 1 })
    expect((await list(fleet, fyOp)).map((r) => r.reportId)).toEqual([op.body.reportId])
    expect((await read(fleet, fyCounty.reportId, fyOp)).status).toBe(404)
    expect((await read(fleet, op.body.reportId, dy)).status).toBe(404)
    const opNarrow = (await create(fleet, { kind: 'weekly', period: '2020-W40', county: '341125' }, fyOp)).body
    expect(opNarrow.scope).toBe('operator:fy-coop/county:341125')
    expect((await read(fleet, opNarrow.reportId, fyOp)).body.cabinets).toEqual([])

    // Auditor: reads and takes reports city-wide.
    expect((await create(fleet, { kind: 'monthly', period: '2020-09', county: '341126' }, auditor)).status).toBe(201)
    expect((await list(fleet, auditor)).length).toBe(6)
    expect((await list(fleet, auditor, '?kind=weekly&county=341126')).map((r) => r.reportId)).toEqual([fyCounty.reportId])
  })

  it('serves CSV (UTF-8 with BOM) and XLSX files over HTTP that match the JSON', async () => {
    const { fleet, dy1 } = await aFleetWithSales()
    const { reportId } = (await create(fleet, { kind: 'weekly', period: '2020-W40', county: '341125' })).body
    const get = (format: string) => fetch(`${fleet.httpUrl}/api/v1/reports/${reportId}?format=${format}`, { headers: { authorization: `Bearer ${fleet.adminToken}` } })

    const csv = await get('csv')
    expect(csv.status).toBe(200)
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8')
    expect(csv.headers.get('content-disposition')).toBe(
      `attachment; filename="fupin-report-weekly-2020-W40-county-341125.csv"; filename*=UTF-8''${encodeURIComponent('定远县周报-2020-W40.csv')}`,
    )
    const bytes = Buffer.from(await csv.arrayBuffer())
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf])
    const text = bytes.subarray(3).toString('utf8')
    expect(text).toContain('统计期间,2020-09-28 至 2020-10-04（北京时间）')
    expect(text).toContain(`${dy1.cabinetId},341125,定远县,dy-coop,"县政府, 东门",机关,已定点,2,6000,60.00,3000,30.00,50.00%,达标`)

    const xlsx = await get('xlsx')
    expect(xlsx.status).toBe(200)
    expect(xlsx.headers.get('content-type')).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
    expect(xlsx.headers.get('content-disposition')).toMatch(/^attachment; filename="fupin-report-weekly-2020-W40-county-341125\.xlsx"/)
    const book = new ExcelJS.Workbook()
    await book.xlsx.load(await xlsx.arrayBuffer())
    const rows = book.getWorksheet('专柜明细')!.getSheetValues().slice(1).map((r) => (r as unknown[]).slice(1))
    expect(rows[0]![0]).toBe('专柜编号')
    expect(rows[1]).toEqual([dy1.cabinetId, '341125', '定远县', 'dy-coop', '县政府, 东门', '机关', '已定点', 2, 6000, 60, 3000, 30, 0.5, '达标'])

    const json = await get('json')
    expect(json.headers.get('content-type')).toMatch(/^application\/json/)
    expect(((await json.json()) as ReportDocument).reportId).toBe(reportId)
  })
})

describe('fleetctl reports', () => {
  it('creates, lists and downloads reports, in Chinese or --json', async () => {
    const { fleet } = await aFleetWithSales()
    const dy = await tokenOf(fleet, { username: 'dy', role: 'county', countyCode: '341125' })
    const ctl = async (args: string[], token = fleet.adminToken) => {
      const out: string[] = []
      const err: string[] = []
      const code = await run(args, { FLEET_URL: fleet.httpUrl, FLEET_TOKEN: token }, { out: (l) => out.push(l), err: (l) => err.push(l) })
      return { code, out: out.join('\n'), err: err.join('\n') }
    }
    const created = await ctl(['reports', 'create', '--kind', 'weekly', '--period', '2020-W40'], dy)
    expect(created.code, created.err).toBe(0)
    expect(created.out).toMatch(/^已生成定远县周报（2020-W40，2020-09-28 至 2020-10-04）\n报表编号 \S+$/)
    const id = /报表编号 (\S+)/.exec(created.out)![1]!
    const json = await ctl(['--json', 'reports', 'list'], dy)
    expect((JSON.parse(json.out) as { reports: ReportSummary[] }).reports.map((r) => r.reportId)).toEqual([id])
    expect((await ctl(['reports', 'list'], dy)).out).toMatch(/^编号\s+类型\s+期间\s+范围/)
    const shown = await ctl(['reports', 'get', id], dy)
    expect(shown.out).toContain('定远县消费扶贫智能专柜周报')
    expect(shown.out).toMatch(/定远县\s+341125\s+415\s+0\s+0\s+2\s+60\.00\s+30\.00\s+50\.00%\s+1\/1/)
    const dir = await tempDir()
    const file = join(dir, 'w40.csv')
    expect((await ctl(['reports', 'get', id, '--format', 'csv', '--out', file], dy)).out).toBe(`已保存 ${file}（${(await readFile(file)).length} 字节）`)
    expect([...(await readFile(file)).subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf])
    const bad = await ctl(['reports', 'create', '--kind', 'weekly', '--period', '2020-09'], dy)
    expect(bad.code).toBe(1)
    expect(bad.err).toContain('REPORT_PERIOD_INVALID')
    expect(bad.err).toContain('报表期间与报表类型不符')
    const hidden = await ctl(['reports', 'get', (await create(fleet, { kind: 'weekly', period: '2020-W40', county: '341126' })).body.reportId, '--format', 'xlsx', '--out', join(dir, 'x.xlsx')], dy)
    expect([hidden.code, hidden.err.includes('REPORT_NOT_FOUND')]).toEqual([1, true])
  })
})

describe('report schedule', () => {
  const taskOf = (fleet: Fleet) => [...cron.getTasks().values()].find((t) => t.name === `reports@${fleet.config.dataDir}`)

  it('registers an hourly Asia/Shanghai job that stores the due reports once, city-wide and per county, and stops on close', async () => {
    const clock = aClock(TUESDAY)
    const fleet = await startFleet({ FLEET_REPORTS_SCHEDULE: 'on' }, { now: clock.now, manualClose: true })
    try {
      const task = taskOf(fleet)
      expect(task, 'cron task').toBeDefined()
      expect(task!.getPattern()).toBe('0 * * * *')
      await task!.execute()
      const counties = fleet.plan.counties.length
      const stored = await list(fleet)
      expect(stored).toHaveLength(3 * (1 + counties))
      expect(new Set(stored.map((r) => `${r.kind}:${r.period}`))).toEqual(new Set(['weekly:2020-W40', 'monthly:2020-09', 'quarterly:2020-Q3']))
      expect(stored.every((r) => r.scheduled && r.createdBy === 'system')).toBe(true)
      expect(stored.filter((r) => r.kind === 'weekly').map((r) => r.scope).sort()).toEqual(['city', ...fleet.plan.counties.map((c) => `county:${c.code}`)].sort())

      // Running again (another hour, or a restart) stores nothing new.
      await task!.execute()
      expect(await list(fleet)).toHaveLength(3 * (1 + counties))
      // The next Tuesday 06:00 Beijing time brings week 41 only.
      clock.set('2020-10-12T22:00:00Z')
      await task!.execute()
      const weekly = (await list(fleet, fleet.adminToken, '?kind=weekly')).map((r) => r.period)
      expect(weekly.filter((p) => p === '2020-W41')).toHaveLength(1 + counties)
      expect(await list(fleet)).toHaveLength(4 * (1 + counties))
    } finally {
      await fleet.close()
    }
    expect(taskOf(fleet)).toBeUndefined()
  })

  it('registers no job when FLEET_REPORTS_SCHEDULE=off', async () => {
    const fleet = await startFleet({ FLEET_REPORTS_SCHEDULE: 'off' })
    expect(fleet.config.reports.isScheduled).toBe(false)
    expect(taskOf(fleet)).toBeUndefined()
  })

  it('reads a city-wide snapshot a county per event-loop turn, cabinets still in id order', async () => {
    const { fleet } = await aFleetWithSales()
    // 来安县 comes after 明光市 in the plan but sorts before 定远县 by code.
    await aDatedCabinet(fleet, { countyCode: '341122' })
    const { value: r, turns } = await countingTurns(() => create(fleet, { kind: 'weekly', period: '2020-W40' }))
    expect(r.status).toBe(201)
    expect(turns).toBeGreaterThanOrEqual(fleet.plan.counties.length - 1)
    const ids = (await read(fleet, r.body.reportId)).body.cabinets.map((c) => c.cabinetId)
    expect(ids.map((id) => id.slice(0, 6))).toEqual(['341122', '341125', '341125', '341126'])
    expect(ids).toEqual([...ids].sort())
  })
})

