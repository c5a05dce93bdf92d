// One webhook POST and its verdict: a 2xx is delivered, except that 企业微信
// and 钉钉 robots answer 200 with {"errcode": n} and a non-zero errcode is a
// refusal (bad key, bad signature, rate limit). Never throws.
import type { NotifyFormat } from '../../../shared/src/index.js'

export interface SendResult {
  readonly delivered: boolean
  /** The receiver's HTTP status; null when it was not reached. */
  readonly status: number | null
  /** Chinese, shown on the dashboard as the last error; null when delivered. */
  readonly error: string | null
}

/** Bytes of a receiver's answer read for its errcode: robots answer a few dozen. */
const ANSWER_LIMIT = 4096

export async function postWebhook(url: string, body: unknown, format: NotifyFormat, timeoutMs: number, signal?: AbortSignal): Promise<SendResult> {
  const timeout = AbortSignal.timeout(timeoutMs)
  let res: Response
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify(body),
      // A redirect is an answer, not a delivery (and not followed to a host nobody subscribed).
      redirect: 'manual',
      signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
    })
  } catch (err) {
    if (timeout.aborted) return { delivered: false, status: null, error: `接收方 ${timeoutMs / 1000} 秒内未应答` }
    if (signal?.aborted) return { delivered: false, status: null, error: '服务器停止，发送中断' }
    const cause = (err as { cause?: { code?: string; message?: string } }).cause
    return { delivered: false, status: null, error: `无法连接接收方（${cause?.code ?? cause?.message ?? (err as Error).message}）` }
  }
  let text = ''
  try {
    text = (await res.text()).slice(0, ANSWER_LIMIT)
  } catch {
    // The status is the verdict; an answer cut off does not change it.
  }
  if (res.status < 200 || res.status > 299) return { delivered: false, status: res.status, error: `接收方返回 HTTP ${res.status}` }
  if (format !== 'json') {
    const answer = robotAnswer(text)
    if (answer && typeof answer.errcode === 'number' && answer.errcode !== 0) {
      return { delivered: false, status: res.status, error: `接收方拒绝（errcode ${answer.errcode}：${String(answer.errmsg ?? '')}）` }
    }
  }
  return { delivered: true, status: res.status, error: null }
}

/** A robot's JSON answer, or null (not JSON: nothing says it failed). */
function robotAnswer(text: string): { errcode?: unknown; errmsg?: unknown } | null {
  try {
    const v: unknown = JSON.parse(text)
    return v !== null && typeof v === 'object' ? (v as { errcode?: unknown; errmsg?: unknown }) : null
  } catch {
    return null
  }
}
