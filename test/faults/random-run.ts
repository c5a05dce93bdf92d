// The longer, seeded, randomized fault run (npm run test:faults; bench/faults.ts):
// one world of real processes, then round after round a random mix of the
// scenarios' faults over several agents, each round closed by the full
// invariant check. The same seed draws the same faults in the same order
// (timing on a busy machine still varies what they hit).
import { agentKills, diskFull, networkFaults, platformFaults, randomNetworkFaults, sellLastMonth, serverKills } from './scenarios.js'
import { dataDirOn, mountSmallDisk, type SmallDisk } from './small-disk.js'
import { PLATFORM_ALL_BAD_ANSWER_ARGS, settleAndCheck, startWorld, type Counts, type PlatformFaults, type World } from './world.js'

export interface RandomRunOptions {
  seed: string
  /** Stop starting rounds after this long, ms. */
  durationMs: number
  /** At most this many rounds (whichever comes first). */
  maxRounds?: number
  agents?: number
  platform?: PlatformFaults
  /** Progress lines (stderr in the CLI). */
  log?: (line: string) => void
}

export interface RandomRunResult {
  seed: string
  passed: number
  failed: number
  failures: Array<{ round: number; faults: string[]; problems: string[] }>
  counts: Counts
  faults: Record<string, number>
}

type Step = 'network' | 'server-kill' | 'agent-kill' | 'platform' | 'disk-full'

export async function runRandomFaults(opts: RandomRunOptions): Promise<RandomRunResult> {
  const log = opts.log ?? (() => undefined)
  // Bigger than the suite's: the disk agent keeps selling in every round, and its
  // ledger must not fill the disk by itself before the run ends (tmpfs costs memory only when filled).
  const mounted = mountSmallDisk(64)
  const disk: SmallDisk | null = 'unavailable' in mounted ? null : mounted
  if (!disk) log(`edge disk full is left out: ${(mounted as { unavailable: string }).unavailable}`)
  const agents = opts.agents ?? 4
  const diskAgent = agents - 1
  let world: World | null = null
  const result: RandomRunResult = {
    seed: opts.seed, passed: 0, failed: 0, failures: [],
    counts: { scenarios: 0, faultsInjected: 0, salesAcknowledged: 0, salesLost: 0, salesDuplicated: 0, forwardedUnacknowledged: 0 },
    faults: {},
  }
  try {
    world = await startWorld({
      seed: opts.seed,
      agents,
      platform: opts.platform ?? { failRate: 0.3, latencyMs: 20, extraArgs: PLATFORM_ALL_BAD_ANSWER_ARGS },
      agentDataDir: (i, fallback) => (i === diskAgent && disk ? dataDirOn(disk, `agent-${i}`) : fallback),
    })
    const w = world
    const { random } = w
    const steps: Step[] = ['network', 'server-kill', 'agent-kill', 'platform', ...(disk ? (['disk-full'] as const) : [])]
    const started = Date.now()
    for (let round = 1; Date.now() - started < opts.durationMs && round <= (opts.maxRounds ?? Infinity); round++) {
      const chosen: Step[] = Array.from({ length: 1 + Math.floor(random() * 3) }, () => steps[Math.floor(random() * steps.length)]!)
      log(`round ${round}: ${chosen.join(', ')}`)
      let injected = 0
      let problems: string[] = []
      try {
        // Last month's trade in every round keeps forwarding busy: reports, then corrections.
        await sellLastMonth(w, 1 + Math.floor(random() * 3))
        for (const step of chosen) {
          // The disk-full agent is left out of kills: its own step is the fault it is there for.
          const killable = w.agents.filter((a) => !disk || a.index !== diskAgent)
          if (step === 'network') injected += await networkFaults(w, randomNetworkFaults(w, 1 + Math.floor(random() * 3)), { holdMs: 300 + Math.floor(random() * 900) })
          else if (step === 'server-kill') injected += await serverKills(w, 1, { salesPerAgent: 10 + Math.floor(random() * 30) })
          else if (step === 'agent-kill') injected += await agentKills(w, killable.filter(() => random() < 0.6).slice(0, 3), 1)
          else if (step === 'platform') injected += await platformFaults(w)
          // A 64 MiB ledger disk can hold enough reusable WAL space that a few hundred sales still fit: try longer, and count a fill that never bit apart instead of failing the round.
          else if (disk) injected += (await diskFull(w, w.agents[diskAgent]!, disk, { maxSales: 1500, mayStayUnfilled: true })).faults
        }
        const v = await settleAndCheck(w, 120_000)
        problems = v.problems
        result.counts.salesAcknowledged = v.salesAcknowledged // cumulative over the run: the last check holds them all
        result.counts.salesLost = Math.max(result.counts.salesLost, v.salesLost)
        result.counts.salesDuplicated = Math.max(result.counts.salesDuplicated, v.salesDuplicated)
        result.counts.forwardedUnacknowledged = Math.max(result.counts.forwardedUnacknowledged, v.forwardedUnacknowledged)
      } catch (err) {
        problems = [`round failed: ${(err as Error).message}`]
      }
      result.counts.scenarios++
      result.counts.faultsInjected += injected
      if (problems.length === 0) result.passed++
      else {
        result.failed++
        result.failures.push({ round, faults: chosen, problems })
        log(`round ${round} FAILED (seed ${opts.seed}): ${problems.join('; ')}`)
        // A failed settle may leave the world in any state; later rounds would only repeat the noise.
        if (problems.some((p) => p.startsWith('round failed'))) break
      }
    }
    result.faults = Object.fromEntries(w.faults)
  } finally {
    await world?.close()
    disk?.unmount()
  }
  return result
}
