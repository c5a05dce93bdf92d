import { createHmac } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { describe, expect, it, onTestFinished } from 'vitest'
import { PLATFORM_IDEMPOTENCY_HEADER, PLATFORM_SIGNATURE_HEADER, type PlatformBatch } from '../../shared/src/index.js'
import { buildPlatform, type PlatformOptions } from '../../simulators/src/platform/app.js'
import { startProgram } from '../helpers/process.js'

const aBatch = (key: string, salesCount = 10): PlatformBatch => ({
  v: 1, idempotencyKey: key, kind: 'report', createdAt: '2020-11-01T00:00:00.000Z',
  source: { system: 'fupin-fleet', regionCode: '341100', regionName: '滁州市' },
  records: [{ cabinetId: '341125-00001', countyCode: '341125', period: { kind: 'month', id: '2020-10', from: '2020-10-01', to: '2020-10-31' },
    salesCount, amountFen: 10_000, certifiedAmountFen: 6_000, shareBp: 6000, lines: [] }],
})

async function platform(opts: Partial<PlatformOptions> = {}) {
  const p = await buildPlatform({ failRate: 0, latencyMs: 0, secret: null, storePath: null, logger: pino({ level: 'silent' }), ...opts })
  onTestFinished(() => p.app.close())
  const send = (b: PlatformBatch, headers: Record<string, string> = {}) =>
    p.app.inject({ method: 'POST', url: '/intake', payload: JSON.stringify(b), headers: { 'content-type': 'application/json', [PLATFORM_IDEMPOTENCY_HEADER]: b.idempotencyKey, ...headers } })
  return { ...p, send }
}

describe('national platform stand-in', () => {
  it('takes a batch once and answers 409 to the same idempotency key, counting it once', async () => {
    const p = await platform()
    expect((await p.send(aBatch('key-00000001'))).statusCode).toBe(202)
    const dup = await p.send(aBatch('key-00000001'))
    expect(dup.statusCode).toBe(409)
    expect(dup.json().error.code).toBe('DUPLICATE')
    expect(p.received()).toMatchObject({ batches: 1, sales: 10, duplicatesRejected: 1 })
  })

  it('checks the HMAC signature when it has a secret', async () => {
    const p = await platform({ secret: 's3cret' })
    const body = JSON.stringify(aBatch('key-00000002'))
    const bad = await p.app.inject({ method: 'POST', url: '/intake', payload: body, headers: { 'content-type': 'application/json', [PLATFORM_SIGNATURE_HEADER]: 'sha256=00' } })
    expect(bad.statusCode).toBe(401)
    const sig = `sha256=${createHmac('sha256', 's3cret').update(body).digest('hex')}`
    const good = await p.app.inject({ method: 'POST', url: '/intake', payload: body, headers: { 'content-type': 'application/json', [PLATFORM_SIGNATURE_HEADER]: sig } })
    expect(good.statusCode).toBe(202)
  })

  it('injects failures both before and after storing, never double-counting a retried batch', async () => {
    let i = 0
    const rolls = [0.05, 0.2, 0.9] // outage, stored-but-reply-lost, success
    const p = await platform({ failRate: 0.3, random: () => rolls[i++ % rolls.length]! })
    expect((await p.send(aBatch('key-00000003'))).statusCode).toBe(503)
    expect(p.received().batches).toBe(0)
    expect((await p.send(aBatch('key-00000003'))).statusCode).toBe(500)
    expect(p.received().batches).toBe(1)
    expect((await p.send(aBatch('key-00000003'))).statusCode).toBe(409)
    expect(p.received()).toMatchObject({ batches: 1, sales: 10, failuresInjected: 2, duplicatesRejected: 1 })
  })

  it('rejects a malformed batch with a specific error', async () => {
    const p = await platform()
    const r = await p.app.inject({ method: 'POST', url: '/intake', payload: '{"v":1}', headers: { 'content-type': 'application/json' } })
    expect(r.statusCode).toBe(422)
    expect(r.json().error.code).toBe('BAD_BATCH')
  })

  it('remembers what it took across a restart of the CLI (npm run platform-sim)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'platform-'))
    onTestFinished(() => rm(dir, { recursive: true, force: true }))
    const file = join(dir, 'received.jsonl')
    let prog = await startProgram('simulators/src/platform/main.ts', ['--port', '0', '--data', file])
    const post = (port: unknown, b: PlatformBatch) => fetch(`http://127.0.0.1:${port}/intake`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) })
    expect((await post(prog.ready.http, aBatch('key-00000004', 7))).status).toBe(202)
    expect(await prog.kill('SIGTERM')).toBe(0)
    prog = await startProgram('simulators/src/platform/main.ts', ['--port', '0', '--data', file])
    onTestFinished(() => { void prog.kill('SIGKILL') })
    expect((await post(prog.ready.http, aBatch('key-00000004', 7))).status).toBe(409)
    const received = await (await fetch(`http://127.0.0.1:${prog.ready.http}/received`)).json()
    expect(received).toMatchObject({ batches: 1, sales: 7, duplicatesRejected: 1 })
  })
})
