// Interop with a broker nobody here wrote: edge agent → Mosquitto (Debian) →
// fleet server attached through FLEET_MQTT_URL. Mosquitto enforces
// per-cabinet access with its own pattern ACL on %u.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { pino } from 'pino'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createAgent, makeConfig } from '../../edge-agent/src/index.js'
import { buildFleet } from '../../fleet-server/src/app.js'
import { loadConfig } from '../../fleet-server/src/config.js'
import { GENESIS_HASH, saleHash, topics, uuidv7 } from '../../shared/src/index.js'
import { apiClient, provisionCabinet } from '../helpers/api.js'
import { startMosquitto } from '../helpers/mosquitto.js'

const silent = pino({ level: 'silent' })

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  return dir
}

describe('agent → Mosquitto → fleet server', () => {
  it('syncs sales end to end while Mosquitto confines each cabinet to its own topics', async () => {
    const mosq = await startMosquitto({ 'fleet-server': 'fleet-secret-1' })
    onTestFinished(() => mosq.close())
    const fleet = await buildFleet(loadConfig({
      FLEET_DATA_DIR: await tempDir('interop-fleet-'), FLEET_HTTP_PORT: '0', FLEET_MQTT_URL: mosq.url,
      FLEET_MQTT_USERNAME: 'fleet-server', FLEET_MQTT_PASSWORD: 'fleet-secret-1',
      FLEET_ADMIN_TOKEN: 'interop-admin-token-012345', LOG_LEVEL: 'silent',
    }, []), { logger: silent })
    onTestFinished(() => fleet.close())
    const api = apiClient(fleet.httpUrl, fleet.adminToken)

    const a = await provisionCabinet(api, { countyCode: '341102' })
    const b = await provisionCabinet(api, { countyCode: '341103' })
    await mosq.addUser(a.mqtt.username, a.mqtt.password)
    await mosq.addUser(b.mqtt.username, b.mqtt.password)

    const agent = await createAgent(makeConfig({
      cabinetId: a.cabinetId, dataDir: await tempDir('interop-agent-'), serverUrl: mosq.url, password: a.mqtt.password,
      apiPort: null, logLevel: 'silent', backoffMinMs: 50, backoffMaxMs: 500, ackTimeoutMs: 2_000,
    }), { logger: silent })
    onTestFinished(() => agent.close())
    for (let i = 0; i < 30; i++) agent.sell({ items: [{ sku: 'LY-TEA', qty: 1, unitPriceFen: 2500 + i }], payment: 'wechat' })
    await expect.poll(() => agent.status().lastAckedSeq, { timeout: 20_000 }).toBe(30)
    const cabA = await api.get<{ sales: { count: number; lastSeq: number } }>(`/api/v1/cabinets/${a.cabinetId}`)
    expect(cabA.body.sales).toMatchObject({ count: 30, lastSeq: 30 })

    // Cabinet B, logged in with its own valid credentials, forges a sale on A's topic
    // and tries to read A's replies. Mosquitto's ACL drops both; the server never sees them.
    const forger = await mqtt.connectAsync(mosq.url, { username: b.mqtt.username, password: b.mqtt.password, clientId: b.cabinetId, reconnectPeriod: 0 })
    onTestFinished(() => forger.endAsync())
    const leaked: string[] = []
    forger.on('message', (t) => leaked.push(t))
    await forger.subscribeAsync(topics.replies(a.cabinetId), { qos: 1 })
    // The forgery is a valid continuation of A's chain: were it delivered, the server would commit it.
    const tail = await api.get<{ sales: Array<{ hash: string }> }>(`/api/v1/cabinets/${a.cabinetId}/sales?afterSeq=29&limit=1`)
    const lastHash = tail.body.sales[0]?.hash ?? GENESIS_HASH
    expect(lastHash).not.toBe(GENESIS_HASH)
    const forged = { saleId: uuidv7(), seq: 31, soldAt: new Date().toISOString(), recordedAt: new Date().toISOString(), payment: 'cash' as const,
      lines: [{ sku: 'FAKE', qty: 1, unitPriceFen: 100 }], totalFen: 100, prevHash: lastHash, hash: '' }
    forged.hash = saleHash(a.cabinetId, forged)
    await forger.publishAsync(topics.sales(a.cabinetId), JSON.stringify({ v: 1, type: 'sales', batchId: uuidv7(), cabinetId: a.cabinetId, sales: [forged] }), { qos: 1 })
    // A's own next sale is the marker: once it is committed, anything sent before it has been processed.
    agent.sell({ items: [{ sku: 'LY-TEA', qty: 1, unitPriceFen: 2600 }], payment: 'wechat' })
    await expect.poll(() => agent.status().lastAckedSeq, { timeout: 20_000 }).toBe(31)
    const after = await api.get<{ sales: { count: number; amountFen: number } }>(`/api/v1/cabinets/${a.cabinetId}`)
    const realAmount = Array.from({ length: 30 }, (_, i) => 2500 + i).reduce((x, y) => x + y, 0) + 2600
    expect(after.body.sales).toMatchObject({ count: 31, amountFen: realAmount })
    expect(leaked).toEqual([])

    // A wrong password is refused by Mosquitto.
    await expect(mqtt.connectAsync(mosq.url, { username: a.mqtt.username, password: 'wrong', clientId: a.cabinetId, reconnectPeriod: 0 })).rejects.toThrow(/Not authorized|Bad username/i)
  })
})
