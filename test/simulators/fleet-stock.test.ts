// The simulator's stock and telemetry (issue 16 §8): `npm run simulate -- --stock --telemetry` against a
// real fleet server. Each cabinet gets a planogram and is filled at
// installation, sales name their slot, low slots run out and get restocked
// (by staff at the cabinet and from the operator's dashboard), through an
// outage and a crash; after the drain every cabinet's stock on the server is
// its ledger's; the agents' readings reach the server. Then the same
// comparison must notice a cabinet that differs.
import { describe, expect, it } from 'vitest'
import { httpClient } from '../../simulators/src/fleet/provision.js'
import type { FleetSummary } from '../../simulators/src/fleet/run.js'
import { judgeStock, planogramOf, SLOT_OF_SKU, type AgentStock } from '../../simulators/src/fleet/stock.js'
import { SIM_CATALOG } from '../../simulators/src/fleet/model.js'
import { parseFlags } from '../../simulators/src/fleet/main.js'
import { incidentsOf, readingIntervalMs } from '../../simulators/src/fleet/telemetry.js'
import { api, startFleet, tempDir } from '../helpers/fleet.js'
import { startProgram } from '../helpers/process.js'

describe('npm run simulate -- --stock --telemetry', () => {
  it('draws the same planogram for the same seed: a slot per catalog SKU, par within capacity', () => {
    const p = planogramOf('s', 'SIM-1')
    expect(planogramOf('s', 'SIM-1')).toEqual(p)
    expect(p.map((x) => x.sku)).toEqual(SIM_CATALOG.map((c) => c.sku))
    for (const x of p) {
      expect(x.slot).toBe(SLOT_OF_SKU.get(x.sku))
      expect(x.capacity).toBeGreaterThanOrEqual(4)
      expect(x.par).toBeLessThanOrEqual(x.capacity)
      expect(x.par).toBeGreaterThan(0)
    }
    expect(parseFlags(['--token', 't', '--stock', '--telemetry'], {})).toMatchObject({ stock: true, telemetry: true })
    expect(parseFlags(['--token', 't'], {})).toMatchObject({ stock: false, telemetry: false })
  })

  it('caps readings at the field\'s rate and draws the same incidents for the same seed', () => {
    // 2,700 cabinets at a day per minute: the field's 45 readings a second means one per cabinet per virtual day.
    expect(readingIntervalMs(2_700, 1_440)).toBe(86_400_000)
    expect(readingIntervalMs(10, 1)).toBe(60_000)
    expect(readingIntervalMs(12, 17_280)).toBe(4_608_000)
    const start = Date.parse('2020-10-12T00:00:00+08:00')
    const all = Array.from({ length: 200 }, (_, i) => incidentsOf('s', `SIM-${i}`, start, 10)).flat()
    expect(Array.from({ length: 200 }, (_, i) => incidentsOf('s', `SIM-${i}`, start, 10)).flat()).toEqual(all)
    const cooling = all.filter((x) => x.kind === 'cooling')
    expect(cooling.length).toBeGreaterThan(0)
    for (const x of cooling) expect(x.to - x.from).toBe(3_600_000)
    expect(all.filter((x) => x.kind === 'fault').every((x) => x.module === 'payment' || x.module === 'vending')).toBe(true)
  })

  it('restocks low slots by both paths, sees stock-outs, and ends with every cabinet\'s server stock equal to its ledger\'s', async () => {
    const fleet = await startFleet()
    const data = await tempDir('sim-stock-')
    const sim = await startProgram('simulators/src/fleet/main.ts', [
      '--http', fleet.httpUrl, '--mqtt', fleet.mqttUrl, '--token', fleet.adminToken, '--data', data, '--workers', '1',
      '--cabinets', '12', '--days', '3', '--speed', '17280', '--seed', 'ci-stock', '--outage-rate', '0.3', '--city-outage', '30:3',
      '--crash-rate', '0.5', '--drain-timeout', '30', '--no-settle', '--stock', '--telemetry',
    ], { readyTimeoutMs: 60_000 })
    const code = await sim.exited
    const summary = JSON.parse(sim.lines.at(-1)!) as FleetSummary
    const stock = summary.stock!
    expect(summary, sim.stderr().slice(-3000)).toMatchObject({ event: 'summary', isOk: true, sales: { missing: 0, duplicates: 0 } })
    expect(stock, JSON.stringify(stock.problems)).toMatchObject({ cabinets: 12, mismatches: 0, problems: [] })
    expect(code).toBe(0)
    expect(stock.stockOuts).toBeGreaterThan(0)
    expect(stock.restocksLocal).toBeGreaterThan(0)
    expect(stock.restocksRemote).toBeGreaterThan(0)
    expect(stock.restocks).toBe(stock.restocksLocal + stock.restocksRemote)
    // Readings: at most one per cabinet per 77 virtual minutes over 3 days (~670), fewer through outages, the crash, and a loaded worker skipping those it is late for.
    expect(summary.telemetry).toMatchObject({ readingIntervalMs: 4_608_000 })
    expect(summary.telemetry!.readings).toBeGreaterThan(12)
    expect(summary.telemetry!.alertsOpen).toBeLessThanOrEqual(summary.telemetry!.alertsRaised)

    // What the server shows is a cabinet that sold and was restocked: some slots below capacity, the planogram applied.
    const cabinetId = (await api<{ cabinets: Array<{ cabinetId: string }> }>(fleet, 'GET', '/api/v1/cabinets')).body.cabinets[0]!.cabinetId
    const g = await api<{ rev: number; slots: AgentStock['slots']; planogram: { state: string } }>(fleet, 'GET', `/api/v1/cabinets/${cabinetId}/stock`)
    expect(g.body.planogram.state).toBe('done')
    expect(g.body.slots).toHaveLength(SIM_CATALOG.length)
    expect(g.body.rev).toBeGreaterThan(1)
    const t = await api<{ latest: { temperatureC: number | null } | null }>(fleet, 'GET', `/api/v1/cabinets/${cabinetId}/telemetry`)
    expect(t.status).toBe(200)
    expect(t.body.latest?.temperatureC).toEqual(expect.any(Number))

    // The comparison notices a ledger that differs from the server, and a rev the server never got.
    const http = httpClient(fleet.httpUrl, fleet.adminToken)
    const same: AgentStock = { cabinetId, rev: g.body.rev, slots: g.body.slots.map(({ slot, sku, capacity, par, qty, oversold }) => ({ slot, sku, capacity, par, qty, oversold })) }
    expect(await judgeStock(http, [same], 1_000)).toMatchObject({ mismatches: 0 })
    const offByOne = { ...same, slots: same.slots.map((s, i) => (i === 0 ? { ...s, qty: s.qty + 1 } : s)) }
    expect(await judgeStock(http, [offByOne], 1_000)).toMatchObject({ mismatches: 1, problems: [{ cabinetId, problem: expect.stringMatching(/slots differ/) }] })
    expect(await judgeStock(http, [{ ...same, rev: same.rev + 1 }], 500)).toMatchObject({ mismatches: 1, problems: [{ problem: expect.stringMatching(/rev/) }] })
  }, 120_000)
})
