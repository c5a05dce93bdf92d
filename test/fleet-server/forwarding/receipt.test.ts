// judgeAnswer: which platform answers are a receipt for this batch (CONTRACT.md "Platform stand-in").
import { describe, expect, it } from 'vitest'
import type { PlatformAnswer } from '../../../fleet-server/src/forwarding/platform-client.js'
import { judgeAnswer } from '../../../fleet-server/src/forwarding/receipt.js'

const batch = { batchKey: '341100-341125-00001-2020-09-r0', records: 1 }
const answer = (status: number, body: unknown, headers: PlatformAnswer['headers'] = {}): PlatformAnswer => ({
  status, headers, body: typeof body === 'string' ? body : JSON.stringify(body),
})
const judge = (a: PlatformAnswer) => judgeAnswer(a, batch, 60_000).kind

describe('platform receipts', () => {
  it('counts a 2xx acknowledging this key and record count as delivered, extra fields allowed', () => {
    expect(judge(answer(202, { accepted: batch.batchKey, records: 1 }))).toBe('delivered')
    expect(judge(answer(200, { accepted: batch.batchKey, records: 1, receiptNo: 'R-1', at: '2020-10-05' }))).toBe('delivered')
  })

  it('retries any other 2xx body', () => {
    for (const body of ['', 'OK', '[]', 'null', { accepted: batch.batchKey }, { accepted: batch.batchKey, records: '1' }, { accepted: 'other', records: 1 }, { records: 1 }]) {
      expect(judge(answer(200, body)), JSON.stringify(body)).toBe('retry')
    }
  })

  it('counts only a 409 DUPLICATE as delivered; other 409s are retried', () => {
    expect(judge(answer(409, { error: { code: 'DUPLICATE', message: 'already received' } }))).toBe('delivered')
    expect(judge(answer(409, { error: { code: 'CONFLICT', message: 'busy' } }))).toBe('retry')
    expect(judge(answer(409, 'conflict'))).toBe('retry')
  })

  it('retries redirects, 429 and 5xx (honouring Retry-After up to the backoff cap), and fails other 4xx', () => {
    expect(judgeAnswer(answer(302, '', { location: 'http://elsewhere/' }), batch, 60_000)).toMatchObject({ kind: 'retry', status: 302, message: expect.stringContaining('http://elsewhere/') })
    expect(judge(answer(307, ''))).toBe('retry')
    expect(judgeAnswer(answer(429, '', { 'retry-after': '120' }), batch, 60_000)).toMatchObject({ kind: 'retry', retryAfterMs: 60_000 })
    expect(judge(answer(503, { error: { code: 'DOWN', message: 'maintenance' } }))).toBe('retry')
    expect(judgeAnswer(answer(401, { error: { code: 'BAD_SIGNATURE', message: 'bad' } }), batch, 60_000)).toMatchObject({ kind: 'failed', message: 'BAD_SIGNATURE: bad' })
  })
})
