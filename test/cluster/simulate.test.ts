// The simulator's verdict on the distributed mode (issue 14): `npm run
// simulate` drives 60 real edge agents (with outages and worker crashes)
// through 3 NATS nodes and 2 fleet-server replicas on one PostgreSQL, which
// forward to the platform stand-in. Mid-trade one replica is SIGKILLed, and
// then the NATS node leading the sales stream. The verdict must find every
// sale stored once, every forwarding period accounted for, and each cabinet's
// chain must verify on the surviving replica.
import type { AddressInfo } from 'node:net'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pino } from 'pino'
import { describe, expect, it, onTestFinished } from 'vitest'
import type { ForwardingVerdict } from '../../simulators/src/fleet/verdict.js'
import type { FleetSummary } from '../../simulators/src/fleet/run.js'
import { buildPlatform } from '../../simulators/src/platform/app.js'
import { expectHeldOnceInChain } from '../helpers/agent-burst.js'
import { allServerSales, apiClient } from '../helpers/api.js'
import { tempDir } from '../helpers/fleet.js'
import { NO_NATS_SERVER } from '../helpers/nats.js'
import { clusterServers, startReplica } from '../helpers/cluster-replica.js'
import { startProgram } from '../helpers/process.js'

const ADMIN = 'cluster-simulate-admin-token-0123456789'
const CABINETS = 60

describe.skipIf(NO_NATS_SERVER)('the simulator on the cluster (issue 14)', () => {
  const servers = clusterServers('cluster_simulate')

  it('finds nothing missing or duplicated, every chain intact and forwarding reconciled, with a replica and the stream leader SIGKILLed mid-trade', async () => {
    const platform = await buildPlatform({ failRate: 0, latencyMs: 0, secret: null, storePath: null, logger: pino({ level: 'silent' }) })
    await platform.app.listen({ port: 0, host: '127.0.0.1' })
    onTestFinished(() => platform.app.close())
    const platformUrl = `http://127.0.0.1:${(platform.app.server.address() as AddressInfo).port}/intake`
    const [a, b] = await Promise.all([startReplica(servers.nats, servers.pg, ADMIN, { PLATFORM_URL: platformUrl }), startReplica(servers.nats, servers.pg, ADMIN, { PLATFORM_URL: platformUrl })])
    const http = [a, b].map((r) => `http://127.0.0.1:${String(r.ready.http)}`)

    const data = await tempDir('cluster-sim-')
    const sim = await startProgram('simulators/src/fleet/main.ts', [
      '--http', http.join(','), '--mqtt', servers.nats.cluster.mqttUrls.join(','), '--token', ADMIN, '--data', data,
      '--cabinets', String(CABINETS), '--days', '3', '--speed', '17280', '--seed', 'cluster-1',
      '--outage-rate', '0.2', '--crash-rate', '1', '--drain-timeout', '90',
    ], { readyTimeoutMs: 120_000 })
    onTestFinished(() => void sim.kill('SIGKILL'))

    // Trade runs ~15 s: replica A goes 3 s in, the sales stream's leader 7 s in.
    await new Promise((r) => setTimeout(r, 3_000))
    await a.kill('SIGKILL')
    await new Promise((r) => setTimeout(r, 4_000))
    const leader = await servers.nats.salesStreamLeader()
    await servers.nats.cluster.nodes.find((n) => n.name === leader)!.kill('SIGKILL')

    const code = await sim.exited
    const summary = JSON.parse(sim.lines.at(-1)!) as FleetSummary
    expect(summary, sim.stderr().slice(-3000)).toMatchObject({ event: 'summary', isOk: true, cabinets: CABINETS, haltedAgents: 0, drain: { isDrained: true } })
    expect(summary.sales.checkedBy).toBe('sale-ids')
    expect(summary.sales.generated).toBeGreaterThan(3000)
    expect(summary.sales).toMatchObject({ acknowledged: summary.sales.generated, stored: summary.sales.generated, missing: 0, duplicates: 0 })
    expect(summary.faults.crashes).toBeGreaterThanOrEqual(1)
    const fwd = summary.forwarding as ForwardingVerdict
    expect(fwd, JSON.stringify(fwd)).toMatchObject({ isReconciled: true, pending: 0, failed: 0, platformConfigured: true })
    expect(fwd.sent).toBeGreaterThan(0)
    expect(code).toBe(0)

    // Every cabinet's chain, read back from the surviving replica, links and recomputes.
    const state = JSON.parse(await readFile(join(data, 'fleet.json'), 'utf8')) as { cabinets: Array<{ cabinetId: string }> }
    expect(state.cabinets).toHaveLength(CABINETS)
    const apiB = apiClient(http[1]!, ADMIN)
    for (const { cabinetId } of state.cabinets) {
      const sales = await allServerSales(apiB, cabinetId)
      expectHeldOnceInChain(cabinetId, sales, sales.length, [])
    }
  })
})
