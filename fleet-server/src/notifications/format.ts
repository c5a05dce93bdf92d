// What a notification says, in each receiver's format (issue 16 §6): generic
// JSON, 企业微信 group robot markdown, 钉钉 group robot markdown (with its
// signed URL). Pure functions: Chinese words from shared/src/text/zh.ts,
// times in Beijing time.
import { createHmac } from 'node:crypto'
import { beijingZh, labelZh, type NotifyFormat } from '../../../shared/src/index.js'
import type { AlertTransition } from '../alerts/index.js'

/**
 * An alert's transition as it is sent (an outbox row's snapshot of the alert):
 * the alerts domain's transition, its kind and severity read back as stored text.
 */
export type OutgoingAlert = Omit<AlertTransition, 'kind' | 'severity'> & { readonly kind: string; readonly severity: string }

/** A flood summarised: the counts of every row it covers, the first few in full. */
export interface Digest {
  readonly total: number
  readonly raised: number
  readonly cleared: number
  readonly byKind: ReadonlyArray<{ readonly kind: string; readonly n: number }>
  readonly byCounty: ReadonlyArray<{ readonly countyCode: string | null; readonly n: number }>
  readonly first: readonly OutgoingAlert[]
}

export interface FormatContext {
  /** The plan's name of a county code, or null. */
  readonly countyName: (code: string) => string | null
}

/** Where the dashboard lists alerts (the server does not know its public address). */
export const DASHBOARD_HINT = '详见管理平台看板“告警”页（/dashboard/#/alerts）'

const countyZh = (ctx: FormatContext, code: string | null): string => (code === null ? '全市' : `${ctx.countyName(code) ?? code}（${code}）`)
const eventZh = (e: string) => `告警${labelZh('notifyEvent', e)}`
const n = (x: number) => x.toLocaleString('zh-CN')

/** The generic JSON body's alert (the fields a receiver's script reads). */
const jsonAlert = (a: OutgoingAlert) => ({
  id: a.alertId, kind: a.kind, severity: a.severity, message: a.message, countyCode: a.countyCode, cabinetId: a.cabinetId, operator: a.operator, raisedAt: a.raisedAt, clearedAt: a.clearedAt,
})

function alertMarkdown(a: OutgoingAlert, ctx: FormatContext, format: 'wecom' | 'dingtalk'): { title: string; text: string } {
  const severity = labelZh('severity', a.severity)
  // 企业微信 markdown colours text with <font color="warning|info|comment">; 钉钉 has no colours.
  const sev = format === 'wecom' ? `<font color="${a.event === 'cleared' ? 'info' : a.severity === 'critical' ? 'warning' : 'comment'}">${severity}</font>` : severity
  const title = `【${eventZh(a.event)}】${labelZh('alertKind', a.kind)}`
  const lines = [
    `### ${title}`,
    `> 级别：${sev}`,
    `> 区县：${countyZh(ctx, a.countyCode)}`,
    ...(a.cabinetId ? [`> 专柜：${a.cabinetId}`] : []),
    ...(a.operator ? [`> 运营企业：${a.operator}`] : []),
    '',
    a.message,
    '',
    `发生时间：${beijingZh(a.raisedAt)}（北京时间）`,
    ...(a.clearedAt ? [`恢复时间：${beijingZh(a.clearedAt)}（北京时间）`] : []),
  ]
  return { title, text: lines.join('\n') }
}

function digestMarkdown(d: Digest, ctx: FormatContext): { title: string; text: string } {
  const title = `【告警汇总】${n(d.total)} 条告警变化`
  const lines = [
    `### ${title}`,
    `> 发生 ${n(d.raised)} 条，恢复 ${n(d.cleared)} 条`,
    `> 按类型：${d.byKind.map((k) => `${labelZh('alertKind', k.kind)} ${n(k.n)}`).join('，')}`,
    `> 按区县：${d.byCounty.map((c) => `${countyZh(ctx, c.countyCode)} ${n(c.n)}`).join('，')}`,
    '',
    ...d.first.map((a) => `- 【${labelZh('notifyEvent', a.event)}】${a.message}（${beijingZh(a.event === 'cleared' ? a.clearedAt : a.raisedAt)}）`),
    ...(d.total > d.first.length ? [`- ……另有 ${n(d.total - d.first.length)} 条`] : []),
    '',
    DASHBOARD_HINT,
  ]
  return { title, text: lines.join('\n') }
}

const markdownBody = (format: 'wecom' | 'dingtalk', m: { title: string; text: string }) =>
  format === 'wecom' ? { msgtype: 'markdown', markdown: { content: m.text } } : { msgtype: 'markdown', markdown: { title: m.title, text: m.text } }

export function alertBody(format: NotifyFormat, a: OutgoingAlert, ctx: FormatContext): unknown {
  if (format === 'json') return { event: a.event, alert: jsonAlert(a) }
  return markdownBody(format, alertMarkdown(a, ctx, format))
}

export function digestBody(format: NotifyFormat, d: Digest, ctx: FormatContext): unknown {
  if (format === 'json') {
    return {
      event: 'digest',
      digest: {
        total: d.total,
        raised: d.raised,
        cleared: d.cleared,
        byKind: Object.fromEntries(d.byKind.map((k) => [k.kind, k.n])),
        byCounty: Object.fromEntries(d.byCounty.map((c) => [c.countyCode ?? 'city', c.n])),
        first: d.first.map((a) => ({ event: a.event, alert: jsonAlert(a) })),
        hint: DASHBOARD_HINT,
      },
    }
  }
  return markdownBody(format, digestMarkdown(d, ctx))
}

export function testBody(format: NotifyFormat, owner: string, nowIso: string): unknown {
  const text = `这是消费扶贫智能专柜管理平台的测试消息：用户 ${owner} 的告警通知已接通（${beijingZh(nowIso)}，北京时间）。`
  if (format === 'json') return { event: 'test', message: text, at: nowIso }
  return markdownBody(format, { title: '【测试】告警通知', text: `### 【测试】告警通知\n${text}` })
}

/**
 * 钉钉 加签: timestamp (ms) and sign = base64(HMAC-SHA256(secret,
 * timestamp + "\n" + secret)), URL-encoded, appended to the webhook URL.
 */
export function dingtalkSignedUrl(url: string, secret: string, timestampMs: number): string {
  const sign = createHmac('sha256', secret).update(`${timestampMs}\n${secret}`).digest('base64')
  return `${url}${url.includes('?') ? '&' : '?'}timestamp=${timestampMs}&sign=${encodeURIComponent(sign)}`
}
