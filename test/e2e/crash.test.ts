// Power-loss behaviour with real processes: an edge agent recording a burst of
// sales is SIGKILLed at random points, several times, while the fleet server
// is down for part of the run. At the end the server must hold every sale the
// agent answered 201 for, each once, in one intact hash chain.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { describe, expect, it, onTestFinished } from 'vitest'
import { buildFleet, type Fleet } from '../../fleet-server/src/app.js'
import { loadConfig } from '../../fleet-server/src/config.js'
import { burst, expectHeldOnceInChain } from '../helpers/agent-burst.js'
import { allServerSales, apiClient, provisionCabinet } from '../helpers/api.js'
import { startProgram } from '../helpers/process.js'
import { testDatabaseEnv } from '../helpers/test-db.js'

const ADMIN = 'crash-admin-token-0123456789'
const CONCURRENCY = 4

async function fleetAt(dataDir: string, ports: { http: number; mqtt: number }): Promise<Fleet> {
  return buildFleet(loadConfig({
    FLEET_DATA_DIR: dataDir, FLEET_HTTP_PORT: String(ports.http), FLEET_MQTT_PORT: String(ports.mqtt),
    FLEET_ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'silent', ...(await testDatabaseEnv(dataDir)),
  }, []), { logger: pino({ level: 'silent' }) })
}

describe('crash safety with real processes', () => {
  it('after repeated SIGKILLs, with the server down part of the time, the server holds exactly the acknowledged sales once each in an intact chain', async () => {
    const fleetDir = await mkdtemp(join(tmpdir(), 'crash-fleet-'))
    const agentDir = await mkdtemp(join(tmpdir(), 'crash-agent-'))
    onTestFinished(async () => { await rm(fleetDir, { recursive: true, force: true }); await rm(agentDir, { recursive: true, force: true }) })

    let fleet: Fleet | null = await fleetAt(fleetDir, { http: 0, mqtt: 0 })
    const ports = { http: Number(new URL(fleet.httpUrl).port), mqtt: Number(new URL(fleet.mqttUrl).port) }
    onTestFinished(async () => { await fleet?.close() })
    const api = apiClient(fleet.httpUrl, ADMIN)
    const cab = await provisionCabinet(api, { countyCode: '341181', siteName: '天长市汽车站', venueType: '车站' })
    const agentArgs = ['--cabinet', cab.cabinetId, '--password', cab.mqtt.password, '--data', agentDir,
      '--server', `mqtt://127.0.0.1:${ports.mqtt}`, '--api-port', '0', '--backoff-min-ms', '50', '--backoff-max-ms', '300', '--ack-timeout-ms', '1500']

    const acknowledged: string[] = []
    const ROUNDS = 6
    for (let round = 0; round < ROUNDS; round++) {
      // Rounds 2 and 3 run with the fleet server down; it comes back in round 4.
      if (round === 2) { await fleet!.close(); fleet = null }
      if (round === 4) fleet = await fleetAt(fleetDir, ports)
      const agent = await startProgram('edge-agent/src/main.ts', agentArgs)
      const killAfterMs = 150 + Math.floor(Math.random() * 500)
      const killed = new Promise<void>((r) => setTimeout(r, killAfterMs)).then(() => agent.kill('SIGKILL'))
      acknowledged.push(...(await burst(Number(agent.ready.api), killed, CONCURRENCY)))
      expect(await agent.exited).toBe('SIGKILL')
    }
    expect(acknowledged.length).toBeGreaterThan(50)

    // A last, clean run drains the outbox.
    const agent = await startProgram('edge-agent/src/main.ts', agentArgs)
    onTestFinished(() => { void agent.kill('SIGKILL') })
    const status = async () => (await (await fetch(`http://127.0.0.1:${agent.ready.api}/status`)).json()) as { lastSeq: number; pending: number }
    await expect.poll(async () => (await status()).pending, { timeout: 30_000, interval: 200 }).toBe(0)
    const { lastSeq } = await status()

    const sales = await allServerSales(api, cab.cabinetId)
    expectHeldOnceInChain(cab.cabinetId, sales, lastSeq, acknowledged)
    // A sale can be durable yet unanswered when the kill lands between the
    // commit and the HTTP reply: at most one per in-flight request per kill.
    expect(sales.length - acknowledged.length).toBeLessThanOrEqual(ROUNDS * CONCURRENCY)
    await agent.kill('SIGTERM')
  })
})
