// The fault scenarios, as plain functions over a World, so the short suite
// (scenarios.test.ts), the seeded randomized run (run.ts) and the bench share
// them. Each injects its faults while the cabinets sell and returns how many
// it injected; the invariants are checked afterwards by settleAndCheck.
// Random choices come from world.random (seeded), never Math.random.
import { lastMonthNoon, waitUntil, type World, type WorldAgent } from './world.js'
import type { SmallDisk } from './small-disk.js'
import type { ProxyFault } from '../helpers/tcp-proxy.js'

export class ScenarioError extends Error {
  override name = 'ScenarioError'
}

function check(cond: boolean, message: string): void {
  if (!cond) throw new ScenarioError(message)
}

const pick = <T>(random: () => number, xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!
const between = (random: () => number, lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1))
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Trade dated last month, so forwarding has an ended period to judge and send. */
export async function sellLastMonth(world: World, perAgent: number, agents: readonly WorldAgent[] = world.agents): Promise<void> {
  await Promise.all(agents.map((a) => world.sell(a, perAgent, { soldAt: lastMonthNoon })))
}

async function pendingOf(agent: WorldAgent): Promise<number> {
  return (await agent.status()).pending
}

export type NetworkFaultKind = 'latency' | 'drop' | 'cut' | 'blackhole' | 'trickle'
export const NETWORK_FAULTS: readonly NetworkFaultKind[] = ['latency', 'drop', 'cut', 'blackhole', 'trickle']

/**
 * (a) The cabinets' link to the broker fails in the given ways, one after
 * another, while they sell; each fault is held for holdMs (the fault's
 * duration, not a wait for a result). A stall or a black hole must really
 * stop sync: the sales made through it are still pending when it ends.
 */
export async function networkFaults(world: World, kinds: readonly NetworkFaultKind[], opts: { salesPerAgent?: number; holdMs?: number } = {}): Promise<number> {
  const { random } = world
  for (const kind of kinds) {
    if (kind === 'cut') world.mqttProxy.cut()
    else {
      const fault: ProxyFault = kind === 'latency' ? { kind, ms: between(random, 50, 250), jitterMs: between(random, 0, 150) }
        : kind === 'trickle' ? { kind, bytesPerSec: between(random, 500, 4_000) }
        : { kind }
      world.mqttProxy.set(fault)
    }
    world.injected(`network-${kind}`)
    await Promise.all([...world.agents.map((a) => world.sell(a, opts.salesPerAgent ?? 5)), pause(opts.holdMs ?? 700)])
    if (kind === 'drop' || kind === 'blackhole') {
      const stuck = await Promise.all(world.agents.map(pendingOf))
      check(stuck.some((n) => n > 0), `under ${kind} the agents still synced everything (pending ${stuck.join(',')}): the fault did not bite`)
    }
    world.mqttProxy.heal()
  }
  return kinds.length
}

/** (b) SIGKILL the fleet server once it has taken some of the sales being made, `times` times; restart it on the same data. */
export async function serverKills(world: World, times: number, opts: { salesPerAgent?: number } = {}): Promise<number> {
  const [first] = world.agents
  check(first !== undefined, 'serverKills needs an agent')
  for (let i = 0; i < times; i++) {
    const base = (await first!.status()).lastAckedSeq
    const selling = Promise.all(world.agents.map((a) => world.sell(a, opts.salesPerAgent ?? 30, { concurrency: 3 })))
    // Mid-ingest: the server has committed some of this burst and more is on the way.
    await waitUntil('the server to commit part of the burst', async () => (await first!.status()).lastAckedSeq > base + between(world.random, 1, 5), 30_000, 20)
    await world.restartServer('SIGKILL')
    world.injected('server-sigkill')
    await selling
  }
  return times
}

