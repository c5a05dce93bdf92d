// npm run platform-sim -- --bad-answers MODES --bad-rate R: the modes take
// turns, storing modes take the batch once, and /received stays truthful.
import { describe, expect, it, onTestFinished } from 'vitest'
import type { PlatformBatch } from '../../shared/src/index.js'
import { startProgram } from '../helpers/process.js'

const aBatch = (key: string): PlatformBatch => ({
  v: 1, idempotencyKey: key, kind: 'report', createdAt: '2020-11-01T00:00:00.000Z',
  source: { system: 'fupin-fleet', regionCode: '341100', regionName: '滁州市' },
  records: [{ cabinetId: '341125-00001', countyCode: '341125', period: { kind: 'month', id: '2020-10', from: '2020-10-01', to: '2020-10-31' },
    salesCount: 3, amountFen: 10_000, certifiedAmountFen: 6_000, shareBp: 6000, lines: [] }],
})

describe('platform stand-in bad answers (CLI)', () => {
  it('gives the listed bad answers in turn, storing the batch only in the modes that store, without following its own redirect', async () => {
    const prog = await startProgram('simulators/src/platform/main.ts', ['--port', '0', '--bad-answers', 'wrong-key,redirect,conflict-other', '--bad-rate', '1'])
    onTestFinished(() => void prog.kill('SIGKILL'))
    const base = `http://127.0.0.1:${prog.ready.http as number}`
    const post = (key: string) => fetch(`${base}/intake`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/json' }, body: JSON.stringify(aBatch(key)) })

    const wrongKey = await post('key-aaaaaaaa')
    expect([wrongKey.status, await wrongKey.json()]).toEqual([202, { accepted: 'key-aaaaaaaa-other', records: 1 }])
    const redirect = await post('key-bbbbbbbb')
    expect(redirect.status).toBe(302)
    expect(redirect.headers.get('location')).toBe(`${base}/redirect-target`)
    const other = await post('key-cccccccc')
    expect([other.status, ((await other.json()) as { error: { code: string } }).error.code]).toEqual([409, 'CONFLICT'])
    // The turn comes round again: key-aaaaaaaa was stored by wrong-key, and is not stored twice.
    expect((await post('key-aaaaaaaa')).status).toBe(202)

    const received = await (await fetch(`${base}/received`)).json()
    expect(received).toMatchObject({ batches: 1, sales: 3, duplicatesRejected: 0, badAnswers: { 'wrong-key': 2, redirect: 1, 'conflict-other': 1 }, redirectTargetHits: 0 })
    expect(await prog.kill('SIGTERM')).toBe(0)
  })

  it('refuses an unknown mode with exit 2', async () => {
    await expect(startProgram('simulators/src/platform/main.ts', ['--port', '0', '--bad-answers', 'wrong-key,teapot'])).rejects.toThrow(/exited \(2\)[\s\S]*slow-headers/)
  })
})
