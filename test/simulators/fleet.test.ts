// The simulator end to end: a real fleet server, `npm run simulate` as a
// child process with its worker processes of real edge agents, outages, a
// city-wide outage, worker crashes and skewed clocks; its verdict must find
// every sale stored exactly once. Then the same verdict must notice sales the
// server does not have.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { judge } from '../../simulators/src/fleet/verdict.js'
import { httpClient } from '../../simulators/src/fleet/provision.js'
import type { FleetSummary } from '../../simulators/src/fleet/run.js'
import { startFleet, tempDir } from '../helpers/fleet.js'
import { startProgram } from '../helpers/process.js'

describe('npm run simulate', () => {
  it('runs 50 agents for 2 virtual days through outages and crashes, and its verdict finds nothing missing or duplicated', async () => {
    const fleet = await startFleet()
    const data = await tempDir('sim-')
    const sim = await startProgram('simulators/src/fleet/main.ts', [
      '--http', fleet.httpUrl, '--mqtt', fleet.mqttUrl, '--token', fleet.adminToken, '--data', data,
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
