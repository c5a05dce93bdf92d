// What a platform answer means for a batch (CONTRACT.md "Platform stand-in"):
// delivered only on a receipt for *this* batch — a 2xx whose JSON body has
// `accepted` = the batch's idempotency key and `records` = its record count
// (other fields allowed), or a 409 whose error code is DUPLICATE (the request
// carried the key, so the platform holds this very batch). A 3xx is never
// followed: it is a failed attempt, flagged so an alert can say so. Other
// definite 4xx refusals go to the failed list for a person; everything else
// (other 2xx bodies, other 409s, 429, 5xx) is retried.
import type { PlatformAnswer } from './platform-client.js'

export type Outcome =
  | { kind: 'delivered'; status: number }
  | { kind: 'failed'; status: number; message: string }
  | { kind: 'retry'; status: number | null; message: string; retryAfterMs?: number }

export interface BatchIdentity {
  readonly batchKey: string
  readonly records: number
}

const MESSAGE_CHARS = 1000

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** `CODE: message` of a `{error:{code,message}}` body, else the text itself (cut short). */
function messageOf(text: string): string {
  const j = parseJson(text)
  const e = isObject(j) && isObject(j.error) ? j.error : null
  if (e && typeof e.message === 'string' && e.message) return typeof e.code === 'string' && e.code ? `${e.code}: ${e.message}` : e.message
  return text.slice(0, MESSAGE_CHARS)
}

export function judgeAnswer(a: PlatformAnswer, batch: BatchIdentity, maxRetryAfterMs: number): Outcome {
  const { status } = a
  if (status >= 200 && status < 300) {
    const j = parseJson(a.body)
    if (isObject(j) && j.accepted === batch.batchKey && j.records === batch.records) return { kind: 'delivered', status }
    const shown = a.body.length === 0 ? 'an empty body' : `${JSON.stringify(a.body.slice(0, 200))}`
    return { kind: 'retry', status, message: `answer ${status} is not a receipt for ${batch.batchKey} (${batch.records} records): ${shown}` }
  }
  if (status >= 300 && status < 400) {
    const location = typeof a.headers.location === 'string' ? a.headers.location.slice(0, 500) : '(none)'
    return { kind: 'retry', status, message: `redirect ${status} to ${location} not followed` }
  }
  if (status === 409) {
    const j = parseJson(a.body)
    if (isObject(j) && isObject(j.error) && j.error.code === 'DUPLICATE') return { kind: 'delivered', status }
    return { kind: 'retry', status, message: `409 without DUPLICATE: ${messageOf(a.body)}` }
  }
  if (status === 429 || status >= 500) {
    const ra = Number(a.headers['retry-after'])
    return { kind: 'retry', status, message: messageOf(a.body), ...(Number.isFinite(ra) && ra > 0 && { retryAfterMs: Math.min(ra * 1000, maxRetryAfterMs) }) }
  }
  if (status >= 400) return { kind: 'failed', status, message: messageOf(a.body) }
  // 1xx final status cannot happen over node:http; anything else is no receipt.
  return { kind: 'retry', status, message: `unexpected status ${status}` }
}

/** Whether the last answer was a redirect (the alert source's question). */
export const isRedirect = (status: number | null): boolean => status !== null && status >= 300 && status < 400
