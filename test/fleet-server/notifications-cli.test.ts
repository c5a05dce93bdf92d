// fleetctl notifications (issue 16 §7): add, list, test, deliveries and
// delete a webhook subscription in Chinese, through the HTTP API only.
import { describe, expect, it } from 'vitest'
import { run } from '../../fleet-server/src/cli/fleetctl.js'
import { api } from '../helpers/fleet.js'
import { clockAt, csvRow, importCsv, userToken } from '../helpers/rollout.js'
import { dingtalkSignOk, notifyingFleet, settled, startReceiver } from './notifications.fixtures.js'

async function fleetctl(args: string[], env: Record<string, string>) {
  const out: string[] = []
  const err: string[] = []
  const code = await run(args, env, { out: (l) => out.push(l), err: (l) => err.push(l) })
  return { code, out: out.join('\n'), err: err.join('\n') }
}

describe('fleetctl notifications', () => {
  it('adds, lists, tests and deletes a subscription, and shows its deliveries', async () => {
    const clock = clockAt('2020-10-10T00:00:00.000Z')
    const fleet = await notifyingFleet(clock)
    const rx = await startReceiver()
    await importCsv(fleet, [csvRow('DY-1', '341125', 'operating')])
    const env = { FLEET_URL: fleet.httpUrl, FLEET_TOKEN: await userToken(fleet, { username: 'dy', role: 'county', countyCode: '341125' }) }

    const added = await fleetctl(['--json', 'notifications', 'add', `${rx.url}/ding`, '--format', 'dingtalk', '--kind', 'offline', '--secret', 'SECcli'], env)
    expect(added.code, added.err).toBe(0)
    const id = (JSON.parse(added.out) as { subscription: { subscriptionId: string } }).subscription.subscriptionId
    const list = await fleetctl(['notifications', 'list'], env)
    expect(list.out).toContain('钉钉群机器人')
    expect(list.out).toContain('离线超过 24 小时')
    expect(list.out).toContain('（加签）')
    expect(list.out).not.toContain('SECcli')

    const test = await fleetctl(['notifications', 'test', id], env)
    expect(test.out).toBe('测试消息已送达（接收方应答 HTTP 200）')
    expect(dingtalkSignOk(rx.at('/ding')[0]!.query, 'SECcli')).toBe(true)

    clock.set('2020-10-11T00:00:01.000Z')
    await api(fleet, 'POST', '/api/v1/alerts/evaluate')
    await settled(fleet)
    const deliveries = await fleetctl(['notifications', 'deliveries'], env)
    expect(deliveries.out).toContain('专柜 DY-1 已运营 24 小时，从未上线')
    expect(deliveries.out).toContain('已发送')

    const bad = await fleetctl(['notifications', 'add', 'ftp://x/hook', '--format', 'json'], env)
    expect(bad.code).toBe(1)
    expect(bad.err).toContain('通知地址须为以 “http://” 或 “https://” 开头的网址')
    expect((await fleetctl(['notifications', 'delete', id], env)).out).toBe(`已删除订阅 ${id}（尚未发送的通知一并取消）`)
    expect((await fleetctl(['notifications', 'list'], env)).out).toContain('尚未订阅告警通知')
  })
})
