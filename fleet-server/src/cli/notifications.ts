// fleetctl notifications list|add|test|delete|deliveries (issue 16 §6, §7):
// a user's webhook subscriptions to alerts, over the HTTP API only.
import { ALERT_KINDS, beijingZh, labelZh, NOTIFY_FORMATS } from '../../../shared/src/index.js'

type Json = Record<string, unknown>

export const NOTIFICATIONS_USAGE = `  notifications list
  notifications add 网址 --format json|wecom|dingtalk [--kind 类型,类型…] [--severity critical] [--secret 钉钉加签密钥]
                   订阅本人可见范围内的告警（发生与恢复各通知一次；短时大量告警合并为一条汇总）；
                   类型: ${ALERT_KINDS.join(' ')}
  notifications test ID      立即发送一条测试消息，显示接收方的应答
  notifications delete ID
  notifications deliveries [--limit N]   最近的发送记录（状态、次数、最后错误）`

export interface NotificationsCli {
  readonly call: <T = Json>(method: string, path: string, body?: unknown) => Promise<T>
  readonly print: (data: unknown, human: () => string) => void
  readonly need: (v: string | undefined, what: string) => string
  readonly usage: (message: string) => Error
  readonly table: (head: readonly string[], rows: ReadonlyArray<readonly (string | number)[]>) => string
}

export interface NotificationsOptions {
  readonly format?: string | undefined
  readonly kind?: string | undefined
  readonly severity?: string | undefined
  readonly secret?: string | undefined
  readonly limit?: string | undefined
}

const bj = (iso: unknown) => beijingZh(typeof iso === 'string' ? iso : null)
const S = '/notifications/subscriptions'

/** Runs `notifications CMD …`; false when CMD is not one of its commands. */
export async function notificationsCommand(cmd: string | undefined, rest: readonly string[], o: NotificationsOptions, cli: NotificationsCli): Promise<boolean> {
  const { call, print, need, table } = cli
  if (cmd === 'list') {
    const r = await call<{ subscriptions: Json[] }>('GET', S)
    print(r, () =>
      r.subscriptions.length === 0
        ? '尚未订阅告警通知（fleetctl notifications add 网址 --format …）'
        : table(
            ['编号', '订阅人', '格式', '告警类型', '级别', '网址', '创建时间(北京)'],
            r.subscriptions.map((s) => [
              String(s.subscriptionId),
              String(s.owner),
              labelZh('notifyFormat', String(s.format)),
              Array.isArray(s.kinds) ? s.kinds.map((k) => labelZh('alertKind', String(k))).join('、') : '全部',
              s.minSeverity === 'critical' ? '仅严重' : '全部',
              `${String(s.url)}${s.hasSecret ? '（加签）' : ''}`,
              bj(s.createdAt),
            ]),
          ),
    )
    return true
  }
  if (cmd === 'add') {
    const url = need(rest[0], '接收通知的网址')
    const format = need(o.format, ` --format（${NOTIFY_FORMATS.join('|')}）`)
    if (o.severity !== undefined && o.severity !== 'critical' && o.severity !== 'warning') throw cli.usage(`--severity 应为 critical 或 warning，收到 “${o.severity}”`)
    const body = {
      url,
      format,
      ...(o.kind !== undefined && { kinds: o.kind.split(',').map((k) => k.trim()).filter(Boolean) }),
      ...(o.severity !== undefined && { minSeverity: o.severity }),
      ...(o.secret !== undefined && { secret: o.secret }),
    }
    const r = await call<{ subscription: Json }>('POST', S, body)
    print(r, () => `已订阅告警通知 ${String(r.subscription.subscriptionId)}（${labelZh('notifyFormat', format)}）\n测试：fleetctl notifications test ${String(r.subscription.subscriptionId)}`)
    return true
  }
  if (cmd === 'test') {
    const id = need(rest[0], '订阅编号 ID')
    const r = await call<{ delivered: boolean; status: number | null; error: string | null }>('POST', `${S}/${encodeURIComponent(id)}/test`)
    print(r, () => (r.delivered ? `测试消息已送达（接收方应答 HTTP ${r.status}）` : `测试消息未送达：${r.error ?? '未知原因'}`))
    return true
  }
  if (cmd === 'delete') {
    const id = need(rest[0], '订阅编号 ID')
    await call('DELETE', `${S}/${encodeURIComponent(id)}`)
    print({ deleted: id }, () => `已删除订阅 ${id}（尚未发送的通知一并取消）`)
    return true
  }
  if (cmd === 'deliveries') {
    const r = await call<{ deliveries: Json[] }>('GET', `/notifications/deliveries${o.limit ? `?limit=${encodeURIComponent(o.limit)}` : ''}`)
    print(r, () =>
      r.deliveries.length === 0
        ? '暂无发送记录'
        : table(
            ['时间(北京)', '事件', '告警', '状态', '次数', '最后错误'],
            r.deliveries.map((d) => [
              bj(d.createdAt),
              labelZh('notifyEvent', String(d.event)),
              String(d.message ?? d.alertId),
              `${labelZh('notifyState', String(d.state))}${d.inDigest ? '（汇总）' : ''}`,
              Number(d.attempts),
              String(d.lastError ?? ''),
            ]),
          ),
    )
    return true
  }
  return false
}
