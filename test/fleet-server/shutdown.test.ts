// Shutdown of `npm start` as a supervisor does it (issue 12): signals to the
// whole process group, repeated and mixed, while a platform send hangs and a
// forwarding pass waits on it. Exit 0 with "fleet server closed" within the
// contract's 10 s; the batch stays pending and goes out exactly once after a restart.
import { pino } from 'pino'
import { describe, expect, it, onTestFinished } from 'vitest'
import type { ForwardingReply } from '../../shared/src/index.js'
import { buildPlatform } from '../../simulators/src/platform/app.js'
import { TEST_ADMIN_TOKEN, tempDir } from '../helpers/fleet.js'
import { startNpmScript } from '../helpers/process-group.js'
import { testDatabaseEnv } from '../helpers/test-db.js'
import { aCatalog, aClock, aDatedCabinet, fleetWith, line, ok } from './certification.fixtures.js'

async function aHangingPlatform() {
  const p = await buildPlatform({ failRate: 0, latencyMs: 0, secret: null, storePath: null, logger: pino({ level: 'silent' }), badAnswers: ['hang'] })
  await p.app.listen({ port: 0, host: '127.0.0.1' })
  onTestFinished(() => p.app.close())
  const addr = p.app.server.address()
  return { ...p, url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/intake` }
}

/** A data dir holding one pending batch (queued while PLATFORM_URL was unset). */
async function aDataDirWithPendingBatch(): Promise<{ dataDir: string; batchKey: string }> {
  const dataDir = await tempDir()
  const fleet = await fleetWith({ dataDir, deps: { now: aClock('2020-10-05T02:00:00Z').now }, manualClose: true })
  await aCatalog(fleet, { CERT: { cert: ['2020-01-01'] } })
  const cab = await aDatedCabinet(fleet)
  await cab.sell('2020-09-10', [line('CERT', 100)])
  await cab.sell('2020-10-01', [line('CERT', 100)])
  expect(await ok(fleet, 'POST', '/api/v1/forwarding/run', undefined, 200)).toMatchObject({ queued: 1 })
  await cab.mqtt.close()
  await fleet.close()
  return { dataDir, batchKey: `341100-${cab.cabinetId}-2020-09-r0` }
}

/** `npm start` on that data, sending to the hanging platform, with a forwarding pass waiting on the send. */
async function aServerStuckOnThePlatform(dataDir: string, platformUrl: string, platform: { received: () => { badAnswers: Record<string, number | undefined> } }) {
  const server = await startNpmScript('start', [], {
    ...(await testDatabaseEnv(dataDir)),
    FLEET_DATA_DIR: dataDir, FLEET_HTTP_PORT: '0', FLEET_MQTT_PORT: '0', FLEET_ADMIN_TOKEN: TEST_ADMIN_TOKEN, LOG_LEVEL: 'info', FLEET_LOG_REQUESTS: 'true', PLATFORM_URL: platformUrl,
  })
  // The pending batch goes out at start and hangs; a pass (POST /forwarding/run) waits for it.
  await expect.poll(() => platform.received().badAnswers.hang ?? 0, { timeout: 10_000 }).toBeGreaterThanOrEqual(1)
  const run = fetch(`http://127.0.0.1:${server.ready.http as number}/api/v1/forwarding/run`, { method: 'POST', headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } }).catch(() => null)
  // Logged when the request arrives; its pass then waits on the hanging send.
  await expect.poll(() => server.lines.some((l) => l.includes('"url":"/api/v1/forwarding/run"')), { timeout: 10_000 }).toBe(true)
  return { server, run }
}

const closedLine = (lines: string[]) => lines.some((l) => l.includes('"msg":"fleet server closed"'))
/** Repeated signals are logged once at most. */
const ignoredLines = (lines: string[]) => lines.filter((l) => l.includes('signal ignored')).length

describe('fleet server shutdown under npm start', () => {
  it('exits 0 with "fleet server closed" on SIGTERM twice to the process group while the platform hangs, and delivers the batch once after a restart', async () => {
    const platform = await aHangingPlatform()
    const { dataDir, batchKey } = await aDataDirWithPendingBatch()
    const { server, run } = await aServerStuckOnThePlatform(dataDir, platform.url, platform)

    const t0 = Date.now()
    // npm forwards the group's signal to node as well: node gets each one twice.
    expect(server.signalGroup('SIGTERM')).toBe(true)
    // At once, while node surely still runs: a signal that reaches npm after node has
    // exited (a shutdown faster than the gap) ends npm by that signal, not by node's code.
    expect(server.signalGroup('SIGTERM')).toBe(true)
    expect(await server.exited).toBe(0)
    expect(Date.now() - t0).toBeLessThan(10_000)
    expect(closedLine(server.lines), server.lines.join('\n')).toBe(true)
    expect(ignoredLines(server.lines)).toBeLessThanOrEqual(1)
    await run
    expect(platform.received().batches).toBe(0)

    // Restart on the same data with a platform that answers well: sent once, counted once.
    platform.setBadAnswers([])
    const fleet = await fleetWith({ dataDir, env: { PLATFORM_URL: platform.url }, deps: { now: aClock('2020-10-05T03:00:00Z').now } })
    await expect.poll(async () => (await ok<ForwardingReply>(fleet, 'GET', '/api/v1/forwarding', undefined, 200)).sent, { timeout: 10_000 }).toBe(1)
    expect(platform.batches().map((b) => b.key)).toEqual([batchKey])
    expect(platform.received()).toMatchObject({ batches: 1, duplicatesRejected: 0 })
  })

  it('exits 0 with "fleet server closed" under a mix of SIGINT and SIGTERM to the process group', async () => {
    const platform = await aHangingPlatform()
    const { dataDir } = await aDataDirWithPendingBatch()
    const { server, run } = await aServerStuckOnThePlatform(dataDir, platform.url, platform)

    const t0 = Date.now()
    // All at once, while node surely still runs (see above): npm forwards each one
    // too, so node gets eight while the first one's shutdown runs.
    let delivered = 0
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGINT', 'SIGTERM'] as const) if (server.signalGroup(sig)) delivered++
    expect(delivered).toBe(4)
    expect(await server.exited).toBe(0)
    expect(Date.now() - t0).toBeLessThan(10_000)
    expect(closedLine(server.lines), server.lines.join('\n')).toBe(true)
    expect(ignoredLines(server.lines)).toBeLessThanOrEqual(1)
    await run
  })
})
