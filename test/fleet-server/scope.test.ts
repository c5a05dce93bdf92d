// Scope over every /api/ route: a county official of 定远县 (341125) gets 403
// or 404 for every object of 凤阳县 (341126), and every list holds only 定远县.
// The routes are enumerated from the server itself, so a route added without
// a case here fails this test.
import { describe, expect, it } from 'vitest'
import type { Fleet } from '../../fleet-server/src/app.js'
import { api, connectCabinet, startFleet } from '../helpers/fleet.js'
import { clockAt, csvRow, importCsv, userToken } from '../helpers/rollout.js'
import { aBatch, aChain } from '../helpers/sales.js'
import { sqlRow, sqlRun } from '../helpers/test-db.js'
import { shanghaiDate, type OverviewReply } from '../../shared/src/index.js'
import { previousPeriod, reportPeriodOf } from '../../fleet-server/src/reports/index.js'
import { aUscc } from './certification.fixtures.js'

/** "METHOD /path/:param" of every route under /api/, from fastify's route tree. */
export function apiRoutes(fleet: Fleet): string[] {
  const tree = fleet.http.printRoutes({ commonPrefix: false })
  const stack: string[] = []
  const out: string[] = []
  for (const line of tree.split('\n')) {
    const m = /^([│ ]*)(?:├── |└── )(\S+)(?: \(([A-Z, ]+)\))?$/.exec(line)
    if (!m) continue
    const depth = m[1]!.length / 4
    const parent = depth > 0 ? stack[depth - 1]! : ''
    const seg = m[2]!
    const path = parent.endsWith('/') || seg.startsWith('/') ? parent + seg : `${parent}/${seg}`
    stack[depth] = path
    stack.length = depth + 1
    for (const method of (m[3] ?? '').split(', ').filter((x) => x && x !== 'HEAD')) {
      if (path.startsWith('/api/')) out.push(`${method} ${path}`)
    }
  }
  return out.sort()
}

interface Ctx {
  fleet: Fleet
  token: string
  dy: string[]
  fy: string[]
  fyAlert: string
  call: (method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, body?: unknown) => Promise<{ status: number; body: unknown; text: string }>
}

const hidden = (status: number) => expect([403, 404]).toContain(status)
/** An open SALE_ID_REUSED flag on a 凤阳县 cabinet (inserted directly: only its scope matters here). */
const fyFlag = async (c: Ctx): Promise<number> => {
  const found = await sqlRow<{ flag_id: number }>(c.fleet.database, 'SELECT flag_id FROM sale_flags WHERE cabinet_id = ?', c.fy[0])
  if (found) return found.flag_id
  const inserted = await sqlRow<{ flag_id: number }>(c.fleet.database, `INSERT INTO sale_flags (kind, cabinet_id, seq, sale_id, earlier_seq, sold_on, earlier_sold_on, flagged_at)
    VALUES ('SALE_ID_REUSED', ?, 2, '01890000-0000-7000-8000-000000000000', 1, '2020-10-01', '2020-10-01', '2020-10-01T00:00:00.000Z') RETURNING flag_id`, c.fy[0])
  return inserted!.flag_id
}
/** The ISO week before this one (Asia/Shanghai): always started, whatever the test clock says. */
const lastWeek = () => previousPeriod(reportPeriodOf('weekly', shanghaiDate(Date.now()))).id

/**
 * Issue 15: a 凤阳县 supplier with an application in 公示 holding an objection,
 * and a 定远县 one in county review, made by the admin once per fleet.
 */
const workflows = new WeakMap<Fleet, Promise<{ uscc: string; applicationId: number; objectionId: number }>>()
const fyWorkflow = (c: Ctx) => {
  let w = workflows.get(c.fleet)
  if (!w) {
    w = (async () => {
      const A = '/api/v1/certification/applications'
      const fy = await api<{ uscc: string }>(c.fleet, 'POST', '/api/v1/suppliers', { uscc: aUscc(7, '341126'), name: '凤阳县合作社', countyCode: '341126' })
      const dy = await api<{ uscc: string }>(c.fleet, 'POST', '/api/v1/suppliers', { uscc: aUscc(8, '341125'), name: '定远县合作社', countyCode: '341125' })
      expect([fy.status, dy.status]).toEqual([201, 201])
      expect((await api(c.fleet, 'POST', A, { kind: 'new', supplierUscc: dy.body.uscc, sku: 'DY-HONEY', product: { name: '定远蜂蜜', priceFen: 3990 } })).status).toBe(201)
      const app = await api<{ applicationId: number }>(c.fleet, 'POST', A, { kind: 'new', supplierUscc: fy.body.uscc, sku: 'FY-HONEY', product: { name: '凤阳蜂蜜', priceFen: 3990 } })
      expect((await api(c.fleet, 'POST', `${A}/${app.body.applicationId}/review`, { decision: 'approve' })).status).toBe(200)
      const o = await api<{ objection: { objectionId: number } }>(c.fleet, 'POST', `${A}/${app.body.applicationId}/objections`, { reason: '异议' })
      expect(o.status).toBe(201)
      return { uscc: fy.body.uscc, applicationId: app.body.applicationId, objectionId: o.body.objection.objectionId }
    })()
    workflows.set(c.fleet, w)
  }
  return w
}

