// The sale path end to end with every real part: edge agent (SQLite ledger,
// mqtt.js) → embedded aedes → fleet server ingest (SQLite) → application ack.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createAgent, makeConfig, type Agent } from '../../edge-agent/src/index.js'
import { buildFleet, type Fleet } from '../../fleet-server/src/app.js'
import { loadConfig } from '../../fleet-server/src/config.js'
import { apiClient, provisionCabinet, type ApiClient } from '../helpers/api.js'
import { testDatabaseEnv } from '../helpers/test-db.js'

const silent = pino({ level: 'silent' })

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function fleetAt(dataDir: string, ports: { http?: number; mqtt?: number } = {}): Promise<Fleet> {
  const config = loadConfig({
    FLEET_DATA_DIR: dataDir, FLEET_HTTP_PORT: String(ports.http ?? 0), FLEET_MQTT_PORT: String(ports.mqtt ?? 0),
    FLEET_ADMIN_TOKEN: 'e2e-admin-token-0123456789', LOG_LEVEL: 'silent', ...(await testDatabaseEnv(dataDir)),
  }, [])
  return buildFleet(config, { logger: silent })
}

async function agentFor(fleetMqttUrl: string, cab: { cabinetId: string; mqtt: { password: string } }, dataDir: string): Promise<Agent> {
  const agent = await createAgent(makeConfig({
    cabinetId: cab.cabinetId, dataDir, serverUrl: fleetMqttUrl, password: cab.mqtt.password, apiPort: null,
    logLevel: 'silent', backoffMinMs: 50, backoffMaxMs: 500, ackTimeoutMs: 2_000,
  }), { logger: silent })
  onTestFinished(() => agent.close())
  return agent
}

const item = (i: number) => ({ sku: `DY-${i % 5}`, qty: 1 + (i % 2), unitPriceFen: 990 + i })

async function cabinetSales(api: ApiClient, id: string) {
  const r = await api.get<{ sales: { count: number; amountFen: number; lastSeq: number } }>(`/api/v1/cabinets/${id}`)
  expect(r.status).toBe(200)
  return r.body.sales
}

describe('sale path through the embedded broker', () => {
  it('commits every sale once on the server and clears the outbox only after the application ack', async () => {
    const fleet = await fleetAt(await tempDir('e2e-fleet-'))
    onTestFinished(() => fleet.close())
    const api = apiClient(fleet.httpUrl, fleet.adminToken)
    const cab = await provisionCabinet(api, { countyCode: '341125', siteName: '定远县人民医院', venueType: '医院' })
    const agent = await agentFor(fleet.mqttUrl, cab, await tempDir('e2e-agent-'))

    let expectedFen = 0
    for (let i = 0; i < 40; i++) {
      const it = item(i)
      expectedFen += it.qty * it.unitPriceFen
      agent.sell({ items: [it], payment: 'alipay' })
    }
    await expect.poll(() => agent.status().pending, { timeout: 15_000 }).toBe(0)
    expect(agent.status()).toMatchObject({ lastSeq: 40, lastAckedSeq: 40, connected: true })
    expect(await cabinetSales(api, cab.cabinetId)).toMatchObject({ count: 40, amountFen: expectedFen, lastSeq: 40 })
  })

  it('keeps selling while the fleet server is down and syncs everything after it returns', async () => {
    const dataDir = await tempDir('e2e-fleet-')
    let fleet = await fleetAt(dataDir)
    const ports = { http: Number(new URL(fleet.httpUrl).port), mqtt: Number(new URL(fleet.mqttUrl).port) }
    const api = apiClient(fleet.httpUrl, fleet.adminToken)
    const cab = await provisionCabinet(api)
    const agent = await agentFor(fleet.mqttUrl, cab, await tempDir('e2e-agent-'))
    for (let i = 0; i < 10; i++) agent.sell({ items: [item(i)], payment: 'wechat' })
    await expect.poll(() => agent.status().lastAckedSeq, { timeout: 15_000 }).toBe(10)

    await fleet.close()
    await expect.poll(() => agent.status().connected, { timeout: 10_000 }).toBe(false)
    for (let i = 10; i < 60; i++) agent.sell({ items: [item(i)], payment: 'cash' })
    expect(agent.status()).toMatchObject({ lastSeq: 60, lastAckedSeq: 10, pending: 50 })

    fleet = await fleetAt(dataDir, ports)
    onTestFinished(() => fleet.close())
    await expect.poll(() => agent.status().lastAckedSeq, { timeout: 20_000 }).toBe(60)
    expect((await cabinetSales(api, cab.cabinetId)).count).toBe(60)
  })

  it('syncs many cabinets at once, each sale exactly once', async () => {
    const fleet = await fleetAt(await tempDir('e2e-fleet-'))
    onTestFinished(() => fleet.close())
    const api = apiClient(fleet.httpUrl, fleet.adminToken)
    const agents = await Promise.all(Array.from({ length: 20 }, async (_, n) => {
      const cab = await provisionCabinet(api, { countyCode: n % 2 ? '341125' : '341126' })
      return agentFor(fleet.mqttUrl, cab, await tempDir('e2e-agent-'))
    }))
    for (let i = 0; i < 25; i++) for (const a of agents) a.sell({ items: [item(i)], payment: 'unionpay' })
    for (const a of agents) await expect.poll(() => a.status().lastAckedSeq, { timeout: 20_000 }).toBe(25)
    for (const a of agents) expect((await cabinetSales(api, a.cabinetId)).count).toBe(25)
  })
})
