// Scenario (a): the cabinets' network fails in every way the proxy knows
// while they keep selling; once it heals, nothing acknowledged is lost or
// doubled, chains verify and forwarding reconciles with the platform.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { recordTrustCounts } from '../helpers/trust-counts.js'
import { lastMonthNoon, settleAndCheck, startWorld, type World } from './world.js'

describe('fault scenario: a bad network between cabinets and the broker', () => {
  let world: World
  beforeAll(async () => {
    world = await startWorld({ seed: 'faults-network', agents: 2 })
  })
  afterAll(async () => world?.close())

  it('keeps every acknowledged sale exactly once through latency, stalls, cuts, a black hole and a trickle', async () => {
    const [a, b] = world.agents as [NonNullable<(typeof world.agents)[0]>, NonNullable<(typeof world.agents)[1]>]
    // Last month's trade first, so forwarding has an ended period to send.
    await Promise.all([world.sell(a, 6, { soldAt: lastMonthNoon }), world.sell(b, 6, { soldAt: lastMonthNoon })])
    const faults = [
      () => world.mqttProxy.set({ kind: 'latency', ms: 150, jitterMs: 100 }),
      () => world.mqttProxy.set({ kind: 'drop' }),
      () => world.mqttProxy.cut(),
      () => world.mqttProxy.set({ kind: 'blackhole' }),
      () => world.mqttProxy.set({ kind: 'trickle', bytesPerSec: 2_000 }),
    ]
    for (const [i, fault] of faults.entries()) {
      fault()
      world.injected(['latency', 'drop', 'cut', 'blackhole', 'trickle'][i]!)
      // Sell through the fault and give the agents time to try their uplink through it.
      await Promise.all([world.sell(a, 5), world.sell(b, 5), new Promise((r) => setTimeout(r, 700))])
      if (i === 1 || i === 3) {
        // A stall or a black hole really stops sync: the sales just made are still pending.
        expect((await a.status()).pending).toBeGreaterThan(0)
      }
      world.mqttProxy.heal()
    }
    const v = await settleAndCheck(world)
    recordTrustCounts('faults', { scenarios: 1, faultsInjected: faults.length, salesAcknowledged: v.salesAcknowledged, salesLost: v.salesLost, salesDuplicated: v.salesDuplicated, forwardedUnacknowledged: v.forwardedUnacknowledged })
    expect(v.problems).toEqual([])
    expect(v.salesAcknowledged).toBe(2 * (6 + 5 * faults.length))
    expect(v.forwarded.sent + v.forwarded.held).toBe(2)
    expect(world.mqttProxy.stats.cuts).toBeGreaterThan(0)
  })
})
