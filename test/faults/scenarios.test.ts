// The fault-injection scenarios of issue 12, short enough for `npm test`: one
// world of real processes (fleet server, platform stand-in, three edge
// agents, one of them on a small disk) behind fault proxies. After each
// scenario: every sale answered 201 is on the server exactly once, chains
// verify, and the platform holds exactly what the server says it forwarded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { recordTrustCounts } from '../helpers/trust-counts.js'
import { agentKills, diskFull, NETWORK_FAULTS, networkFaults, platformFaults, sellLastMonth, serverKills } from './scenarios.js'
import { dataDirOn, mountSmallDisk, type SmallDisk } from './small-disk.js'
import { PLATFORM_BAD_ANSWER_ARGS, settleAndCheck, startWorld, type Verdict, type World } from './world.js'

// A verdict covers the whole world so far; the counts record each scenario's share.
let counted = { salesAcknowledged: 0, salesLost: 0, salesDuplicated: 0, forwardedUnacknowledged: 0 }

function expectSound(v: Verdict, faultsInjected: number): void {
  const now = { salesAcknowledged: v.salesAcknowledged, salesLost: v.salesLost, salesDuplicated: v.salesDuplicated, forwardedUnacknowledged: v.forwardedUnacknowledged }
  recordTrustCounts('faults', {
    scenarios: 1, faultsInjected,
    ...Object.fromEntries(Object.entries(now).map(([k, n]) => [k, Math.max(0, n - counted[k as keyof typeof counted])])),
  })
  counted = now
  expect(v.problems).toEqual([])
  expect([v.salesLost, v.salesDuplicated, v.forwardedUnacknowledged]).toEqual([0, 0, 0])
}

// Generous: a loaded 2-core machine; the platform's retries back off for seconds.
describe('fault injection with real processes', { timeout: 150_000 }, () => {
  let world: World
  // Kept so afterAll can close a world whose start outlived beforeAll's timeout (no orphaned processes).
  let starting: Promise<World> | null = null
  let disk: SmallDisk | null = null
  let noDisk = ''
  beforeAll(async () => {
    // A real small disk for (e): a 4 MiB tmpfs (root only).
    const mounted = mountSmallDisk(4)
    if ('unavailable' in mounted) noDisk = mounted.unavailable
    else disk = mounted
    world = await (starting = startWorld({
      seed: 'faults-suite',
      agents: 3,
      platform: { failRate: 0.3, latencyMs: 20, extraArgs: PLATFORM_BAD_ANSWER_ARGS },
      // Agent 2 keeps its ledger on the small disk (when one can be mounted).
      agentDataDir: (i, fallback) => (i === 2 && disk ? dataDirOn(disk, 'agent-2') : fallback),
    }))
  }, 240_000)
  afterAll(async () => {
    await (await starting?.catch(() => null))?.close()
    disk?.unmount()
  })

  it('(a) loses and doubles nothing through latency, stalls, cuts, a black hole and a trickle on the cabinets’ link', async () => {
    await sellLastMonth(world, 4)
    const faults = await networkFaults(world, NETWORK_FAULTS)
    const v = await settleAndCheck(world)
    expectSound(v, faults)
    expect(v.forwarded.sent + v.forwarded.held).toBe(3) // last month: each cabinet judged once
    expect(v.forwarded.sent).toBeGreaterThan(0)
  })

  it('(b) after a SIGKILL of the fleet server mid-ingest and a restart on its data, holds each acknowledged sale once', async () => {
    const faults = await serverKills(world, 1)
    expectSound(await settleAndCheck(world), faults)
  })

  it('(c) after SIGKILLs of agents mid-sale, restarted on their ledgers, loses and doubles nothing', async () => {
    const faults = await agentKills(world, world.agents.slice(0, 2), 1)
    expectSound(await settleAndCheck(world), faults)
  })

  it('(d) forwards each cabinet-period once through a failing, stalled, killed and cut-off platform', async () => {
    // Its late trade for last month gives the periods (a) sent corrections, sent through the faults too.
    const faults = await platformFaults(world)
    const v = await settleAndCheck(world)
    expectSound(v, faults)
    expect(v.forwarded.corrections).toBeGreaterThan(0)
  })

  it('(e) refuses sales with a 5xx and records nothing while the edge disk is full, and sells again once space is back', async (ctx) => {
    if (!disk) return ctx.skip(noDisk)
    const r = await diskFull(world, world.agents[2]!, disk!)
    expect(r.refused).toBeGreaterThan(0)
    expectSound(await settleAndCheck(world), r.faults)
  })
})
