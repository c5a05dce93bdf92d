// The spine's crash test on the distributed mode (issue 14): 3 NATS nodes,
// 2 fleet-server replicas (real processes, `npm start`'s program) on one
// PostgreSQL, and an edge agent process SIGKILLed at random points while it
// records a burst of sales. Mid-run one replica is SIGKILLed, and then the
// NATS node leading the sales stream. At the end the surviving replica holds
// every sale the agent answered 201 for, each once, in one intact chain.
import { describe, expect, it, onTestFinished } from 'vitest'
import { burst, expectHeldOnceInChain } from '../helpers/agent-burst.js'
import { allServerSales, apiClient, provisionCabinet } from '../helpers/api.js'
import { tempDir } from '../helpers/fleet.js'
import { NO_NATS_SERVER } from '../helpers/nats.js'
import { clusterServers, startReplica } from '../helpers/cluster-replica.js'
import { startProgram } from '../helpers/process.js'

const ADMIN = 'cluster-crash-admin-token-0123456789'
const CONCURRENCY = 4
const ROUNDS = 6

describe.skipIf(NO_NATS_SERVER)('crash safety on the cluster (issue 14)', () => {
  const servers = clusterServers('cluster_crash')

  it('with a replica and the sales stream\'s leader SIGKILLed mid-run, holds exactly the acknowledged sales once each in an intact chain', async () => {
    const [a, b] = await Promise.all([startReplica(servers.nats, servers.pg, ADMIN), startReplica(servers.nats, servers.pg, ADMIN)])
    const apiB = apiClient(`http://127.0.0.1:${String(b.ready.http)}`, ADMIN)
    const cab = await provisionCabinet(apiClient(`http://127.0.0.1:${String(a.ready.http)}`, ADMIN), { countyCode: '341181', siteName: '天长市汽车站', venueType: '车站' })
    const user = await servers.nats.identity.issueCabinetUser(cab.cabinetId)
    const agentDir = await tempDir('cluster-agent-')
    const agentArgs = ['--cabinet', cab.cabinetId, '--password', user.jwt, '--data', agentDir,
      '--server', servers.nats.cluster.mqttUrls.join(','), '--api-port', '0', '--backoff-min-ms', '50', '--backoff-max-ms', '300', '--ack-timeout-ms', '1500']

    const acknowledged: string[] = []
    let killedLeader = ''
    for (let round = 0; round < ROUNDS; round++) {
      const agent = await startProgram('edge-agent/src/main.ts', agentArgs)
      const killAfterMs = 300 + Math.floor(Math.random() * 700)
      const killed = new Promise<void>((r) => setTimeout(r, killAfterMs)).then(() => agent.kill('SIGKILL'))
      // Mid-round: round 1 loses replica A, round 3 the sales stream's leader node.
      if (round === 1) setTimeout(() => void a.kill('SIGKILL'), killAfterMs / 2)
      if (round === 3) {
        killedLeader = await servers.nats.salesStreamLeader()
        setTimeout(() => void servers.nats.cluster.nodes.find((n) => n.name === killedLeader)!.kill('SIGKILL'), killAfterMs / 2)
      }
      acknowledged.push(...(await burst(Number(agent.ready.api), killed, CONCURRENCY)))
      expect(await agent.exited).toBe('SIGKILL')
    }
    expect(await a.exited).toBe('SIGKILL')
    expect(servers.nats.cluster.nodes.find((n) => n.name === killedLeader)!.isRunning).toBe(false)
    expect(acknowledged.length).toBeGreaterThan(50)

    // A last, clean run drains the outbox through what is left: replica B, two NATS nodes.
    const agent = await startProgram('edge-agent/src/main.ts', agentArgs)
    onTestFinished(() => void agent.kill('SIGKILL'))
    const status = async () => (await (await fetch(`http://127.0.0.1:${String(agent.ready.api)}/status`)).json()) as { lastSeq: number; pending: number }
    await expect.poll(async () => (await status()).pending, { timeout: 60_000, interval: 250 }).toBe(0)
    const { lastSeq } = await status()

    const sales = await allServerSales(apiB, cab.cabinetId)
    expectHeldOnceInChain(cab.cabinetId, sales, lastSeq, acknowledged)
    await agent.kill('SIGTERM')
  })
})
