// Issue 12's goal for the broker, end to end: 1,000 hostile sockets of mixed
// kinds against the fleet server as `npm start` runs it (its own process, so
// its RSS is its own) add < 64 MiB, and a legitimate cabinet still logs in and
// gets a sale committed during the attack. The attack is bench/hostile.ts.
import { describe, expect, it, onTestFinished } from 'vitest'
import { runHostile } from '../../bench/hostile.js'
import { startProgram } from '../helpers/process.js'
import { tempDir } from '../helpers/fleet.js'
import { recordTrustCounts } from '../helpers/trust-counts.js'
import { testDatabaseEnv } from '../helpers/test-db.js'

describe('fleet server under hostile MQTT sockets', () => {
  it('1,000 hostile sockets add < 64 MiB and a legitimate cabinet still commits a sale', async () => {
    const adminToken = 'hostile-test-admin-token-0123456789'
    const dataDir = await tempDir()
    const env = { ...(await testDatabaseEnv(dataDir)), FLEET_DATA_DIR: dataDir, FLEET_HTTP_PORT: '0', FLEET_MQTT_PORT: '0', FLEET_ADMIN_TOKEN: adminToken, LOG_LEVEL: 'error', FLEET_LOG_REQUESTS: 'false' }
    const server = await startProgram('fleet-server/src/main.ts', [], { env })
    onTestFinished(async () => void (await server.kill('SIGKILL')))
    const r = await runHostile({ pid: server.child.pid!, httpUrl: `http://127.0.0.1:${server.ready.http as number}`, mqttPort: server.ready.mqtt as number, adminToken }, undefined, undefined, (s) => process.stderr.write(`${s}\n`))
    expect(r.hostileSockets).toBe(1000)
    expect(r.legitSaleCommitted).toBe(1)
    expect(r.rssGrowthMiB, JSON.stringify(r)).toBeLessThan(64)
    recordTrustCounts('broker-hostile-sockets', { hostileSockets: r.hostileSockets, badLoginAttempts: r.badLoginAttempts, serverRssGrowthMiB: r.rssGrowthMiB })
  })
})
