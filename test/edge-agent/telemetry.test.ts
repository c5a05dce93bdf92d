// The agent's telemetry (issue 16 §4): its config (--telemetry-interval-ms,
// --chilled and their EDGE_* variables), and a real agent publishing a
// reading every interval to a real fleet, none of it in the sales ledger.
import { pino } from 'pino'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createAgent, loadConfig, makeConfig } from '../../edge-agent/src/index.js'
import { AppError } from '../../shared/src/index.js'
import { provision, startFleet, tempDir } from '../helpers/fleet.js'
import { sqlRow } from '../helpers/test-db.js'

describe('agent telemetry', () => {
  it('reads the interval (60 s by default) and the chilled switch from flags and EDGE_* variables', () => {
    const base = ['--cabinet', 'C1', '--data', '/tmp/x']
    expect(loadConfig({}, base)).toMatchObject({ telemetryIntervalMs: 60_000, chilled: false })
    expect(loadConfig({}, [...base, '--telemetry-interval-ms', '5000', '--chilled'])).toMatchObject({ telemetryIntervalMs: 5_000, chilled: true })
    expect(loadConfig({ EDGE_TELEMETRY_INTERVAL_MS: '2000', EDGE_CHILLED: 'true' }, base)).toMatchObject({ telemetryIntervalMs: 2_000, chilled: true })
    expect(loadConfig({ EDGE_CHILLED: 'false' }, base)).toMatchObject({ chilled: false })
    for (const bad of [{ EDGE_TELEMETRY_INTERVAL_MS: '0' }, { EDGE_TELEMETRY_INTERVAL_MS: 'soon' }, { EDGE_CHILLED: 'maybe' }]) {
      expect(() => loadConfig(bad, base)).toThrow(AppError)
    }
  })

  it('publishes a reading every interval while connected, and none of it enters the ledger', async () => {
    const fleet = await startFleet()
    const cab = await provision(fleet, { countyCode: '341125' })
    const agent = await createAgent(makeConfig({
      cabinetId: cab.cabinetId, dataDir: await tempDir('agent-'), serverUrl: fleet.mqttUrl, username: cab.mqtt.username, password: cab.mqtt.password,
      logLevel: 'silent', backoffMinMs: 20, backoffMaxMs: 200, telemetryIntervalMs: 100,
    }), { logger: pino({ level: 'silent' }) })
    onTestFinished(() => agent.close())
    const count = async () => Number((await sqlRow<{ n: number | string }>(fleet.database, 'SELECT count(*) AS n FROM telemetry_raw WHERE cabinet_id = ?', cab.cabinetId))!.n)
    await expect.poll(count, { timeout: 10_000 }).toBeGreaterThanOrEqual(5)
    expect(agent.status()).toMatchObject({ lastSeq: 0, pending: 0 })
  })
})