/**
 * Issue 16 §6: a 凤阳县 official's webhook subscription, with one delivery
 * about FY-1 (its outbox row inserted directly, already failed, so the
 * delivery loop leaves it be: only its scope matters here).
 */
const notifySetups = new WeakMap<Fleet, Promise<string>>()
const fyNotify = (c: Ctx) => {
  let w = notifySetups.get(c.fleet)
  if (!w) {
    w = (async () => {
      const fyToken = await userToken(c.fleet, { username: 'fy-notify', role: 'county', countyCode: '341126' })
      const r = await api<{ subscription: { subscriptionId: string } }>(c.fleet, 'POST', '/api/v1/notifications/subscriptions', { url: 'http://127.0.0.1:9/fy-hook', format: 'json' }, fyToken)
      expect(r.status).toBe(201)
      const id = r.body.subscription.subscriptionId
      await sqlRun(c.fleet.database, `INSERT INTO notification_outbox (subscription_id, alert_id, event, kind, severity, county_code, cabinet_id, operator, message, raised_at, state, attempts, created_at, due_at, last_error)
        VALUES (?, ?, 'raised', 'offline', 'warning', '341126', 'FY-1', 'fy-coop', '专柜 FY-1 已离线', '2020-10-01T00:00:00.000Z', 'failed', 3, '2020-10-01T00:00:00.000Z', '2020-10-01T00:00:00.000Z', 'HTTP 500')`, id, c.fyAlert)
      return id
    })()
    notifySetups.set(c.fleet, w)
  }
  return w
}

