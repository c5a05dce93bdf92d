// Forwarding receipts (issue 12): only a receipt for this very batch counts as
// delivered. Every bad answer of the platform stand-in leaves the batch
// pending with its error visible, is retried, and the batch is delivered
// once the platform answers well; redirects are never followed and raise an
// alert; the answer is bounded in size and in each phase's time.
import { createServer, type Socket } from 'node:net'
import { pino } from 'pino'
import { describe, expect, it, onTestFinished } from 'vitest'
import type { Fleet } from '../../../fleet-server/src/app.js'
import type { ForwardingOptions } from '../../../fleet-server/src/forwarding/index.js'
import type { AlertList, ForwardingReply } from '../../../shared/src/index.js'
import { buildPlatform, STORING_MODES, type BadAnswerMode, type PlatformOptions } from '../../../simulators/src/platform/app.js'
import { recordTrustCounts } from '../../helpers/trust-counts.js'
import { aCatalog, aClock, aDatedCabinet, fleetWith, line, ok } from '../certification.fixtures.js'

async function aPlatform(opts: Partial<PlatformOptions> = {}) {
  const p = await buildPlatform({ failRate: 0, latencyMs: 0, secret: 'k3y', storePath: null, logger: pino({ level: 'silent' }), ...opts })
  await p.app.listen({ port: 0, host: '127.0.0.1' })
  onTestFinished(() => p.app.close())
  const addr = p.app.server.address()
  return { ...p, url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/intake` }
}

// Each phase short, the whole exchange long: a test of one bound is not passed by another.
const BOUNDS: Partial<ForwardingOptions> = { connectTimeoutMs: 2_000, headersTimeoutMs: 300, bodyTimeoutMs: 300, timeoutMs: 60_000 }

/** A fleet forwarding to `url` with one cabinet whose September report is queued by one pass. */
async function aFleetWithOneBatch(url: string, forwarding: Partial<ForwardingOptions> = {}) {
  const fleet = await fleetWith({ env: { PLATFORM_URL: url, PLATFORM_SECRET: 'k3y' }, deps: { now: aClock('2020-10-05T02:00:00Z').now, forwarding: { ...BOUNDS, ...forwarding } } })
  await aCatalog(fleet, { CERT: { cert: ['2020-01-01'] } })
  const cab = await aDatedCabinet(fleet)
  await cab.sell('2020-09-10', [line('CERT', 100)])
  await cab.sell('2020-10-01', [line('CERT', 100)])
  expect(await ok(fleet, 'POST', '/api/v1/forwarding/run', undefined, 200)).toMatchObject({ queued: 1 })
  return { fleet, batchKey: `341100-${cab.cabinetId}-2020-09-r0` }
}

const status = (fleet: Fleet) => ok<ForwardingReply>(fleet, 'GET', '/api/v1/forwarding', undefined, 200)
const alerts = async (fleet: Fleet) => {
  await ok(fleet, 'POST', '/api/v1/alerts/evaluate', undefined, 200)
  return (await ok<AlertList>(fleet, 'GET', '/api/v1/alerts?kind=forwarding_failing', undefined, 200)).alerts
}

/** What GET /forwarding shows for the retried batch after each bad answer. */
const EXPECTED: Record<BadAnswerMode, { status: number | null; message: RegExp }> = {
  malformed: { status: 200, message: /answer 200 is not a receipt/ },
  'wrong-key': { status: 202, message: /answer 202 is not a receipt/ },
  'wrong-count': { status: 202, message: /answer 202 is not a receipt/ },
  empty: { status: 204, message: /answer 204 is not a receipt .* an empty body/ },
  redirect: { status: 302, message: /redirect 302 to http:\/\/127\.0\.0\.1:\d+\/redirect-target not followed/ },
  huge: { status: null, message: /answer exceeds 65536 bytes/ },
  'slow-headers': { status: null, message: /no answer headers within 300 ms/ },
  'slow-body': { status: null, message: /answer body not complete within 300 ms/ },
  hang: { status: null, message: /no answer headers within 300 ms/ },
  'conflict-other': { status: 409, message: /409 without DUPLICATE: CONFLICT/ },
}

describe('forwarding receipts', () => {
  it.each(Object.keys(EXPECTED) as BadAnswerMode[])('keeps a batch pending through %s answers, retries it, and delivers it once the platform answers well', async (mode) => {
    const platform = await aPlatform({ badAnswers: [mode] })
    const { fleet, batchKey } = await aFleetWithOneBatch(platform.url)
    // Retried, with the last error visible, and never counted as sent.
    await expect.poll(async () => (await status(fleet)).retrying[0]?.attempts ?? 0, { timeout: 10_000 }).toBeGreaterThanOrEqual(2)
    const s = await status(fleet)
    expect(s).toMatchObject({ sent: 0, pending: 1, failed: [] })
    expect(s.retrying).toEqual([expect.objectContaining({ batchKey, kind: 'report', period: '2020-09', status: EXPECTED[mode].status, message: expect.stringMatching(EXPECTED[mode].message) })])
    expect(platform.received().badAnswers[mode]).toBeGreaterThanOrEqual(2)

    platform.setBadAnswers([])
    await expect.poll(async () => (await status(fleet)).sent, { timeout: 10_000 }).toBe(1)
    expect(await status(fleet)).toMatchObject({ pending: 0, retrying: [], failed: [] })
    // Stored before the bad answer (a lost receipt): the resend got 409 DUPLICATE; one copy either way.
    const received = platform.received()
    expect(received).toMatchObject({ batches: 1, duplicatesRejected: STORING_MODES.has(mode) ? 1 : 0, redirectTargetHits: 0 })
    const sent = await status(fleet)
    recordTrustCounts('forwarding-receipts', {
      scenarios: 1,
      faultsInjected: received.badAnswers[mode] ?? 0,
      // Marked sent here but not held by the platform: must stay 0.
      forwardedNotAcknowledged: Math.max(0, sent.sent + sent.corrections.sent - received.batches),
    })
  })

  it('never follows a redirect, and raises an alert until the batch is delivered', async () => {
    const platform = await aPlatform({ badAnswers: ['redirect'] })
    const { fleet, batchKey } = await aFleetWithOneBatch(platform.url)
    await expect.poll(async () => (await status(fleet)).retrying[0]?.status, { timeout: 10_000 }).toBe(302)
    expect(platform.received()).toMatchObject({ batches: 0, redirectTargetHits: 0 })
    const [alert, ...more] = await alerts(fleet)
    expect(more).toEqual([])
    expect(alert).toMatchObject({ kind: 'forwarding_failing', severity: 'critical', subject: batchKey, countyCode: '341125', message: expect.stringContaining('重定向') })

    platform.setBadAnswers([])
    await expect.poll(async () => (await status(fleet)).sent, { timeout: 10_000 }).toBe(1)
    expect(await alerts(fleet)).toEqual([])
    expect(platform.received().redirectTargetHits).toBe(0)
  })

  it('raises an alert after five failed attempts in a row', async () => {
    const platform = await aPlatform({ badAnswers: ['conflict-other'] })
    const { fleet, batchKey } = await aFleetWithOneBatch(platform.url, { baseBackoffMs: 200, maxBackoffMs: 400 })
    await expect.poll(async () => (await status(fleet)).retrying[0]?.attempts ?? 0, { timeout: 10_000 }).toBeGreaterThanOrEqual(1)
    // Attempts only grow: fewer than five read after the evaluation means fewer during it.
    const early = await alerts(fleet)
    if ((await status(fleet)).retrying[0]!.attempts < 5) expect(early).toEqual([])
    await expect.poll(async () => (await status(fleet)).retrying[0]?.attempts ?? 0, { timeout: 10_000 }).toBeGreaterThanOrEqual(5)
    expect(await alerts(fleet)).toEqual([expect.objectContaining({ severity: 'warning', subject: batchKey, message: expect.stringMatching(/连续 \d+ 次上报社会扶贫网失败/) })])
    platform.setBadAnswers([])
    await expect.poll(async () => (await status(fleet)).sent, { timeout: 10_000 }).toBe(1)
    expect(await alerts(fleet)).toEqual([])
  })

  it('sends a batch waiting out its backoff at once when a person forces a pass, and keeps the backoff for scheduled ones', async () => {
    const platform = await aPlatform({ badAnswers: ['conflict-other'] })
    // An hour's backoff: without the forced pass the retry would not come within this test.
    const hour = 60 * 60_000
    // Scheduled passes every 100 ms: one of them queues and sends the September report.
    const fleet = await fleetWith({ env: { PLATFORM_URL: platform.url, PLATFORM_SECRET: 'k3y' }, deps: { now: aClock('2020-10-05T02:00:00Z').now, forwarding: { ...BOUNDS, baseBackoffMs: hour, maxBackoffMs: hour, intervalMs: 100 } } })
    await aCatalog(fleet, { CERT: { cert: ['2020-01-01'] } })
    const cab = await aDatedCabinet(fleet)
    await cab.sell('2020-09-10', [line('CERT', 100)])
    await cab.sell('2020-10-01', [line('CERT', 100)])
    const batchKey = `341100-${cab.cabinetId}-2020-09-r0`
    await expect.poll(async () => (await status(fleet)).retrying[0]?.attempts ?? 0, { timeout: 10_000 }).toBe(1)
    platform.setBadAnswers([])
    // The passes the server runs on its own leave the wait alone.
    await new Promise((r) => setTimeout(r, 1_000))
    expect(await status(fleet)).toMatchObject({ sent: 0, pending: 1, retrying: [expect.objectContaining({ batchKey, attempts: 1 })] })
    // The admin's POST /forwarding/run answers once the waiting batch has gone out.
    expect(await ok(fleet, 'POST', '/api/v1/forwarding/run', undefined, 200)).toMatchObject({ delivered: 1 })
    expect(await status(fleet)).toMatchObject({ sent: 1, pending: 0, retrying: [] })
    expect(platform.received()).toMatchObject({ batches: 1 })
  })

  it('bounds the whole exchange as well as each phase', async () => {
    const platform = await aPlatform({ badAnswers: ['slow-body'] })
    const { fleet } = await aFleetWithOneBatch(platform.url, { bodyTimeoutMs: 60_000, timeoutMs: 500 })
    await expect.poll(async () => (await status(fleet)).retrying[0]?.message, { timeout: 10_000 }).toMatch(/no complete answer within 500 ms/)
    expect(await status(fleet)).toMatchObject({ sent: 0, pending: 1 })
  })

  it('bounds the connection, TLS handshake included', async () => {
    // Accepts TCP, never speaks TLS: the handshake never completes.
    const sockets = new Set<Socket>()
    const silent = createServer((s) => void sockets.add(s))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    onTestFinished(() => {
      for (const s of sockets) s.destroy()
      silent.close()
    })
    const port = (silent.address() as { port: number }).port
    const { fleet } = await aFleetWithOneBatch(`https://127.0.0.1:${port}/intake`, { connectTimeoutMs: 300, headersTimeoutMs: 60_000 })
    await expect.poll(async () => (await status(fleet)).retrying[0]?.attempts ?? 0, { timeout: 10_000 }).toBeGreaterThanOrEqual(2)
    expect((await status(fleet)).retrying[0]).toMatchObject({ status: null, message: 'no connection within 300 ms' })
    expect(await status(fleet)).toMatchObject({ sent: 0, pending: 1 })
  })
})