/** (c) SIGKILL each given agent with sales in flight, `times` times; restart it on its ledger. */
export async function agentKills(world: World, agents: readonly WorldAgent[], times: number): Promise<number> {
  let kills = 0
  for (let i = 0; i < times; i++) {
    await Promise.all(agents.map(async (a) => {
      const before = a.acked.length
      const after = between(world.random, 3, 12)
      const selling = world.sell(a, 1_000, { concurrency: 4 })
      await waitUntil('the agent to answer a few sales', async () => a.acked.length > before + after, 30_000, 5)
      await a.kill('SIGKILL')
      kills++
      world.injected('agent-sigkill')
      await selling
      await a.start()
    }))
  }
  return kills
}

/**
 * (d) Late trade for last month is synced while the platform's link is
 * stalled, so whichever pass sends it (ours, or the server's own after late
 * sales) is in flight when the platform is SIGKILLed and restarted and the
 * link cut. The platform's own fail-rate and bad answers are set when the
 * world starts (WorldOptions.platform).
 */
export async function platformFaults(world: World, opts: { lateSalesPerAgent?: number } = {}): Promise<number> {
  world.platformProxy.set({ kind: 'drop' })
  world.injected('platform-stall')
  const connectionsBefore = world.platformProxy.stats.connections
  // Late sales change periods already judged (corrections) or not yet sent (reports): there is always something to send.
  await sellLastMonth(world, opts.lateSalesPerAgent ?? 2)
  await waitUntil('every outbox to drain', async () => (await Promise.all(world.agents.map(pendingOf))).every((n) => n === 0), 30_000)
  const run = world.api.post('/api/v1/forwarding/run', undefined)
  await waitUntil('a send to the platform', async () => world.platformProxy.stats.connections > connectionsBefore, 30_000, 10)
  await world.restartPlatform('SIGKILL')
  world.injected('platform-sigkill')
  world.platformProxy.cut()
  world.injected('platform-cut')
  world.platformProxy.heal()
  const r = await run
  check(r.status === 200, `forwarding/run answered ${r.status}`)
  return 3
}

/**
 * (e) The agent's disk fills up: it refuses sales with a 5xx and records
 * nothing for them (its lastSeq does not move), keeps running, and sells
 * again once space is back.
 */
export async function diskFull(world: World, agent: WorldAgent, disk: SmallDisk, opts: { maxSales?: number; mayStayUnfilled?: boolean } = {}): Promise<{ faults: number; refused: number }> {
  disk.fill()
  let refused = 0
  // The ledger's WAL may still have room of its own (SQLite reuses WAL space
  // it allocated before); sell one at a time until the disk says no.
  for (let i = 0; i < (opts.maxSales ?? 400) && refused < 5; i++) {
    const before = (await agent.status()).lastSeq
    const acked = agent.acked.length
    const statusBefore = new Map(agent.refused)
    await world.sell(agent, 1, { concurrency: 1 })
    const after = (await agent.status()).lastSeq
    if (agent.acked.length > acked) {
      check(after === before + 1, `a 201 on a full disk moved lastSeq ${before} → ${after}`)
      continue
    }
    const status = [...agent.refused].find(([s, n]) => n !== (statusBefore.get(s) ?? 0))?.[0]
    check(status !== undefined && status >= 500, `a sale on a full disk was answered ${status}, not a 5xx`)
    check(after === before, `a refused sale moved lastSeq ${before} → ${after}: something was recorded`)
    refused++
  }
  if (refused === 0 && opts.mayStayUnfilled) {
    // Every sale got its 201 and moved lastSeq (checked above): nothing was lost, the fault just did not bite.
    world.injected('disk-full-unreached')
    disk.free()
    return { faults: 0, refused }
  }
  check(refused > 0, 'the disk never filled up: no sale was refused')
  world.injected('disk-full')
  disk.free()
  const acked = agent.acked.length
  await world.sell(agent, 3, { concurrency: 1 })
  check(agent.acked.length === acked + 3, 'the agent did not sell again once space was back')
  return { faults: 1, refused }
}

/** n network faults drawn from the world's seeded random. */
export const randomNetworkFaults = (world: World, n: number): NetworkFaultKind[] => Array.from({ length: n }, () => pick(world.random, NETWORK_FAULTS))
