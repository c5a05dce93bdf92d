// The simulator end to end: a real fleet server forwarding to the platform
// stand-in, `npm run simulate` as a child process with its worker processes of
// real edge agents, outages, a city-wide outage, worker crashes and skewed
// clocks; its verdict must find every sale stored exactly once, time the drain
// from the fleet-wide reconnect, and account for every forwarding period. Then
// the same verdict must notice sales the server does not have.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { pino } from 'pino'
import { describe, expect, it, onTestFinished } from 'vitest'
import { judge, type ForwardingVerdict } from '../../simulators/src/fleet/verdict.js'
import { buildPlatform } from '../../simulators/src/platform/app.js'
import { httpClient } from '../../simulators/src/fleet/provision.js'
import type { FleetSummary } from '../../simulators/src/fleet/run.js'
import { startFleet, tempDir } from '../helpers/fleet.js'
import { freePort, startProgram } from '../helpers/process.js'

describe('npm run simulate', () => {
  it('runs 50 agents for 2 virtual days through outages and crashes, and its verdict finds nothing missing or duplicated', async () => {
    const platform = await buildPlatform({ failRate: 0, latencyMs: 0, secret: null, storePath: null, logger: pino({ level: 'silent' }) })
    await platform.app.listen({ port: 0, host: '127.0.0.1' })
    onTestFinished(() => platform.app.close())
    const fleet = await startFleet({ PLATFORM_URL: `http://127.0.0.1:${(platform.app.server.address() as AddressInfo).port}/intake` })
    const data = await tempDir('sim-')
    // Lists, as for a cluster (issue 14): the first replica and broker are
    // down for the whole run, so API calls and every agent's dialing fail over.
    const dead = await freePort()
    const sim = await startProgram('simulators/src/fleet/main.ts', [
      '--http', `http://127.0.0.1:${dead},${fleet.httpUrl}`, '--mqtt', `mqtt://127.0.0.1:${dead},${fleet.mqttUrl}`, '--token', fleet.adminToken, '--data', data,
      '--cabinets', '50', '--days', '2', '--speed', '17280', '--seed', 'ci-1',
      '--outage-rate', '0.3', '--city-outage', '30:4', '--crash-rate', '1', '--clock-skew', '0.1', '--drain-timeout', '30',
    ], { readyTimeoutMs: 30_000 })
    const code = await sim.exited
    const summary = JSON.parse(sim.lines.at(-1)!) as FleetSummary
    expect(summary.event).toBe('summary')
    expect(summary, sim.stderr().slice(-2000)).toMatchObject({ isOk: true, cabinets: 50, haltedAgents: 0, drain: { isDrained: true } })
    expect(summary.sales.checkedBy).toBe('sale-ids')
    expect(summary.sales.generated).toBeGreaterThan(3000)
    expect(summary.sales).toMatchObject({ acknowledged: summary.sales.generated, stored: summary.sales.generated, missing: 0, duplicates: 0 })
    expect(summary.faults.crashes).toBeGreaterThanOrEqual(1)
    expect(summary.faults.outages).toBeGreaterThan(5)
    expect(summary.faults.skewedCabinets).toBeGreaterThan(0)
    expect(summary.compliance.drawnBelowHalf).toBeGreaterThan(0)
    expect(code).toBe(0)

    // The drain is timed from the fleet-wide reconnect: connecting comes first, and it is not instant.
    const { drain } = summary
    expect(drain.connectedMs).toBeGreaterThan(0)
    expect(drain.drainedMs).toBeGreaterThanOrEqual(drain.connectedMs!)
    expect(drain.backlogSales).toBeGreaterThan(0)

    // Settled past the month's end, every agent heartbeated; the sync gate no longer holds anything,
    // compliant months went to the platform, and every judged period is accounted for once.
    expect(summary.settle).toMatchObject({ heartbeats: 50, disconnected: 0 })
    const fwd = summary.forwarding as ForwardingVerdict
    expect(fwd, JSON.stringify(fwd)).toMatchObject({ isReconciled: true, pending: 0, failed: 0, platformConfigured: true })
    expect(fwd.heldByReason.INCOMPLETE_SYNC ?? 0).toBe(0)
    expect(fwd.heldByReason.NOT_COMPLIANT).toBeGreaterThan(0)
    expect(fwd.sent).toBeGreaterThan(0)
    expect(fwd.sent + fwd.held).toBe(fwd.judged)
    expect(platform.received().batches).toBe(fwd.sent + (fwd.corrections?.sent ?? 0))

    // The same verdict against ledgers that claim three sales more than the server holds.
    const cabinetId = (JSON.parse(await readFile(join(data, 'fleet.json'), 'utf8')) as { cabinets: Array<{ cabinetId: string }> }).cabinets[0]!.cabinetId
    const g = await fetch(`${fleet.httpUrl}/api/v1/cabinets/${cabinetId}`, { headers: { authorization: `Bearer ${fleet.adminToken}` } })
    const count = ((await g.json()) as { sales: { count: number } }).sales.count
    const verdict = await judge(httpClient(fleet.httpUrl, fleet.adminToken), [{ cabinetId, baseSeq: 0, lastSeq: count + 3, lastAckedSeq: count, isHalted: false, certifiedShare: 0.6, clockSkewMs: 0 }], {
      seed: 'ci-1', startMs: 0, days: 1, verifyIds: false, certifiedMean: 0.65, clockSkewRate: 0, cabinets: [],
    })
    expect(verdict).toMatchObject({ isOk: false, sales: { missing: 3, duplicates: 0 } })
  })
})