/** What a 定远县 official gets for each route when aiming at 凤阳县. */
const CASES: Record<string, (c: Ctx) => Promise<void>> = {
  // Access: only admins create users; the session routes concern the caller alone.
  'POST /api/v1/users': async (c) => expect((await c.call('POST', '/api/v1/users', { username: 'fy2', role: 'county', countyCode: '341126' })).status).toBe(403),
  'POST /api/v1/session': async (c) => expect((await c.call('POST', '/api/v1/session', { username: 'fy-official', password: 'wrong password' })).status).toBe(401),
  'DELETE /api/v1/session': async (c) => expect((await c.call('DELETE', '/api/v1/session')).status).toBe(204),
  'GET /api/v1/me': async (c) => expect((await c.call('GET', '/api/v1/me')).body).toMatchObject({ role: 'county', countyCode: '341125' }),
  // Public by design (issue 15: 公开披露) and off on this plan: 404 for everyone, county or not.
  'GET /api/v1/public/held-cabinets': async (c) => expect((await c.call('GET', '/api/v1/public/held-cabinets')).status).toBe(404),

  // Cabinets.
  'POST /api/v1/cabinets': async (c) => expect((await c.call('POST', '/api/v1/cabinets', { countyCode: '341126' })).status).toBe(403),
  'GET /api/v1/cabinets': async (c) => {
    for (const q of ['', '?county=341126', '?status=operating', '?online=true', '?online=false', '?compliance=nosales', '?compliance=compliant', '?compliance=noncompliant', '?limit=1000']) {
      const r = await c.call('GET', `/api/v1/cabinets${q}`)
      expect(r.status).toBe(200)
      const ids = (r.body as { cabinets: Array<{ cabinetId: string; countyCode: string }> }).cabinets
      for (const x of ids) expect(x.countyCode, q).toBe('341125')
    }
    expect(((await c.call('GET', '/api/v1/cabinets?county=341126')).body as { total: number }).total).toBe(0)
  },
  'POST /api/v1/cabinets/import': async (c) => {
    const res = await c.fleet.http.inject({ method: 'POST', url: '/api/v1/cabinets/import?partial=true', headers: { authorization: `Bearer ${c.token}`, 'content-type': 'text/csv' }, payload: `countyCode\n341126\n` })
    expect(JSON.parse(res.body)).toMatchObject({ imported: 0, rejected: [{ line: 2, field: 'countyCode' }] })
  },
  'GET /api/v1/cabinets/:id': async (c) => hidden((await c.call('GET', `/api/v1/cabinets/${c.fy[0]}`)).status),
  'PATCH /api/v1/cabinets/:id': async (c) => hidden((await c.call('PATCH', `/api/v1/cabinets/${c.fy[0]}`, { status: 'suspended' })).status),
  'GET /api/v1/cabinets/:id/transitions': async (c) => hidden((await c.call('GET', `/api/v1/cabinets/${c.fy[0]}/transitions`)).status),
  'POST /api/v1/cabinets/:id/credentials': async (c) => hidden((await c.call('POST', `/api/v1/cabinets/${c.fy[0]}/credentials`)).status),
  'GET /api/v1/cabinets/:id/sales': async (c) => hidden((await c.call('GET', `/api/v1/cabinets/${c.fy[0]}/sales`)).status),
  // Issue 16 §2: another county's audit export is hidden; its own is not.
  'GET /api/v1/cabinets/:id/audit-export': async (c) => {
    hidden((await c.call('GET', `/api/v1/cabinets/${c.fy[0]}/audit-export?month=2020-10`)).status)
    expect((await c.call('GET', `/api/v1/cabinets/${c.dy[0]}/audit-export?month=2020-10`)).status).toBe(200)
  },
  // Issue 16 (deployment): no code for another county's cabinet; the public exchange names no cabinet.
  'POST /api/v1/cabinets/:id/bootstrap-code': async (c) => hidden((await c.call('POST', `/api/v1/cabinets/${c.fy[0]}/bootstrap-code`, {})).status),
  'POST /api/v1/enroll': async (c) => {
    const r = await c.call('POST', '/api/v1/enroll', { code: 'AAAA-BBBB-CCCC', publicKey: 'not a key' })
    expect(r.status).toBe(400)
    expect(r.text).not.toContain('341126')
  },
  'GET /api/v1/cabinets/:id/catalog': async (c) => hidden((await c.call('GET', `/api/v1/cabinets/${c.fy[0]}/catalog`)).status),

  // Sale flags (issue 12): a 凤阳县 flag is neither listed nor resolvable.
  'GET /api/v1/sales/flags': async (c) => {
    await fyFlag(c)
    for (const q of ['', '?state=all', '?county=341126', `?cabinetId=${c.fy[0]}`]) {
      const r = await c.call('GET', `/api/v1/sales/flags${q}`)
      expect(r.status, r.text).toBe(200)
      expect(r.body, q).toEqual({ flags: [], total: 0 })
    }
  },
  'POST /api/v1/sales/flags/:id/resolve': async (c) => hidden((await c.call('POST', `/api/v1/sales/flags/${await fyFlag(c)}/resolve`, { resolution: 'genuine', note: '越权' })).status),

  // Rollout and alerts.
  'GET /api/v1/rollout': async (c) => {
    const r = (await c.call('GET', '/api/v1/rollout')).body as { counties: Array<{ code: string }>; totals: { quota: number } }
    expect(r.counties.map((x) => x.code)).toEqual(['341125'])
    expect(r.totals.quota).toBe(415)
  },
  // Issue 15: the home figures are the county's alone (sales, the below list, targets).
  'GET /api/v1/overview': async (c) => {
    const r = await c.call('GET', '/api/v1/overview')
    expect(r.status, r.text).toBe(200)
    const o = r.body as OverviewReply
    expect(o.scope).toEqual({ kind: 'county', code: '341125', name: '定远县' })
    expect(o.sales.byCounty.map((x) => x.countyCode)).toEqual(['341125'])
    expect(o.sales.daily.reduce((t, d) => t + d.salesCount, 0)).toBe(3) // DY-1's three sales, none of FY-1's
    for (const b of o.compliance.below) expect(b.countyCode).toBe('341125')
    for (const t of o.targets) expect(t.scope.code).toBe('341125')
    expect(o.rollout.quota).toBe(415)
    // A county parameter does not widen it: unknown query keys are refused.
    expect((await c.call('GET', '/api/v1/overview?county=341126')).status).toBe(400)
  },
  'GET /api/v1/alerts': async (c) => {
    for (const q of ['', '?state=all', '?county=341126', '?kind=offline', '?kind=behind_schedule']) {
      const r = (await c.call('GET', `/api/v1/alerts${q}`)).body as { alerts: Array<{ countyCode: string }> }
      for (const a of r.alerts) expect(a.countyCode, q).toBe('341125')
    }
    expect(((await c.call('GET', '/api/v1/alerts')).body as { total: number }).total).toBeGreaterThan(0)
  },
  'POST /api/v1/alerts/:id/ack': async (c) => hidden((await c.call('POST', `/api/v1/alerts/${c.fyAlert}/ack`)).status),
  'POST /api/v1/alerts/evaluate': async (c) => expect((await c.call('POST', '/api/v1/alerts/evaluate')).status).toBe(403),

  // Compliance and forwarding (catalog engineer's domains): county data.
  'GET /api/v1/compliance': async (c) => {
    const day = (offset: number) => shanghaiDate(Date.now() + offset * 86_400_000)
    const range = `from=${day(-3)}&to=${day(3)}`
    const own = await c.call('GET', `/api/v1/compliance?${range}`)
    expect(own.status, own.text).toBe(200)
    expect((own.body as { cabinets: Array<{ cabinetId: string }> }).cabinets.map((x) => x.cabinetId)).toContain('DY-1')
    const other = await c.call('GET', `/api/v1/compliance?${range}&county=341126`)
    if (other.status === 200) expect((other.body as { cabinets: unknown[] }).cabinets).toEqual([])
    else hidden(other.status)
  },
  'GET /api/v1/forwarding': async (c) => {
    const r = await c.call('GET', '/api/v1/forwarding')
    if (r.status !== 200) hidden(r.status)
  },
  'POST /api/v1/forwarding/run': async (c) => hidden((await c.call('POST', '/api/v1/forwarding/run')).status),

  // Backups hold every county's data: the city administrator's alone.
  'POST /api/v1/admin/backups': async (c) => hidden((await c.call('POST', '/api/v1/admin/backups')).status),
  'GET /api/v1/admin/backups': async (c) => hidden((await c.call('GET', '/api/v1/admin/backups')).status),
  'GET /api/v1/admin/backups/:name': async (c) => hidden((await c.call('GET', '/api/v1/admin/backups/fleet-2020-01-01T00-00-00Z.db')).status),

  // Reports: a county official takes and reads only its own county's; others' are not found.
  'POST /api/v1/reports': async (c) => {
    expect((await c.call('POST', '/api/v1/reports', { kind: 'weekly', period: lastWeek(), county: '341126' })).status).toBe(403)
    const own = await c.call('POST', '/api/v1/reports', { kind: 'weekly', period: lastWeek() })
    expect(own.status, own.text).toBe(201)
    expect(own.body).toMatchObject({ scope: 'county:341125', countyCode: '341125' })
  },
  'GET /api/v1/reports': async (c) => {
    for (const county of ['341126', undefined]) expect((await api(c.fleet, 'POST', '/api/v1/reports', { kind: 'weekly', period: lastWeek(), county })).status).toBe(201)
    for (const q of ['', '?county=341126', '?kind=weekly']) {
      const r = await c.call('GET', `/api/v1/reports${q}`)
      expect(r.status).toBe(200)
      for (const x of (r.body as { reports: Array<{ countyCode: string | null }> }).reports) expect(x.countyCode, q).toBe('341125')
    }
  },
  'GET /api/v1/reports/:id': async (c) => {
    const fy = await api<{ reportId: string }>(c.fleet, 'POST', '/api/v1/reports', { kind: 'weekly', period: lastWeek(), county: '341126' })
    const city = await api<{ reportId: string }>(c.fleet, 'POST', '/api/v1/reports', { kind: 'weekly', period: lastWeek() })
    for (const id of [fy.body.reportId, city.body.reportId]) {
      for (const format of ['json', 'csv', 'xlsx']) hidden((await c.call('GET', `/api/v1/reports/${id}?format=${format}`)).status)
    }
    const own = await c.call('POST', '/api/v1/reports', { kind: 'weekly', period: lastWeek() })
    const doc = await c.call('GET', `/api/v1/reports/${(own.body as { reportId: string }).reportId}`)
    expect(doc.status).toBe(200)
    expect((doc.body as { cabinets: Array<{ countyCode: string }> }).cabinets.map((x) => x.countyCode)).toEqual(['341125', '341125'])
  },
  'POST /api/v1/forwarding/failed/:batchKey/retry': async (c) => hidden((await c.call('POST', '/api/v1/forwarding/failed/341100-FY-1-2020-09-r0/retry')).status),

  // The city catalogue (suppliers, products, certificates) is not county data:
  // reads may answer, and nothing answered may carry 凤阳县 cabinets (checked for every route).
  'GET /api/v1/catalog': async (c) => void (await c.call('GET', '/api/v1/catalog')),
  'GET /api/v1/catalog/history': async (c) => void (await c.call('GET', '/api/v1/catalog/history')),
  'GET /api/v1/suppliers': async (c) => void (await c.call('GET', '/api/v1/suppliers')),
  'GET /api/v1/suppliers/:uscc': async (c) => void (await c.call('GET', '/api/v1/suppliers/91341100MA2N0000XX')),
  'GET /api/v1/products': async (c) => void (await c.call('GET', '/api/v1/products')),
  'GET /api/v1/products/:sku': async (c) => void (await c.call('GET', '/api/v1/products/SKU-0')),
  'GET /api/v1/certificates': async (c) => void (await c.call('GET', '/api/v1/certificates')),
  'GET /api/v1/certificates/:no': async (c) => void (await c.call('GET', '/api/v1/certificates/NONE')),
  // Writes to the city catalogue: never granted to a county official.
  'POST /api/v1/suppliers': async (c) => expect((await c.call('POST', '/api/v1/suppliers', { uscc: '91341100MA2N0000XX', name: 'x' })).status).not.toBe(201),
  'POST /api/v1/suppliers/:uscc/blacklist': async (c) => expect((await c.call('POST', '/api/v1/suppliers/91341100MA2N0000XX/blacklist', { reason: 'x' })).status).toBeGreaterThanOrEqual(400),
  'POST /api/v1/products': async (c) => expect((await c.call('POST', '/api/v1/products', { sku: 'X-1', name: 'x', supplierUscc: '91341100MA2N0000XX', priceFen: 100 })).status).toBeGreaterThanOrEqual(400),
  'PATCH /api/v1/products/:sku': async (c) => expect((await c.call('PATCH', '/api/v1/products/SKU-0', { name: 'x' })).status).toBeGreaterThanOrEqual(400),
  'POST /api/v1/certificates': async (c) => expect((await c.call('POST', '/api/v1/certificates', { sku: 'SKU-0', certificateNo: 'C-1', validFrom: '2020-01-01', validTo: '2021-01-01' })).status).toBeGreaterThanOrEqual(400),
  'POST /api/v1/certificates/:no/renew': async (c) => expect((await c.call('POST', '/api/v1/certificates/C-1/renew', {})).status).toBeGreaterThanOrEqual(400),
  'POST /api/v1/certificates/:no/revoke': async (c) => expect((await c.call('POST', '/api/v1/certificates/C-1/revoke', { reason: 'x' })).status).toBeGreaterThanOrEqual(400),
  'PATCH /api/v1/suppliers/:uscc': async (c) => hidden((await c.call('PATCH', `/api/v1/suppliers/${(await fyWorkflow(c)).uscc}`, { countyCode: '341125' })).status),

  // Certification workflow (issue 15): 凤阳县's suppliers' applications are neither seen nor acted on.
  'POST /api/v1/certification/applications': async (c) => {
    const r = await c.call('POST', '/api/v1/certification/applications', { kind: 'new', supplierUscc: (await fyWorkflow(c)).uscc, sku: 'FY-TEA', product: { name: '茶', priceFen: 100 } })
    hidden(r.status)
  },
  'GET /api/v1/certification/applications': async (c) => {
    await fyWorkflow(c)
    for (const q of ['', '?county=341126', '?state=open', '?state=publicity', '?sku=FY-HONEY']) {
      const r = await c.call('GET', `/api/v1/certification/applications${q}`)
      expect(r.status, r.text).toBe(200)
      for (const a of (r.body as { applications: Array<{ countyCode: string }> }).applications) expect(a.countyCode, q).toBe('341125')
    }
    expect(((await c.call('GET', '/api/v1/certification/applications')).body as { total: number }).total).toBe(1)
  },
  'GET /api/v1/certification/applications/:id': async (c) => hidden((await c.call('GET', `/api/v1/certification/applications/${(await fyWorkflow(c)).applicationId}`)).status),
  'GET /api/v1/certification/applications/:id/history': async (c) => hidden((await c.call('GET', `/api/v1/certification/applications/${(await fyWorkflow(c)).applicationId}/history`)).status),
  'POST /api/v1/certification/applications/:id/review': async (c) => hidden((await c.call('POST', `/api/v1/certification/applications/${(await fyWorkflow(c)).applicationId}/review`, { decision: 'reject', reason: '越权' })).status),
  'POST /api/v1/certification/applications/:id/objections': async (c) => hidden((await c.call('POST', `/api/v1/certification/applications/${(await fyWorkflow(c)).applicationId}/objections`, { reason: '越权' })).status),
  'POST /api/v1/certification/objections/:id/resolve': async (c) => hidden((await c.call('POST', `/api/v1/certification/objections/${(await fyWorkflow(c)).objectionId}/resolve`, { decision: 'dismissed', reason: '越权' })).status),
  'GET /api/v1/certification/publicity': async (c) => {
    await fyWorkflow(c)
    for (const q of ['', '?county=341126']) {
      const r = await c.call('GET', `/api/v1/certification/publicity${q}`)
      expect(r.status, r.text).toBe(200)
      expect((r.body as { notices: unknown[] }).notices, q).toEqual([])
    }
    expect(((await api<{ notices: unknown[] }>(c.fleet, 'GET', '/api/v1/certification/publicity')).body.notices)).toHaveLength(1)
  },
  'POST /api/v1/certification/publicity/run': async (c) => hidden((await c.call('POST', '/api/v1/certification/publicity/run')).status),

  // Remote commands (issue 16): 凤阳县's cabinets take none from 定远县, and their commands are not found.
  'POST /api/v1/cabinets/:id/commands': async (c) => {
    hidden((await c.call('POST', `/api/v1/cabinets/${c.fy[0]}/commands`, { kind: 'lock' })).status)
    expect((await c.call('POST', `/api/v1/cabinets/${c.dy[0]}/commands`, { kind: 'sync' })).status).toBe(201)
  },
  'GET /api/v1/cabinets/:id/commands': async (c) => hidden((await c.call('GET', `/api/v1/cabinets/${c.fy[0]}/commands`)).status),
  // Notifications (issue 16 §6): a user's subscriptions are its own; 凤阳县's official's are not found.
  'POST /api/v1/notifications/subscriptions': async (c) => {
    const r = await c.call('POST', '/api/v1/notifications/subscriptions', { url: 'http://127.0.0.1:9/dy-hook', format: 'wecom' })
    expect([r.status, (r.body as { subscription: { owner: string } }).subscription.owner]).toEqual([201, 'dy-official'])
  },
  'GET /api/v1/notifications/subscriptions': async (c) => {
    const fyId = await fyNotify(c)
    const r = await c.call('GET', '/api/v1/notifications/subscriptions')
    expect(r.status).toBe(200)
    expect(r.text).not.toContain(fyId)
    for (const s of (r.body as { subscriptions: Array<{ owner: string }> }).subscriptions) expect(s.owner).toBe('dy-official')
  },
  'DELETE /api/v1/notifications/subscriptions/:id': async (c) => {
    hidden((await c.call('DELETE', `/api/v1/notifications/subscriptions/${await fyNotify(c)}`)).status)
  },
  'POST /api/v1/notifications/subscriptions/:id/test': async (c) => {
    hidden((await c.call('POST', `/api/v1/notifications/subscriptions/${await fyNotify(c)}/test`)).status)
  },
  'GET /api/v1/notifications/deliveries': async (c) => {
    const fyId = await fyNotify(c)
    const r = await c.call('GET', '/api/v1/notifications/deliveries')
    expect(r.status).toBe(200)
    expect(r.text).not.toContain(fyId)
    expect(r.text).not.toContain('FY-1')
    // The admin sees the 凤阳县 delivery: it is there to be leaked.
    expect(JSON.stringify((await api(c.fleet, 'GET', '/api/v1/notifications/deliveries')).body)).toContain('FY-1')
  },
  'GET /api/v1/commands/:id': async (c) => {
    const fy = await api<{ commandId: string }>(c.fleet, 'POST', `/api/v1/cabinets/${c.fy[0]}/commands`, { kind: 'sync' })
    expect(fy.status).toBe(201)
    hidden((await c.call('GET', `/api/v1/commands/${fy.body.commandId}`)).status)
  },

  // Planogram and stock (issue 16 §3): 凤阳县's cabinets are neither read, set nor restocked; the pick list is 定远县's.
  'PUT /api/v1/cabinets/:id/planogram': async (c) => {
    const slots = [{ slot: 'A1', sku: 'SKU-0', capacity: 10, par: 8 }]
    hidden((await c.call('PUT', `/api/v1/cabinets/${c.fy[0]}/planogram`, { slots })).status)
    expect((await c.call('PUT', `/api/v1/cabinets/${c.dy[0]}/planogram`, { slots })).status).toBe(200)
  },
  'GET /api/v1/cabinets/:id/stock': async (c) => {
    await belowPar(c)
    hidden((await c.call('GET', `/api/v1/cabinets/${c.fy[0]}/stock`)).status)
    expect((await c.call('GET', `/api/v1/cabinets/${c.dy[0]}/stock`)).status).toBe(200)
  },
  'POST /api/v1/cabinets/:id/restocks': async (c) => {
    hidden((await c.call('POST', `/api/v1/cabinets/${c.fy[0]}/restocks`, { fill: true })).status)
    expect((await c.call('POST', `/api/v1/cabinets/${c.dy[0]}/restocks`, { fill: true })).status).toBe(201)
  },
  'GET /api/v1/restock-list': async (c) => {
    await belowPar(c)
    const csv = await c.fleet.http.inject({ method: 'GET', url: '/api/v1/restock-list?format=csv', headers: { authorization: `Bearer ${c.token}` } })
    expect(csv.statusCode).toBe(200)
    expect(csv.body).toContain(c.dy[0])
    expect(csv.body).not.toContain(c.fy[0])
    const r = (await c.call('GET', '/api/v1/restock-list')).body as { counties: Array<{ countyCode: string }> }
    expect(r.counties.map((x) => x.countyCode)).toEqual(['341125'])
    expect((await c.call('GET', '/api/v1/restock-list?county=341126')).status).toBe(403)
  },
  // Telemetry (issue 16 §4): 凤阳县's readings are not shown to 定远县.
  'GET /api/v1/cabinets/:id/telemetry': async (c) => {
    hidden((await c.call('GET', `/api/v1/cabinets/${c.fy[0]}/telemetry`)).status)
    expect((await c.call('GET', `/api/v1/cabinets/${c.dy[0]}/telemetry`)).status).toBe(200)
  },
}

