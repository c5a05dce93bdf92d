// The forwarding gate and the outbox against the real platform stand-in:
// held reasons, the sync watermark, exactly-once delivery, one correction per
// back-dated revocation, retries and the failed list.
import { pino } from 'pino'
import { describe, expect, it, onTestFinished } from 'vitest'
import type { Fleet } from '../../fleet-server/src/app.js'
import type { ForwardingReply, PlatformBatch } from '../../shared/src/index.js'
import { buildPlatform, type PlatformOptions } from '../../simulators/src/platform/app.js'
import { countingTurns } from '../helpers/event-loop.js'
import { api, tempDir } from '../helpers/fleet.js'
import { onPostgres, sqlRows } from '../helpers/test-db.js'
import { aCatalog, aClock, aDatedCabinet, fleetWith, line, ok } from './certification.fixtures.js'

async function aPlatform(opts: Partial<PlatformOptions> = {}) {
  const p = await buildPlatform({ failRate: 0, latencyMs: 0, secret: 'k3y', storePath: null, logger: pino({ level: 'silent' }), ...opts })
  await p.app.listen({ port: 0, host: '127.0.0.1' })
  onTestFinished(() => p.app.close())
  const addr = p.app.server.address()
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/intake`
  return { ...p, url }
}

const run = (fleet: Fleet) => ok<{ queued: number; corrections: number; held: number }>(fleet, 'POST', '/api/v1/forwarding/run', undefined, 200)
const status = async (fleet: Fleet) => ok<ForwardingReply>(fleet, 'GET', '/api/v1/forwarding', undefined, 200)

describe('forwarding', () => {
  it('forwards complete, compliant periods once and holds the rest with a reason', async () => {
    const platform = await aPlatform()
    const clock = aClock('2020-09-20T02:00:00Z')
    const fleet = await fleetWith({ env: { PLATFORM_URL: platform.url, PLATFORM_SECRET: 'k3y' }, deps: { now: clock.now } })
    await aCatalog(fleet, { CERT: { cert: ['2020-01-01'] }, PLAIN: {} })
    const good = await aDatedCabinet(fleet)
    const poor = await aDatedCabinet(fleet)
    const behind = await aDatedCabinet(fleet)
    for (const c of [good, behind]) await c.sell('2020-09-10', [line('CERT', 600), line('CERT', 500)])
    await poor.sell('2020-09-10', [line('CERT', 500), line('PLAIN', 600)])

    // September has not ended: nothing is judged.
    expect(await run(fleet)).toMatchObject({ judged: 0, queued: 0 })

    clock.set('2020-10-02T02:00:00Z')
    // good and poor sold after the month ended (their chains passed the end);
    // behind says in a heartbeat it holds a sale the server has not got.
    await good.sell('2020-10-01', [line('CERT', 100)])
    await poor.sell('2020-10-01', [line('CERT', 100)])
    await behind.heartbeat('2020-10-02T02:00:00.000Z', behind.sales.length + 1)
    expect(await run(fleet)).toMatchObject({ judged: 3, queued: 1, held: 2 })
    const s = await status(fleet)
    expect(s).toMatchObject({ sent: 1, pending: 0, failed: [], periods: 3 })
    // Reports carry the same counts, city-wide and per county.
    const report = async (county?: string) => {
      const { reportId } = await ok<{ reportId: string }>(fleet, 'POST', '/api/v1/reports', { kind: 'monthly', period: '2020-09', ...(county && { county }) })
      return ok<{ totals: { forwarding: unknown } }>(fleet, 'GET', `/api/v1/reports/${reportId}`, undefined, 200)
    }
    expect((await report()).totals.forwarding).toEqual({ sent: 1, pending: 0, held: 2, failed: 0 })
    expect((await report('341125')).totals.forwarding).toEqual({ sent: 1, pending: 0, held: 2, failed: 0 })
    expect((await report('341126')).totals.forwarding).toEqual({ sent: 0, pending: 0, held: 0, failed: 0 })
    expect(s.held).toEqual([
      expect.objectContaining({ cabinetId: poor.cabinetId, period: '2020-09', reason: 'NOT_COMPLIANT', details: expect.objectContaining({ shareBp: 4545, ratio: 0.4545, thresholdBp: 5000 }) }),
      expect.objectContaining({ cabinetId: behind.cabinetId, period: '2020-09', reason: 'INCOMPLETE_SYNC' }),
    ])
    const [batch] = platform.batches()
    expect(batch).toMatchObject({ key: `341100-${good.cabinetId}-2020-09-r0`, kind: 'report' })
    expect(batch!.records[0]).toMatchObject({
      cabinetId: good.cabinetId, period: { kind: 'month', id: '2020-09', from: '2020-09-01', to: '2020-09-30' },
      salesCount: 1, amountFen: 1100, certifiedAmountFen: 1100, shareBp: 10_000, compliant: true,
      lines: [{ sku: 'CERT', certificateNo: 'CERT-CERT', supplierUscc: expect.any(String), qty: 2, amountFen: 1100 }],
    })

    // behind syncs its outbox: the held period is judged again and goes out.
    await behind.sell('2020-09-30', [line('CERT', 10)])
    await behind.heartbeat('2020-10-02T03:00:00.000Z')
    expect(await run(fleet)).toMatchObject({ queued: 1, held: 1 })
    // Passes are idempotent: nothing new, nothing twice.
    expect(await run(fleet)).toMatchObject({ queued: 0, corrections: 0 })
    expect(await status(fleet)).toMatchObject({ sent: 2, pending: 0, periods: 3 })
    expect(platform.received()).toMatchObject({ batches: 2, duplicatesRejected: 0 })
  })

  it('judges held periods again after the sales that can release them, not after every sale of a held cabinet', async () => {
    const platform = await aPlatform()
    const clock = aClock('2020-10-02T02:00:00Z')
    const env = { PLATFORM_URL: platform.url, PLATFORM_SECRET: 'k3y' }
    const fleet = await fleetWith({ env, deps: { now: clock.now, forwarding: { debounceMs: 20 } } })
    await aCatalog(fleet, { CERT: { cert: ['2020-01-01'] }, PLAIN: {} })
    const poor = await aDatedCabinet(fleet)
    const behind = await aDatedCabinet(fleet)
    await poor.sell('2020-09-10', [line('CERT', 500), line('PLAIN', 600)])
    await poor.sell('2020-10-01', [line('PLAIN', 100)])
    await behind.sell('2020-09-10', [line('CERT', 500)])
    await behind.heartbeat('2020-10-02T01:00:00.000Z', behind.sales.length + 1)
    expect(await run(fleet)).toMatchObject({ judged: 2, queued: 0, held: 2 })
    const lastRunAt = async () => (await status(fleet)).lastRunAt

    // Today's trade of a NOT_COMPLIANT cabinet cannot change September: no pass.
    clock.set('2020-10-02T03:00:00Z')
    await poor.sell('2020-10-02', [line('PLAIN', 100)])
    await new Promise((r) => setTimeout(r, 300))
    expect(await lastRunAt()).toBe('2020-10-02T02:00:00.000Z')

    // A late September sale can: judged again without anyone asking, and sent.
    await poor.sell('2020-09-20', [line('CERT', 5000)])
    await expect.poll(lastRunAt).toBe('2020-10-02T03:00:00.000Z')
    await expect.poll(async () => (await status(fleet)).held.map((h) => h.cabinetId)).toEqual([behind.cabinetId])

    // The missing sale of the cabinet waiting for its sync arrives: released too.
    clock.set('2020-10-02T04:00:00Z')
    await behind.sell('2020-10-01', [line('CERT', 100)])
    await expect.poll(async () => (await status(fleet)).held).toEqual([])
    await expect.poll(() => platform.received().batches).toBe(2)
  })

  it('judges the fleet a slice of cabinets at a time, letting the event loop run in between, with the verdicts of one slice', async () => {
    // Two fleets with the same five cabinets: two compliant, two below the
    // threshold, one never synced past September; one judged a cabinet per slice.
    const aFleet = async (sliceCabinets: number) => {
      const fleet = await fleetWith({ deps: { now: aClock('2020-10-02T02:00:00Z').now, forwarding: { sliceCabinets } } })
      await aCatalog(fleet, { CERT: { cert: ['2020-01-01'] }, PLAIN: {} })
      for (let i = 0; i < 5; i++) {
        const c = await aDatedCabinet(fleet)
        await c.sell('2020-09-10', i % 2 === 0 ? [line('CERT', 600)] : [line('CERT', 100), line('PLAIN', 600)])
        if (i !== 4) await c.sell('2020-10-01', [line('CERT', 100)])
      }
      return fleet
    }
    /** A pass, and how many event-loop turns other work got while it ran. */
    const passWithTurns = async (fleet: Fleet) => {
      const { value: r, turns } = await countingTurns(() => run(fleet))
      return { r, turns }
    }
    const sliced = await aFleet(1)
    const whole = await aFleet(1000)
    const a = await passWithTurns(sliced)
    const b = await passWithTurns(whole)
    expect(a.r).toMatchObject({ judged: 5, queued: 2, held: 3 })
    expect(b.r).toEqual(a.r)
    // Four more yields: between each of the five one-cabinet slices. (On
    // PostgreSQL every query is socket I/O, so a pass yields at each of them,
    // sliced or not, and the count says nothing about slicing.)
    if (!onPostgres) expect(a.turns - b.turns).toBeGreaterThanOrEqual(4)
    const held = async (fleet: Fleet) => (await status(fleet)).held.map((h) => [h.reason, h.period])
    expect(await held(sliced)).toEqual(await held(whole))
    expect((await held(sliced)).sort()).toEqual([['INCOMPLETE_SYNC', '2020-09'], ['NOT_COMPLIANT', '2020-09'], ['NOT_COMPLIANT', '2020-09']])
    // A repeat pass over slices changes nothing.
    expect(await run(sliced)).toMatchObject({ judged: 5, queued: 0, corrections: 0, held: 3 })
  })

  it('holds a cabinet whose chain was tampered with', async () => {
    const clock = aClock('2020-10-05T02:00:00Z')
    const fleet = await fleetWith({ deps: { now: clock.now } })
    await aCatalog(fleet, { CERT: { cert: ['2020-01-01'] } })
    const cab = await aDatedCabinet(fleet)
    await cab.sell('2020-09-10', [line('CERT', 100)])
    await cab.sell('2020-10-02', [line('CERT', 100)])
    // Resend seq 1 with different content: SALE_TAMPERED flags the cabinet.
    const { aBatch, aChain } = await import('../helpers/sales.js')
    const forged = aChain(cab.cabinetId, 1, { soldAt: () => '2020-09-10T04:00:00.000Z', lines: () => [line('CERT', 999)] })
    expect((await cab.mqtt.send(aBatch(cab.cabinetId, forged))).status).toBe('rejected')
    await run(fleet)
    expect((await status(fleet)).held).toEqual([expect.objectContaining({ cabinetId: cab.cabinetId, reason: 'CHAIN_BROKEN' })])
  })

  it('corrects a forwarded month exactly once after a back-dated revocation, across passes and a restart', async () => {
    const platform = await aPlatform()
    const clock = aClock('2020-10-05T02:00:00Z')
    const dataDir = await tempDir()
    const env = { PLATFORM_URL: platform.url, PLATFORM_SECRET: 'k3y' }
    let fleet = await fleetWith({ dataDir, env, deps: { now: clock.now }, manualClose: true })
    await aCatalog(fleet, { HONEY: { cert: ['2020-01-01'] }, TEA: { cert: ['2020-01-01'] } })
    const cab = await aDatedCabinet(fleet)
    await cab.sell('2020-08-20', [line('HONEY', 500), line('TEA', 500)])
    await cab.sell('2020-09-10', [line('HONEY', 500), line('TEA', 500)])
    await cab.sell('2020-10-01', [line('HONEY', 500), line('TEA', 500)])
    expect(await run(fleet)).toMatchObject({ queued: 2 })

    // Effective today: September is untouched, no correction.
    clock.set('2020-10-06T02:00:00Z')
    await ok(fleet, 'POST', '/api/v1/certificates/CERT-TEA/revoke', { reason: '今日撤销' })
    expect(await run(fleet)).toMatchObject({ corrections: 0 })

    // Back-dated into September (forwarded): exactly one correction, August untouched.
    await ok(fleet, 'POST', '/api/v1/certificates/CERT-HONEY/revoke', { reason: '追溯撤销', effectiveFrom: '2020-09-05' })
    expect(await run(fleet)).toMatchObject({ corrections: 1 })
    expect(await run(fleet)).toMatchObject({ corrections: 0 })
    await fleet.close()
    fleet = await fleetWith({ dataDir, env, deps: { now: clock.now }, manualClose: true })
    onTestFinished(() => fleet.close())
    expect(await run(fleet)).toMatchObject({ corrections: 0, queued: 0 })

    const batches = platform.batches()
    expect(batches.map((b) => b.key).sort()).toEqual([
      `341100-${cab.cabinetId}-2020-08-r0`,
      `341100-${cab.cabinetId}-2020-09-r0`,
      `341100-${cab.cabinetId}-2020-09-r1`,
    ])
    const correction = batches.find((b) => b.kind === 'correction')!
    expect(correction.records[0]).toMatchObject({
      period: { id: '2020-09' }, corrects: `341100-${cab.cabinetId}-2020-09-r0`, revision: 1,
      // TEA's revocation is effective 2020-10-06: still certified in September.
      amountFen: 1000, certifiedAmountFen: 500, shareBp: 5000, compliant: true,
      lines: [{ sku: 'TEA', certificateNo: 'CERT-TEA', supplierUscc: expect.any(String), qty: 1, amountFen: 500 }],
    })
    expect(await status(fleet)).toMatchObject({ sent: 2, corrections: { sent: 1, pending: 0, failed: [] } })
  })

  it('retries 5xx and network errors, counts a 409 as delivered, and lists other 4xx as failed with the platform message', async () => {
    // Every other request fails; half of those after storing (the reply is lost).
    let n = 0
    const flaky = await aPlatform({ failRate: 1, random: () => (n++ % 2 === 0 ? 0.75 : 2) })
    const clock = aClock('2020-10-05T02:00:00Z')
    const fleet = await fleetWith({ env: { PLATFORM_URL: flaky.url, PLATFORM_SECRET: 'k3y' }, deps: { now: clock.now } })
    await aCatalog(fleet, { CERT: { cert: ['2020-01-01'] } })
    const cab = await aDatedCabinet(fleet)
    await cab.sell('2020-09-10', [line('CERT', 100)])
    await cab.sell('2020-10-01', [line('CERT', 100)])
    await run(fleet)
    await expect.poll(async () => (await status(fleet)).sent, { timeout: 10_000 }).toBe(1)
    // First answer 500 after storing; the retry got 409: one batch on the platform.
    expect(flaky.received()).toMatchObject({ batches: 1, duplicatesRejected: 1 })

    const wrongKey = await aPlatform({ secret: 'another-key' })
    const dataDir = await tempDir()
    const f2 = await fleetWith({ dataDir, env: { PLATFORM_URL: wrongKey.url, PLATFORM_SECRET: 'k3y' }, deps: { now: clock.now } })
    await aCatalog(f2, { CERT: { cert: ['2020-01-01'] } })
    const c2 = await aDatedCabinet(f2)
    await c2.sell('2020-09-10', [line('CERT', 100)])
    await c2.sell('2020-10-01', [line('CERT', 100)])
    await run(f2)
    await expect.poll(async () => (await status(f2)).failed, { timeout: 10_000 }).toEqual([
      expect.objectContaining({ cabinetId: c2.cabinetId, period: '2020-09', status: 401, message: expect.stringContaining('BAD_SIGNATURE') }),
    ])
    expect(await status(f2)).toMatchObject({ sent: 0, pending: 0, periods: 1 })
  })

  it('sends a refused batch again when an admin retries it after fixing the cause, and records the retry', async () => {
    const platform = await aPlatform({ secret: 'k3y' })
    const clock = aClock('2020-10-05T02:00:00Z')
    const dataDir = await tempDir()
    // A wrong PLATFORM_SECRET: the platform answers 401 BAD_SIGNATURE, the batch goes to the failed list.
    const wrong = await fleetWith({ dataDir, env: { PLATFORM_URL: platform.url, PLATFORM_SECRET: 'typo' }, deps: { now: clock.now }, manualClose: true })
    await aCatalog(wrong, { CERT: { cert: ['2020-01-01'] } })
    const cab = await aDatedCabinet(wrong)
    await cab.sell('2020-09-10', [line('CERT', 100)])
    await cab.sell('2020-10-01', [line('CERT', 100)])
    await run(wrong)
    await expect.poll(async () => (await status(wrong)).failed.length, { timeout: 10_000 }).toBe(1)
    const batchKey = (await status(wrong)).failed[0]!.batchKey
    await cab.mqtt.close()
    await wrong.close()

    // The operator fixes the secret and restarts; the failed batch stays failed until someone retries it.
    const fleet = await fleetWith({ dataDir, env: { PLATFORM_URL: platform.url, PLATFORM_SECRET: 'k3y' }, deps: { now: clock.now } })
    expect(await status(fleet)).toMatchObject({ sent: 0, pending: 0, failed: [expect.objectContaining({ batchKey, status: 401 })] })
    const county = await ok<{ token: string }>(fleet, 'POST', '/api/v1/users', { username: 'dy', role: 'county', countyCode: '341125' })
    expect((await api(fleet, 'POST', `/api/v1/forwarding/failed/${batchKey}/retry`, undefined, county.token)).status).toBe(403)
    const unknown = await api<{ error: { code: string } }>(fleet, 'POST', '/api/v1/forwarding/failed/NOPE-r0/retry')
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'FORWARDING_BATCH_NOT_FOUND'])

    const retried = await ok(fleet, 'POST', `/api/v1/forwarding/failed/${batchKey}/retry`, undefined, 200)
    expect(retried).toMatchObject({ batchKey, state: 'pending', retriedBy: 'admin', previousStatus: 401, previousMessage: expect.stringContaining('BAD_SIGNATURE') })
    await expect.poll(async () => (await status(fleet)).sent, { timeout: 10_000 }).toBe(1)
    expect(await status(fleet)).toMatchObject({ pending: 0, failed: [], periods: 1 })
    expect(platform.batches().map((b) => b.key)).toEqual([batchKey])
    // Delivered now, so not failed: a second retry is refused; the next pass queues nothing twice.
    const again = await api<{ error: { code: string } }>(fleet, 'POST', `/api/v1/forwarding/failed/${batchKey}/retry`)
    expect([again.status, again.body.error.code]).toEqual([409, 'FORWARDING_BATCH_NOT_FAILED'])
    expect(await run(fleet)).toMatchObject({ queued: 0, corrections: 0 })
    expect(await sqlRows(fleet.database, 'SELECT batch_key, by_user, previous_status FROM forwarding_retries')).toEqual([{ batch_key: batchKey, by_user: 'admin', previous_status: 401 }])
  })

  it('keeps batches queued while PLATFORM_URL is unset, and sends them after a restart with it set', async () => {
    const clock = aClock('2020-10-05T02:00:00Z')
    const dataDir = await tempDir()
    const first = await fleetWith({ dataDir, deps: { now: clock.now }, manualClose: true })
    await aCatalog(first, { CERT: { cert: ['2020-01-01'] } })
    const cab = await aDatedCabinet(first)
    await cab.sell('2020-09-10', [line('CERT', 100)])
    await cab.sell('2020-10-01', [line('CERT', 100)])
    expect(await run(first)).toMatchObject({ queued: 1 })
    expect(await status(first)).toMatchObject({ sent: 0, pending: 1, platformConfigured: false })
    await cab.mqtt.close()
    await first.close()

    const platform = await aPlatform()
    const second = await fleetWith({ dataDir, env: { PLATFORM_URL: platform.url, PLATFORM_SECRET: 'k3y' }, deps: { now: clock.now } })
    await expect.poll(async () => (await status(second)).sent).toBe(1)
    const batch: { key: string; records: PlatformBatch['records'] } = platform.batches()[0]!
    expect(batch.key).toBe(`341100-${cab.cabinetId}-2020-09-r0`)
  })

  it('lets a county user see only its own held periods', async () => {
    const fleet = await fleetWith({ deps: { now: aClock('2020-10-05T02:00:00Z').now } })
    await aCatalog(fleet, { PLAIN: {} })
    const dy = await aDatedCabinet(fleet, { countyCode: '341125' })
    const fy = await aDatedCabinet(fleet, { countyCode: '341126' })
    for (const c of [dy, fy]) {
      await c.sell('2020-09-10', [line('PLAIN', 100)])
      await c.sell('2020-10-01', [line('PLAIN', 100)])
    }
    await run(fleet)
    const county = await ok<{ token: string }>(fleet, 'POST', '/api/v1/users', { username: 'fy', role: 'county', countyCode: '341126' })
    const r = await api<ForwardingReply>(fleet, 'GET', '/api/v1/forwarding', undefined, county.token)
    expect(r.body.held.map((h) => h.cabinetId)).toEqual([fy.cabinetId])
    expect((await api(fleet, 'POST', '/api/v1/forwarding/run', undefined, county.token)).status).toBe(403)
  })
})
