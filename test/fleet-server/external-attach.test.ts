// Issue 12: with FLEET_MQTT_URL the fleet server says "ready" only once it is
// attached to the external broker (subscribed to the cabinets' uplink), over
// plain MQTT or mqtts with FLEET_MQTT_CA; until then it waits, warns, and can
// be stopped. Mosquitto is the external broker.
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import mqtt from 'mqtt'
import { pino } from 'pino'
import { describe, expect, it, onTestFinished } from 'vitest'
import { buildFleet, type Fleet } from '../../fleet-server/src/app.js'
import { loadConfig } from '../../fleet-server/src/config.js'
import { topics } from '../../shared/src/index.js'
import { aBatch, aChain } from '../helpers/sales.js'
import { provision, TEST_ADMIN_TOKEN } from '../helpers/fleet.js'
import { startMosquitto } from '../helpers/mosquitto.js'
import { freePort, REPO_ROOT } from '../helpers/process.js'
import { makeTestPki } from '../helpers/tls.js'

const FLEET_LOGIN = { 'fleet-server': 'fleet-secret-1' }

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  return dir
}

function externalEnv(dataDir: string, url: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    FLEET_DATA_DIR: dataDir, FLEET_HTTP_PORT: '0', FLEET_MQTT_URL: url, FLEET_MQTT_USERNAME: 'fleet-server', FLEET_MQTT_PASSWORD: 'fleet-secret-1',
    FLEET_ADMIN_TOKEN: TEST_ADMIN_TOKEN, LOG_LEVEL: 'silent', ...extra,
  }
}

describe('external broker: ready only once attached (issue 12)', () => {
  it('prints no ready line while Mosquitto is down, warns that it waits, and is ready once Mosquitto is up', async () => {
    const port = await freePort()
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'fleet-server/src/main.ts')], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...externalEnv(await tempDir('attach-'), `mqtt://127.0.0.1:${port}`), LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    onTestFinished(async () => {
      if (child.exitCode === null) child.kill('SIGTERM')
      await exited
    })
    const lines: string[] = []
    createInterface({ input: child.stdout }).on('line', (l) => lines.push(l))
    const waits = (): number => lines.filter((l) => l.includes('external mqtt broker not attached yet; waiting before ready')).length
    const isReady = (): boolean => lines.some((l) => l.startsWith('{"event":"ready"'))

    // Two wait warnings: it has waited longer than the old 5 s "starting anyway".
    await expect.poll(waits, { timeout: 20_000, interval: 100 }).toBeGreaterThanOrEqual(2)
    expect(isReady()).toBe(false)

    const mosq = await startMosquitto(FLEET_LOGIN, { port })
    onTestFinished(() => mosq.close())
    await expect.poll(isReady, { timeout: 10_000, interval: 100 }).toBe(true)
    expect(JSON.parse(lines.find((l) => l.startsWith('{"event":"ready"'))!)).toMatchObject({ event: 'ready', mqtt: null })
  })

  it('stops cleanly on SIGTERM while it waits for the broker: exit 0, "fleet server closed", no ready line', async () => {
    const port = await freePort()
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'fleet-server/src/main.ts')], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...externalEnv(await tempDir('attach-'), `mqtt://127.0.0.1:${port}`), LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    onTestFinished(async () => {
      if (child.exitCode === null) child.kill('SIGKILL')
      await exited
    })
    const lines: string[] = []
    createInterface({ input: child.stdout }).on('line', (l) => lines.push(l))
    await expect.poll(() => lines.some((l) => l.includes('external mqtt broker not attached yet')), { timeout: 20_000, interval: 100 }).toBe(true)
    // Twice, as a process group under `npm start` gets it.
    child.kill('SIGTERM')
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
    expect(lines.some((l) => l.includes('"msg":"fleet server closed"'))).toBe(true)
    expect(lines.some((l) => l.startsWith('{"event":"ready"'))).toBe(false)
  })

  it('attaches to Mosquitto over mqtts with FLEET_MQTT_CA; trusting another CA it never attaches and a stop ends the wait', async () => {
    const pki = await makeTestPki()
    const mosq = await startMosquitto(FLEET_LOGIN, { tls: { certFile: pki.certFile, keyFile: pki.keyFile } })
    onTestFinished(() => mosq.close())
    expect(mosq.url).toMatch(/^mqtts:/)
    const silent = pino({ level: 'silent' })

    // The wrong CA: the handshake fails on every attempt, so the start waits until aborted.
    const stop = new AbortController()
    const refused = buildFleet(loadConfig(externalEnv(await tempDir('attach-'), mosq.url, { FLEET_MQTT_CA: pki.otherCaFile }), []), { logger: silent, signal: stop.signal })
    const outcome = await Promise.race([refused.then(() => 'ready', () => 'failed'), new Promise((r) => setTimeout(() => r('waiting'), 2_000))])
    expect(outcome).toBe('waiting')
    stop.abort(new Error('stopped by test'))
    await expect(refused).rejects.toThrow('stopped by test')

    // The right CA: attached, and a cabinet's sale through Mosquitto is committed and answered.
    const fleet: Fleet = await buildFleet(loadConfig(externalEnv(await tempDir('attach-'), mosq.url, { FLEET_MQTT_CA: pki.caFile }), []), { logger: silent })
    onTestFinished(() => fleet.close())
    const cab = await provision(fleet)
    await mosq.addUser(cab.mqtt.username, cab.mqtt.password)
    const client = await mqtt.connectAsync(mosq.url, { clientId: cab.cabinetId, username: cab.mqtt.username, password: cab.mqtt.password, ca: pki.ca, reconnectPeriod: 0 }, false)
    onTestFinished(() => client.endAsync(true))
    const replies: Array<{ batchId?: string; status?: string }> = []
    client.on('message', (_t, p) => replies.push(JSON.parse(p.toString()) as { batchId?: string; status?: string }))
    await client.subscribeAsync(topics.replies(cab.cabinetId), { qos: 1 })
    const batch = aBatch(cab.cabinetId, aChain(cab.cabinetId, 1))
    await client.publishAsync(topics.sales(cab.cabinetId), JSON.stringify(batch), { qos: 1 })
    await expect.poll(() => replies.find((r) => r.batchId === batch.batchId), { timeout: 10_000 }).toMatchObject({ status: 'committed' })
  })
})