/** One slot below par in DY-1 and in FY-1 (stored directly: only its scope matters here). */
const belowPar = async (c: Ctx): Promise<void> => {
  for (const id of [c.dy[0]!, c.fy[0]!]) {
    await sqlRun(c.fleet.database, `INSERT INTO cabinet_stock (cabinet_id, slot, sku, capacity, par, qty, oversold) VALUES (?, 'A1', 'SKU-0', 10, 8, 2, 0)
      ON CONFLICT (cabinet_id, slot) DO NOTHING`, id)
  }
}

describe('scope over every /api/ route', () => {
  it('a 定远县 official gets 403/404 for every 凤阳县 object, and lists only 定远县', async () => {
    const clock = clockAt(new Date().toISOString())
    const fleet = await startFleet({}, { now: clock.now })
    const rows = [
      csvRow('DY-1', '341125', 'operating', 'dy-coop'),
      csvRow('DY-2', '341125', 'installed', 'dy-coop'),
      csvRow('FY-1', '341126', 'operating', 'fy-coop'),
      csvRow('FY-2', '341126', 'installed', 'fy-coop'),
      csvRow('FY-3', '341126', 'planned'),
    ]
    const imported = await importCsv(fleet, rows)
    expect(imported.status).toBe(201)
    const creds = new Map(imported.body.cabinets!.map((x) => [x.cabinetId, x]))
    // 凤阳县 has sales, so compliance, forwarding and lists would have something to leak.
    for (const id of ['FY-1', 'DY-1']) {
      const cab = await connectCabinet(fleet.mqttUrl, creds.get(id)!)
      expect((await cab.send(aBatch(id, aChain(id, 3)))).status).toBe('committed')
      await cab.close()
    }
    clock.set(new Date(Date.now() + 2 * 86_400_000).toISOString())
    expect((await api(fleet, 'POST', '/api/v1/alerts/evaluate')).status).toBe(200)
    const all = await api<{ alerts: Array<{ alertId: string; countyCode: string; kind: string }> }>(fleet, 'GET', '/api/v1/alerts')
    const fyAlert = all.body.alerts.find((a) => a.countyCode === '341126' && a.kind === 'offline')!.alertId

    const token = await userToken(fleet, { username: 'dy-official', role: 'county', countyCode: '341125' })
    await userToken(fleet, { username: 'fy-official', role: 'county', countyCode: '341126', password: 'fengyang-secret' })
    const fy = ['FY-1', 'FY-2', 'FY-3']
    const ctx: Ctx = {
      fleet,
      token,
      dy: ['DY-1', 'DY-2'],
      fy,
      fyAlert,
      async call(method, url, body) {
        const res = await fleet.http.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(body !== undefined && { payload: body as Record<string, unknown> }) })
        return { status: res.statusCode, text: res.body, body: res.body ? (JSON.parse(res.body) as unknown) : null }
      },
    }
    const seen: string[] = []
    const inner = ctx.call
    ctx.call = async (method, url, body) => {
      const r = await inner(method, url, body)
      seen.push(`${method} ${url}`)
      // Whatever the route, nothing of 凤阳县 comes back.
      for (const id of fy) expect(r.text, `${method} ${url} leaks ${id}`).not.toContain(`"${id}"`)
      expect(r.text, `${method} ${url}`).not.toContain('341126-')
      return r
    }

    const routes = apiRoutes(fleet)
    expect(routes.length).toBeGreaterThan(15)
    const missing = routes.filter((r) => !(r in CASES))
    expect(missing, 'routes without a scope case: add one to CASES').toEqual([])
    for (const route of routes) await CASES[route]!(ctx)
    expect(seen.length).toBeGreaterThanOrEqual(routes.length)

    // 凤阳县's objects are untouched.
    expect((await api<{ status: string }>(fleet, 'GET', '/api/v1/cabinets/FY-1')).body.status).toBe('operating')
    const fyApp = await api<{ state: string; objections: Array<{ state: string }> }>(fleet, 'GET', `/api/v1/certification/applications/${(await fyWorkflow(ctx)).applicationId}`)
    expect([fyApp.body.state, fyApp.body.objections.map((o) => o.state)]).toEqual(['on_hold', ['open']])
    expect((await api<{ countyCode: string }>(fleet, 'GET', `/api/v1/suppliers/${(await fyWorkflow(ctx)).uscc}`)).body.countyCode).toBe('341126')
    expect((await api<{ total: number }>(fleet, 'GET', '/api/v1/cabinets?county=341126')).body.total).toBe(3)
  })

  it('an operator sees only its own cabinets in rollout and alerts; an auditor reads everything and changes nothing', async () => {
    const clock = clockAt('2020-10-10T00:00:00Z')
    const fleet = await startFleet({}, { now: clock.now })
    await importCsv(fleet, [csvRow('A-1', '341125', 'installed', 'anhui-supply'), csvRow('B-1', '341125', 'installed', 'other-co'), csvRow('B-2', '341126', 'installed', 'other-co')])
    clock.set('2020-10-12T00:00:00Z')
    await api(fleet, 'POST', '/api/v1/alerts/evaluate')
    const op = await userToken(fleet, { username: 'op', role: 'operator', operator: 'anhui-supply' })
    const r = await api<{ counties: Array<{ code: string; installed: number }>; totals: { installed: number } }>(fleet, 'GET', '/api/v1/rollout', undefined, op)
    expect(r.body.counties).toEqual([expect.objectContaining({ code: '341125', installed: 1 })])
    const alerts = await api<{ alerts: Array<{ cabinetId: string | null; kind: string }> }>(fleet, 'GET', '/api/v1/alerts', undefined, op)
    expect(alerts.body.alerts.map((a) => [a.kind, a.cabinetId])).toEqual([['offline', 'A-1']])
    // Issue 15: its overview is its company's own, without a county's quota.
    const o = (await api<OverviewReply>(fleet, 'GET', '/api/v1/overview', undefined, op)).body
    expect(o.scope).toEqual({ kind: 'operator', code: null, name: 'anhui-supply' })
    expect(o.rollout).toMatchObject({ quota: null, installed: 1 })
    expect(o.sales.byCounty.map((x) => x.countyCode)).toEqual(['341125'])

    const auditor = await userToken(fleet, { username: 'au', role: 'auditor' })
    const every = await api<{ alerts: Array<{ alertId: string }> }>(fleet, 'GET', '/api/v1/alerts', undefined, auditor)
    expect(every.body.alerts.length).toBeGreaterThan(3)
    expect((await api(fleet, 'POST', `/api/v1/alerts/${every.body.alerts[0]!.alertId}/ack`, undefined, auditor)).status).toBe(403)
    expect((await api<{ counties: unknown[] }>(fleet, 'GET', '/api/v1/rollout', undefined, auditor)).body.counties).toHaveLength(8)
  })
})
