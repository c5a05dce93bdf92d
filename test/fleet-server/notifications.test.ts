// Alert notifications to webhooks (issue 16 §6) against a real local
// receiver: each subscriber gets each transition of the alerts it may see
// once, in its format; retries; digests for floods; the API's refusals.
import { pino } from 'pino'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createAlertService, createAlertStore, type AlertListener } from '../../fleet-server/src/alerts/index.js'
import { openFleetDb } from '../../fleet-server/src/db/database.js'
import { createNotificationService } from '../../fleet-server/src/notifications/service.js'
import { createNotificationStore } from '../../fleet-server/src/notifications/store.js'
import { api, tempDir } from '../helpers/fleet.js'
import { clockAt, csvRow, csvRows, importCsv, userToken } from '../helpers/rollout.js'
import { sqlRow, sqlRun, testDatabaseUrl } from '../helpers/test-db.js'
import { dingtalkSignOk, notifyingFleet, settled, startReceiver, subscribe } from './notifications.fixtures.js'

const DAY_LATER = '2020-10-11T00:00:01.000Z'

describe('alert notifications', () => {
  it('sends each raise and clear once to the subscribers who may see the alert, as JSON, 企业微信 and 钉钉 (signed) messages', async () => {
    const clock = clockAt('2020-10-10T00:00:00.000Z')
    const fleet = await notifyingFleet(clock)
    const rx = await startReceiver()
    expect((await importCsv(fleet, [csvRow('DY-1', '341125', 'operating', '皖东运营'), csvRow('FY-1', '341126', 'operating')])).status).toBe(201)
    const dy = await userToken(fleet, { username: 'dy', role: 'county', countyCode: '341125' })
    const fy = await userToken(fleet, { username: 'fy', role: 'county', countyCode: '341126' })
    const op = await userToken(fleet, { username: 'op', role: 'operator', operator: '皖东运营' })
    const kinds = ['offline']
    await subscribe(fleet, dy, { url: `${rx.url}/dy-json`, format: 'json', kinds })
    await subscribe(fleet, dy, { url: `${rx.url}/dy-wecom?key=abc`, format: 'wecom', kinds })
    await subscribe(fleet, dy, { url: `${rx.url}/dy-ding?access_token=t0k`, format: 'dingtalk', kinds, secret: 'SECtest' })
    await subscribe(fleet, fy, { url: `${rx.url}/fy`, format: 'json', kinds })
    await subscribe(fleet, op, { url: `${rx.url}/op`, format: 'json', kinds })
    // Only critical ones: an alert 24 h offline is a warning.
    await subscribe(fleet, dy, { url: `${rx.url}/dy-critical`, format: 'json', kinds, minSeverity: 'critical' })

    clock.set(DAY_LATER)
    expect((await api(fleet, 'POST', '/api/v1/alerts/evaluate')).status).toBe(200)
    await settled(fleet)
    // Evaluating again while nothing changed sends nothing more.
    await api(fleet, 'POST', '/api/v1/alerts/evaluate')
    clock.set('2020-10-11T00:00:02.000Z')
    for (const id of ['DY-1', 'FY-1']) expect((await api(fleet, 'PATCH', `/api/v1/cabinets/${id}`, { status: 'suspended', reason: '维修' })).status).toBe(200)
    await api(fleet, 'POST', '/api/v1/alerts/evaluate')
    await settled(fleet)

    const dyAlert = ((await api<{ alerts: Array<{ alertId: string }> }>(fleet, 'GET', '/api/v1/alerts?state=all&kind=offline&county=341125')).body.alerts)[0]!
    expect(rx.at('/dy-json').map((r) => r.body)).toEqual([
      {
        event: 'raised',
        alert: {
          id: dyAlert.alertId, kind: 'offline', severity: 'warning', message: '专柜 DY-1 已运营 24 小时，从未上线', countyCode: '341125', cabinetId: 'DY-1', operator: '皖东运营',
          raisedAt: DAY_LATER, clearedAt: null,
        },
      },
      expect.objectContaining({ event: 'cleared', alert: expect.objectContaining({ id: dyAlert.alertId, clearedAt: '2020-10-11T00:00:02.000Z' }) }),
    ])
    const wecom = rx.at('/dy-wecom')
    expect(wecom).toHaveLength(2)
    expect(wecom[0]!.query.get('key')).toBe('abc')
    expect(wecom[0]!.body).toEqual({ msgtype: 'markdown', markdown: { content: expect.stringContaining('【告警发生】离线超过 24 小时') } })
    const content = (wecom[0]!.body.markdown as { content: string }).content
    for (const part of ['定远县（341125）', '专柜：DY-1', '专柜 DY-1 已运营 24 小时，从未上线', '发生时间：2020-10-11 08:00（北京时间）']) expect(content).toContain(part)
    expect((wecom[1]!.body.markdown as { content: string }).content).toContain('【告警恢复】')
    const ding = rx.at('/dy-ding')
    expect(ding).toHaveLength(2)
    for (const d of ding) {
      expect(d.query.get('access_token')).toBe('t0k')
      expect(dingtalkSignOk(d.query, 'SECtest')).toBe(true)
      expect(d.body).toEqual({ msgtype: 'markdown', markdown: { title: expect.stringMatching(/^【告警(发生|恢复)】离线超过 24 小时$/), text: expect.stringContaining('DY-1') } })
    }
    // 凤阳县's official hears of FY-1 only; the operator of DY-1 of it alone; nobody of the other county's.
    expect(rx.at('/fy').map((r) => [r.body.event, (r.body.alert as { cabinetId: string }).cabinetId])).toEqual([['raised', 'FY-1'], ['cleared', 'FY-1']])
    expect(rx.at('/op').map((r) => [r.body.event, (r.body.alert as { cabinetId: string }).cabinetId])).toEqual([['raised', 'DY-1'], ['cleared', 'DY-1']])
    expect(rx.at('/dy-critical')).toEqual([])
    expect(rx.received).toHaveLength(10)
  })

  it('retries a failing receiver with a growing backoff and delivers once when it answers 200', async () => {
    const clock = clockAt('2020-10-10T00:00:00.000Z')
    const fleet = await notifyingFleet(clock)
    const rx = await startReceiver()
    await importCsv(fleet, [csvRow('DY-1', '341125', 'operating')])
    const dy = await userToken(fleet, { username: 'dy', role: 'county', countyCode: '341125' })
    await subscribe(fleet, dy, { url: `${rx.url}/flaky`, format: 'wecom', kinds: ['offline'] })
    rx.failFirst('/flaky', [500])
    // The second refusal is the robot's: HTTP 200 with a non-zero errcode.
    clock.set(DAY_LATER)
    await api(fleet, 'POST', '/api/v1/alerts/evaluate')
    type Deliveries = { deliveries: Array<{ state: string; attempts: number; lastError: string | null; dueAt: string; sentAt: string | null }> }
    const delivery = async () => (await api<Deliveries>(fleet, 'GET', '/api/v1/notifications/deliveries', undefined, dy)).body.deliveries[0]
    await expect.poll(delivery, { timeout: 10_000 }).toMatchObject({ state: 'pending', attempts: 1, lastError: '接收方返回 HTTP 500', dueAt: '2020-10-11T00:00:31.000Z' })
    rx.answer('/flaky', { errcode: 93000, errmsg: 'invalid webhook url' })

    clock.set('2020-10-11T00:00:31.000Z')
    await expect.poll(delivery, { timeout: 10_000 }).toMatchObject({ state: 'pending', attempts: 2, lastError: '接收方拒绝（errcode 93000：invalid webhook url）', dueAt: '2020-10-11T00:01:31.000Z' })
    expect(rx.at('/flaky')).toHaveLength(1) // the refused one reached it

    rx.answer('/flaky', { errcode: 0, errmsg: 'ok' })
    clock.set('2020-10-11T00:01:31.000Z')
    await settled(fleet)
    expect(await delivery()).toMatchObject({ state: 'sent', attempts: 3, lastError: null, sentAt: '2020-10-11T00:01:31.000Z' })
    expect(rx.at('/flaky')).toHaveLength(2)
  })

  it('gives up after 24 h: the delivery is failed and never sent', async () => {
    const clock = clockAt('2020-10-10T00:00:00.000Z')
    const fleet = await notifyingFleet(clock, { notifications: { maxBackoffMs: 3_600_000 } })
    const rx = await startReceiver()
    await importCsv(fleet, [csvRow('DY-1', '341125', 'operating')])
    await subscribe(fleet, fleet.adminToken, { url: `${rx.url}/down`, format: 'json', kinds: ['offline'] })
    rx.failFirst('/down', Array.from({ length: 100 }, () => 503))
    clock.set(DAY_LATER)
    await api(fleet, 'POST', '/api/v1/alerts/evaluate')
    await expect.poll(async () => (await sqlRow<{ attempts: number }>(fleet.database, 'SELECT attempts FROM notification_outbox'))?.attempts, { timeout: 10_000 }).toBe(1)
    clock.set('2020-10-12T00:00:02.000Z')
    await settled(fleet)
    expect(await sqlRow(fleet.database, 'SELECT state, attempts FROM notification_outbox')).toMatchObject({ state: 'failed', attempts: 2 })
    expect(rx.received).toEqual([])
  })

  it('sends a flood of transitions as a digest: hundreds of offline cabinets reach a city admin in a few messages', async () => {
    const clock = clockAt('2020-10-10T00:00:00.000Z')
    const fleet = await notifyingFleet(clock)
    const rx = await startReceiver()
    expect((await importCsv(fleet, [...csvRows('341125', 'operating', 150), ...csvRows('341126', 'operating', 150)])).body.imported).toBe(300)
    const dy = await userToken(fleet, { username: 'dy', role: 'county', countyCode: '341125' })
    await subscribe(fleet, fleet.adminToken, { url: `${rx.url}/city`, format: 'json', kinds: ['offline'] })
    await subscribe(fleet, dy, { url: `${rx.url}/dy`, format: 'dingtalk', kinds: ['offline'] })
    clock.set(DAY_LATER)
    await api(fleet, 'POST', '/api/v1/alerts/evaluate')
    await settled(fleet)

    const city = rx.at('/city')
    expect(city.length).toBeLessThanOrEqual(4)
    const digests = city.map((r) => r.body.digest as { total: number; raised: number; byKind: Record<string, number>; byCounty: Record<string, number>; first: unknown[] })
    expect(digests.every((d) => d !== undefined)).toBe(true)
    expect(digests.reduce((n, d) => n + d.total, 0)).toBe(300)
    expect(digests.reduce((n, d) => n + (d.byCounty['341125'] ?? 0), 0)).toBe(150)
    expect(digests[0]!.first).toHaveLength(5)
    expect(Object.keys(digests[0]!.byKind)).toEqual(['offline'])
    // The county's official: a digest of its 150 alone, in 钉钉's format.
    const dyMsgs = rx.at('/dy')
    expect(dyMsgs.length).toBeLessThanOrEqual(2)
    const text = dyMsgs.map((m) => (m.body.markdown as { text: string }).text).join('\n')
    expect(text).toContain('【告警汇总】150 条告警变化')
    expect(text).toContain('按区县：定远县（341125） 150')
    expect(text).not.toContain('341126')
    expect(text).toContain('/dashboard/#/alerts')
    const rows = await sqlRow<{ n: number; digested: number }>(fleet.database, "SELECT COUNT(*) AS n, COUNT(digest_id) AS digested FROM notification_outbox WHERE state = 'sent'")
    expect(rows).toMatchObject({ n: 450, digested: 450 })
  })

  it('writes the outbox rows in the transaction raising the alert: both commit, or neither', async () => {
    const dir = await tempDir('notify-tx-')
    const url = await testDatabaseUrl(dir)
    const log = pino({ level: 'silent' })
    const database = await openFleetDb(url ? { dialect: 'postgres', url } : { dialect: 'sqlite', dataDir: dir }, log)
    onTestFinished(() => database.close())
    await sqlRun(database, "INSERT INTO users (user_id, username, role, token_hash, created_at) VALUES ('u1', 'city', 'admin', 'h', '2020-10-10T00:00:00.000Z')")
    const now = () => new Date('2020-10-11T00:00:00.000Z')
    const notifications = createNotificationService({ store: createNotificationStore(database), timeoutMs: 1000, now, log })
    await notifications.subscribe({ userId: 'u1', username: 'city', role: 'admin', countyCode: null, operator: null }, { url: 'http://127.0.0.1:9/', format: 'json' })
    let failing = true
    const failingAfter: AlertListener = {
      transitions: async () => {
        if (failing) throw new Error('listener failed on purpose')
      },
    }
    const alerts = createAlertService({
      store: createAlertStore(database),
      sources: [{
        kind: 'clock_skew',
        evaluate: async () => [{ kind: 'clock_skew', subject: 'DY-1', severity: 'warning', countyCode: '341125', cabinetId: 'DY-1', operator: null, message: '专柜 DY-1 时钟偏差', detail: {} }],
      }],
      listeners: [notifications.listener, failingAfter],
      now,
      log,
      everyMs: 0,
    })
    const counts = async () => [
      Number((await sqlRow<{ n: number }>(database, 'SELECT COUNT(*) AS n FROM alerts'))!.n),
      Number((await sqlRow<{ n: number }>(database, 'SELECT COUNT(*) AS n FROM notification_outbox'))!.n),
    ]
    expect((await alerts.evaluate()).raised).toBe(0)
    expect(await counts()).toEqual([0, 0])
    failing = false
    expect((await alerts.evaluate()).raised).toBe(1)
    expect(await counts()).toEqual([1, 1])
  })

  it('judges scope again when a row is due: a row about another county is skipped, not sent', async () => {
    const fleet = await notifyingFleet(clockAt('2020-10-11T00:00:00.000Z'))
    const rx = await startReceiver()
    const dy = await userToken(fleet, { username: 'dy', role: 'county', countyCode: '341125' })
    const id = await subscribe(fleet, dy, { url: `${rx.url}/dy`, format: 'json' })
    // A row the writer's check would never have queued (as if the owner's scope changed since).
    await sqlRun(fleet.database, `INSERT INTO notification_outbox (subscription_id, alert_id, event, kind, severity, county_code, cabinet_id, operator, message, raised_at, state, created_at, due_at)
      VALUES (?, 'a-1', 'raised', 'offline', 'warning', '341126', 'FY-1', NULL, '专柜 FY-1 已离线', '2020-10-11T00:00:00.000Z', 'pending', '2020-10-11T00:00:00.000Z', '2020-10-11T00:00:00.000Z')`, id)
    await settled(fleet)
    expect(await sqlRow(fleet.database, 'SELECT state, last_error FROM notification_outbox')).toMatchObject({ state: 'skipped', last_error: '告警不在订阅人当前的查看范围内' })
    expect(rx.received).toEqual([])
  })

  it('judges scope again when a row is due: a deleted owner gets nothing more', async () => {
    const clock = clockAt('2020-10-10T00:00:00.000Z')
    const fleet = await notifyingFleet(clock)
    const rx = await startReceiver()
    await importCsv(fleet, [csvRow('DY-1', '341125', 'operating')])
    const dy = await userToken(fleet, { username: 'dy', role: 'county', countyCode: '341125' })
    await subscribe(fleet, dy, { url: `${rx.url}/gone`, format: 'json', kinds: ['offline'] })
    rx.failFirst('/gone', [500])
    clock.set(DAY_LATER)
    await api(fleet, 'POST', '/api/v1/alerts/evaluate')
    await expect.poll(async () => (await sqlRow<{ attempts: number }>(fleet.database, 'SELECT attempts FROM notification_outbox'))?.attempts, { timeout: 10_000 }).toBe(1)
    // No API deletes users (yet): the row goes as an administrator's SQL would take it.
    await sqlRun(fleet.database, "DELETE FROM sessions WHERE user_id IN (SELECT user_id FROM users WHERE username = 'dy')")
    await sqlRun(fleet.database, "DELETE FROM users WHERE username = 'dy'")
    clock.set('2020-10-11T00:01:00.000Z')
    await settled(fleet)
    expect(await sqlRow(fleet.database, 'SELECT state, last_error FROM notification_outbox')).toMatchObject({ state: 'skipped', last_error: '订阅人已不存在' })
    expect(rx.received).toEqual([])
  })
})

