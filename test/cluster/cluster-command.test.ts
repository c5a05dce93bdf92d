// `npm run cluster` (issue 14) as an operator runs it: a real npm process in
// its own process group, 3 NATS nodes, PostgreSQL and 2 fleet-server replicas.
// It prints one ready line, serves the API on every replica and MQTT on every
// node, stops every child on SIGTERM to its group, and a second start on the
// same --data dir comes back with the same cabinets, token and identity.
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createNatsIdentity, parseNatsIdentityFile } from '../../fleet-server/src/nats/index.js'
import { apiClient, provisionCabinet } from '../helpers/api.js'
import { tempDir } from '../helpers/fleet.js'
import { connectMqtt, NO_NATS_SERVER } from '../helpers/nats.js'
import { startNpmScript, type NpmScript } from '../helpers/process-group.js'

const READY_TIMEOUT_MS = 150_000 // a fresh 3-node cluster, initdb and 2 replicas on a loaded 2-core box; ~15 s normally
const STOP_WITHIN_MS = 15_000

const Ready = z.strictObject({
  event: z.literal('ready'),
  http: z.array(z.url({ protocol: /^http$/ })),
  mqtt: z.array(z.url({ protocol: /^mqtt$/ })),
  token: z.string().min(32),
  pids: z.strictObject({ nats: z.array(z.number().int().positive()), replicas: z.array(z.number().int().positive()), postgres: z.number().int().positive() }),
})
type Ready = z.infer<typeof Ready>

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const allPids = (r: Ready): number[] => [...r.pids.nats, ...r.pids.replicas, r.pids.postgres]

async function startCluster(args: string[]): Promise<{ npm: NpmScript; ready: Ready }> {
  const npm = await startNpmScript('cluster', args, { LOG_LEVEL: 'info' }, READY_TIMEOUT_MS)
  return { npm, ready: Ready.parse(npm.ready) }
}

/** SIGTERM to the group, as Ctrl-C or a supervisor would: npm exits 0 and no child of the cluster is left. */
async function stopCluster({ npm, ready }: { npm: NpmScript; ready: Ready }): Promise<void> {
  expect(npm.signalGroup('SIGTERM')).toBe(true)
  expect(await npm.exited).toBe(0)
  await expect.poll(() => allPids(ready).filter(isAlive), { timeout: STOP_WITHIN_MS, interval: 100 }).toEqual([])
  // Only the ready line on stdout.
  expect(npm.lines).toHaveLength(1)
}

describe.skipIf(NO_NATS_SERVER)('npm run cluster (issue 14)', () => {
  it('starts 3 NATS nodes, PostgreSQL and 2 replicas, stops them all on SIGTERM, and comes back from --data with the same cabinets', async () => {
    const dir = await tempDir('cluster-command-')
    const first = await startCluster(['--nats', '3', '--replicas', '2', '--data', dir])
    const { ready } = first
    expect(ready.http).toHaveLength(2)
    expect(ready.mqtt).toHaveLength(3)
    expect(ready.pids.nats).toHaveLength(3)
    expect(ready.pids.replicas).toHaveLength(2)
    expect(new Set(allPids(ready)).size).toBe(6)
    for (const url of ready.http) expect((await fetch(new URL('/healthz', url))).status).toBe(200)

    // Provisioned through one replica, seen from the other: one PostgreSQL behind both.
    const cab = await provisionCabinet(apiClient(ready.http[0]!, ready.token), { countyCode: '341181', siteName: '天长市汽车站', venueType: '车站' })
    const seen = await apiClient(ready.http[1]!, ready.token).get<{ cabinetId: string }>(`/api/v1/cabinets/${cab.cabinetId}`)
    expect(seen.status).toBe(200)
    expect(seen.body.cabinetId).toBe(cab.cabinetId)

    // A cabinet's credentials, issued from the cluster's identity file, open an MQTT session on a node.
    const identity = createNatsIdentity(parseNatsIdentityFile(JSON.parse(await readFile(join(dir, 'identity.json'), 'utf8'))))
    const user = await identity.issueCabinetUser(cab.cabinetId)
    const client = await connectMqtt(ready.mqtt[1]!, cab.cabinetId, user.jwt)
    expect(client.connected).toBe(true)
    await client.endAsync()

    await stopCluster(first)

    const second = await startCluster(['--nats', '3', '--replicas', '2', '--data', dir])
    expect(second.ready.token).toBe(ready.token)
    const again = await apiClient(second.ready.http[1]!, second.ready.token).get<{ cabinetId: string }>(`/api/v1/cabinets/${cab.cabinetId}`)
    expect(again.status).toBe(200)
    // Same identity: the credentials issued before the restart still connect.
    const back = await connectMqtt(second.ready.mqtt[0]!, cab.cabinetId, user.jwt)
    await back.endAsync()
    await stopCluster(second)
  })

  it('without --data works in a temp dir it removes on stop', async () => {
    const run = await startCluster(['--nats', '1', '--replicas', '1'])
    expect(run.ready.mqtt).toHaveLength(1)
    expect(run.ready.http).toHaveLength(1)
    const started = run.npm
      .stderr()
      .split('\n')
      .map((l) => (l.startsWith('{') ? (JSON.parse(l) as { msg?: string; dir?: string }) : {}))
      .find((l) => l.msg === 'starting cluster')
    expect(started?.dir).toMatch(/fupin-cluster-/)
    expect(existsSync(join(started!.dir!, 'identity.json'))).toBe(true)
    await stopCluster(run)
    expect(existsSync(started!.dir!)).toBe(false)
  })

  it('refuses a --data dir made for another number of NATS nodes, in Chinese first', async () => {
    const dir = await tempDir('cluster-command-')
    await stopCluster(await startCluster(['--nats', '1', '--replicas', '1', '--data', dir]))
    await expect(startCluster(['--nats', '3', '--data', dir])).rejects.toThrow(/数据目录（--data）与本次启动参数不符.*CLUSTER_DATA_INVALID.*start it with --nats 1/s)
  })
})
