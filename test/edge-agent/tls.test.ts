// Issue 12 finding 7: the agent speaks MQTT over TLS to the fleet server and
// verifies its certificate; trusting the wrong CA it stays offline, keeps
// selling into its ledger and says why.
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { describe, expect, it, vi } from 'vitest'
import { loadConfig } from '../../edge-agent/src/index.js'
import { api, provision, startFleet } from '../helpers/fleet.js'
import { makeTestPki } from '../helpers/tls.js'
import { aSale, startAgent, tempDir } from './helpers.js'

/** A pino logger whose lines the test can read. */
function capturedLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>)
      cb()
    },
  })
  return { logger: pino({ level: 'warn' }, stream), lines }
}

describe('edge agent over mqtts (issue 12)', () => {
  it('takes --ca / EDGE_CA, only with a TLS server URL, and refuses a file that is not a certificate', async () => {
    const pki = await makeTestPki()
    const base = ['--cabinet', 'C1', '--data', '/tmp/x']
    expect(loadConfig({}, [...base, '--server', 'mqtts://127.0.0.1:8883', '--ca', pki.caFile]).ca).toBe(pki.ca.toString())
    expect(loadConfig({ EDGE_CA: pki.caFile }, [...base, '--server', 'mqtts://127.0.0.1:8883']).ca).toBe(pki.ca.toString())
    expect(loadConfig({}, [...base, '--server', 'mqtts://127.0.0.1:8883']).ca).toBeNull()
    expect(() => loadConfig({}, [...base, '--server', 'mqtt://127.0.0.1:1883', '--ca', pki.caFile])).toThrow(/^(?=[\s\S]*--ca \(EDGE_CA\))(?=[\s\S]*TLS server URL)/)
    expect(() => loadConfig({}, [...base, '--server', 'mqtts://127.0.0.1:8883', '--ca', pki.keyFile])).toThrow(/--ca \(EDGE_CA\).*not a PEM certificate/)
    expect(() => loadConfig({}, [...base, '--server', 'mqtts://127.0.0.1:8883', '--ca', `${pki.dir}/missing.pem`])).toThrow(/--ca \(EDGE_CA\).*not readable/)
  })

  it('connects with the test CA and syncs a sale over mqtts', async () => {
    const pki = await makeTestPki()
    const fleet = await startFleet({ FLEET_TLS_CERT: pki.certFile, FLEET_TLS_KEY: pki.keyFile, FLEET_MQTTS_PORT: '0', FLEET_MQTT_PLAIN: 'false' })
    const cab = await provision(fleet)
    const agent = await startAgent({ cabinetId: cab.cabinetId, password: cab.mqtt.password, serverUrl: fleet.mqttUrl, caFile: pki.caFile, dataDir: await tempDir() })
    await vi.waitFor(() => expect(agent.status().connected).toBe(true), { timeout: 10_000 })
    agent.sell(aSale())
    await vi.waitFor(() => expect(agent.status()).toMatchObject({ lastSeq: 1, lastAckedSeq: 1, pending: 0 }), { timeout: 10_000 })
    const seen = await api<{ sales: { count: number } }>(fleet, 'GET', `/api/v1/cabinets/${cab.cabinetId}`)
    expect(seen.body.sales.count).toBe(1)
  })

  it('trusting another CA, refuses the server: stays offline, keeps selling into its ledger, logs why', async () => {
    const pki = await makeTestPki()
    const fleet = await startFleet({ FLEET_TLS_CERT: pki.certFile, FLEET_TLS_KEY: pki.keyFile, FLEET_MQTTS_PORT: '0', FLEET_MQTT_PLAIN: 'false' })
    const cab = await provision(fleet)
    const { logger, lines } = capturedLogger()
    const agent = await startAgent({ cabinetId: cab.cabinetId, password: cab.mqtt.password, serverUrl: fleet.mqttUrl, caFile: pki.otherCaFile, dataDir: await tempDir() }, { logger })
    await vi.waitFor(() => expect(lines.find((l) => l.msg === 'mqtt connection failed; retrying')).toMatchObject({ code: expect.stringMatching(/CERT|SIGNATURE|ISSUER/) }), { timeout: 10_000 })
    expect(agent.sell(aSale())).toMatchObject({ seq: 1 })
    expect(agent.status()).toMatchObject({ connected: false, lastSeq: 1, lastAckedSeq: 0, pending: 1 })
    const seen = await api<{ online: boolean; sales: { count: number } }>(fleet, 'GET', `/api/v1/cabinets/${cab.cabinetId}`)
    expect(seen.body).toMatchObject({ online: false, sales: { count: 0 } })
  })
})