describe('notification subscriptions API', () => {
  it('refuses a non-http(s) URL in Chinese, auditors, and secrets on formats that do not sign', async () => {
    const fleet = await notifyingFleet(clockAt('2020-10-10T00:00:00.000Z'))
    const S = '/api/v1/notifications/subscriptions'
    for (const url of ['ftp://example.com/hook', 'file:///etc/passwd', 'not a url', 'javascript:alert(1)']) {
      const r = await api<{ error: { code: string; message: string } }>(fleet, 'POST', S, { url, format: 'json' })
      expect(r.status, url).toBe(400)
      expect(r.body.error.code).toBe('NOTIFY_URL_INVALID')
      expect(r.body.error.message).toContain('通知地址须为以 “http://” 或 “https://” 开头的网址')
    }
    const secret = await api<{ error: { code: string } }>(fleet, 'POST', S, { url: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k', format: 'wecom', secret: 's' })
    expect([secret.status, secret.body.error.code]).toEqual([400, 'NOTIFY_SECRET_UNSUPPORTED'])
    for (const body of [{ url: 'https://x.test/', format: 'slack' }, { url: 'https://x.test/', format: 'json', kinds: ['nope'] }, { url: 'https://x.test/', format: 'json', extra: 1 }]) {
      expect((await api(fleet, 'POST', S, body)).status, JSON.stringify(body)).toBe(400)
    }
    const auditor = await userToken(fleet, { username: 'audit', role: 'auditor' })
    const refused = await api<{ error: { code: string } }>(fleet, 'POST', S, { url: 'https://x.test/', format: 'json' }, auditor)
    expect([refused.status, refused.body.error.code]).toEqual([403, 'ACCESS_OUT_OF_SCOPE'])
  })

  it('lists one’s own subscriptions (an admin all), hides the secret, tests and deletes them', async () => {
    const fleet = await notifyingFleet(clockAt('2020-10-10T00:00:00.000Z'))
    const rx = await startReceiver()
    const dy = await userToken(fleet, { username: 'dy', role: 'county', countyCode: '341125' })
    const op = await userToken(fleet, { username: 'op', role: 'operator', operator: '皖东运营' })
    const mine = await subscribe(fleet, dy, { url: `${rx.url}/ding`, format: 'dingtalk', secret: 'SECx' })
    const theirs = await subscribe(fleet, op, { url: `${rx.url}/op`, format: 'json' })
    type List = { subscriptions: Array<Record<string, unknown>> }
    const listOf = async (token: string) => (await api<List>(fleet, 'GET', '/api/v1/notifications/subscriptions', undefined, token)).body.subscriptions
    expect(await listOf(dy)).toEqual([{ subscriptionId: mine, owner: 'dy', url: `${rx.url}/ding`, format: 'dingtalk', kinds: null, minSeverity: 'warning', hasSecret: true, createdAt: '2020-10-10T00:00:00.000Z' }])
    expect((await listOf(fleet.adminToken)).map((s) => s.owner)).toEqual(['dy', 'op'])

    const t = await api(fleet, 'POST', `/api/v1/notifications/subscriptions/${mine}/test`, undefined, dy)
    expect(t).toEqual({ status: 200, body: { delivered: true, status: 200, error: null } })
    expect(dingtalkSignOk(rx.at('/ding')[0]!.query, 'SECx')).toBe(true)
    expect((rx.at('/ding')[0]!.body.markdown as { text: string }).text).toContain('测试')
    rx.failFirst('/op', [404])
    expect((await api(fleet, 'POST', `/api/v1/notifications/subscriptions/${theirs}/test`, undefined, op)).body).toEqual({ delivered: false, status: 404, error: '接收方返回 HTTP 404' })

    // Another user's subscription is not found, to test or to delete.
    expect((await api(fleet, 'POST', `/api/v1/notifications/subscriptions/${theirs}/test`, undefined, dy)).status).toBe(404)
    const del = (id: string, token: string) => fleet.http.inject({ method: 'DELETE', url: `/api/v1/notifications/subscriptions/${id}`, headers: { authorization: `Bearer ${token}` } })
    expect((await del(theirs, dy)).statusCode).toBe(404)
    expect((await del(mine, dy)).statusCode).toBe(204)
    expect(await listOf(dy)).toEqual([])
    expect((await del(theirs, fleet.adminToken)).statusCode).toBe(204)
    expect(await listOf(fleet.adminToken)).toEqual([])
  })
})
