// Remote commands end to end (issue 16 §5): a real fleet server, real agents
// and moved clocks. A price change to a cabinet offline for two hours takes
// effect when it reconnects and later sales carry it; one with a one-hour
// expiry is reported expired and never applied. Who may send and read, and
// bad parameters answered in Chinese.
import { pino } from 'pino'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createAgent, makeConfig, type Agent } from '../../edge-agent/src/index.js'
import type { Fleet } from '../../fleet-server/src/app.js'
import { topics, type CommandView } from '../../shared/src/index.js'
import { api, connectCabinet, provision, startFleet, tempDir, type Provisioned } from '../helpers/fleet.js'
import { clockAt, userToken } from '../helpers/rollout.js'
import { sqlRun } from '../helpers/test-db.js'
import { aUscc } from './certification.fixtures.js'

const silent = pino({ level: 'silent' })
const T0 = '2026-12-01T02:00:00.000Z'
const HOUR = 3_600_000

/** A fleet and its agents on one clock the test moves. */
async function world() {
  const clock = clockAt(T0)
  const fleet = await startFleet({}, { now: clock.now })
  const supplier = await api(fleet, 'POST', '/api/v1/suppliers', { uscc: aUscc(1), name: '定远县合作社' })
  expect(supplier.status).toBe(201)
  const product = await api(fleet, 'POST', '/api/v1/products', { sku: 'DY-RICE', name: '定远大米', supplierUscc: aUscc(1), priceFen: 3_990 })
  expect(product.status).toBe(201)
  const cab = await provision(fleet, { countyCode: '341125', operator: 'dy-coop' })
  const dataDir = await tempDir('agent-')
  const startAgent = async (): Promise<Agent> => {
    const agent = await createAgent(makeConfig({
      cabinetId: cab.cabinetId, dataDir, serverUrl: fleet.mqttUrl, username: cab.mqtt.username, password: cab.mqtt.password, apiPort: 0,
      logLevel: 'silent', backoffMinMs: 20, backoffMaxMs: 200, ackTimeoutMs: 2_000,
    }), { logger: silent, now: () => clock.now().getTime() })
    onTestFinished(() => agent.close())
    await expect.poll(() => agent.status().connected, { timeout: 10_000 }).toBe(true)
    return agent
  }
  const move = (ms: number) => clock.set(new Date(clock.now().getTime() + ms).toISOString())
  return { fleet, cab, clock, move, startAgent }
}

const command = async (fleet: Fleet, id: string, token?: string) => api<CommandView>(fleet, 'GET', `/api/v1/commands/${id}`, undefined, token ?? fleet.adminToken)
const send = async (fleet: Fleet, cabinetId: string, body: unknown, token?: string) =>
  api<{ commandId: string; error?: { code: string; message: string } }>(fleet, 'POST', `/api/v1/cabinets/${cabinetId}/commands`, body, token ?? fleet.adminToken)
const stateOf = async (fleet: Fleet, id: string) => (await command(fleet, id)).body.state

const postSale = (agent: Agent, body: unknown) =>
  fetch(`http://127.0.0.1:${agent.apiPort}/sales`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

describe('remote commands', () => {
  it('delivers a price change to a cabinet offline for 2 h on reconnect, later sales carry it, and a 1 h one expires unapplied', async () => {
    const w = await world()
    let agent = await w.startAgent()
    // The catalog's price first.
    await expect.poll(() => agent.catalog().items.find((i) => i.sku === 'DY-RICE')?.priceFen, { timeout: 10_000 }).toBe(3_990)
    await agent.close()

    const kept = await send(w.fleet, w.cab.cabinetId, { kind: 'price', params: { sku: 'DY-RICE', priceFen: 2_990 } })
    expect(kept.status, JSON.stringify(kept.body)).toBe(201)
    const short = await send(w.fleet, w.cab.cabinetId, { kind: 'price', params: { sku: 'DY-RICE', priceFen: 1_990 }, expiresInS: 3_600 })
    expect(short.status).toBe(201)
    expect(await stateOf(w.fleet, kept.body.commandId)).toBe('pending')
    expect(await stateOf(w.fleet, short.body.commandId)).toBe('pending')

    w.move(2 * HOUR)
    // Read after its expiry: expired, though the cabinet never came back.
    expect(await command(w.fleet, short.body.commandId)).toMatchObject({ status: 200, body: { state: 'expired', expiredAt: new Date(Date.parse(T0) + HOUR).toISOString() } })

    agent = await w.startAgent()
    await expect.poll(() => stateOf(w.fleet, kept.body.commandId), { timeout: 10_000 }).toBe('done')
    const done = (await command(w.fleet, kept.body.commandId)).body
    expect(done).toMatchObject({
      cabinetId: w.cab.cabinetId, kind: 'price', params: { sku: 'DY-RICE', priceFen: 2_990 }, sentBy: 'admin', sentRole: 'admin',
      result: { sku: 'DY-RICE', priceFen: 2_990, previousFen: 3_990 },
    })
    expect(done.deliveredAt).not.toBeNull()
    expect(await stateOf(w.fleet, short.body.commandId)).toBe('expired')
    expect(agent.catalog().items.find((i) => i.sku === 'DY-RICE')?.priceFen).toBe(2_990)

    // The next sale (the controller gives no price) carries the new price, up to the server.
    const r = await postSale(agent, { items: [{ sku: 'DY-RICE', qty: 2 }], payment: 'wechat' })
    expect(r.status).toBe(201)
    await expect.poll(async () => (await api<{ sales: { amountFen: number } }>(w.fleet, 'GET', `/api/v1/cabinets/${w.cab.cabinetId}`)).body.sales.amountFen, { timeout: 10_000 }).toBe(2 * 2_990)
    // The expired one never reached the cabinet.
    expect(agent.commandState().priceOverrides).toEqual({ 'DY-RICE': 2_990 })
  })

  it('resends a delivered command whose outcome was lost, and the agent reports the outcome it stored', async () => {
    const w = await world()
    let agent = await w.startAgent()
    const sent = await send(w.fleet, w.cab.cabinetId, { kind: 'price', params: { sku: 'DY-RICE', priceFen: 2_500 } })
    await expect.poll(() => stateOf(w.fleet, sent.body.commandId), { timeout: 10_000 }).toBe('done')
    await agent.close()
    // As if only the delivered report had arrived.
    await sqlRun(w.fleet.database, "UPDATE cabinet_commands SET state = 'delivered', result = NULL, completed_at = NULL WHERE command_id = ?", sent.body.commandId)
    agent = await w.startAgent()
    await expect.poll(() => stateOf(w.fleet, sent.body.commandId), { timeout: 10_000 }).toBe('done')
    expect((await command(w.fleet, sent.body.commandId)).body.result).toMatchObject({ priceFen: 2_500, previousFen: 3_990 })
  })

  it('sends to an online cabinet at once: lock sets salesLocked (a sale still records), unlock clears it; every command is listed with who sent it', async () => {
    const w = await world()
    const agent = await w.startAgent()
    const operator = await userToken(w.fleet, { username: 'dy-op', role: 'operator', operator: 'dy-coop' })
    const lock = await send(w.fleet, w.cab.cabinetId, { kind: 'lock' }, operator)
    expect(lock.status).toBe(201)
    await expect.poll(() => stateOf(w.fleet, lock.body.commandId), { timeout: 10_000 }).toBe('done')
    // A paid sale is never refused (CONTRACT): recorded, while /status tells the controller to stop vending.
    expect((await postSale(agent, { items: [{ sku: 'DY-RICE', qty: 1, unitPriceFen: 3_990 }], payment: 'cash' })).status).toBe(201)
    expect(agent.status().salesLocked).toBe(true)
    const unlock = await send(w.fleet, w.cab.cabinetId, { kind: 'unlock', params: {} })
    await expect.poll(() => stateOf(w.fleet, unlock.body.commandId), { timeout: 10_000 }).toBe('done')
    expect(agent.status().salesLocked).toBe(false)
    expect((await postSale(agent, { items: [{ sku: 'DY-RICE', qty: 1, unitPriceFen: 3_990 }], payment: 'cash' })).status).toBe(201)
    for (const body of [{ kind: 'sync' }, { kind: 'catalog-refresh' }, { kind: 'planogram', params: { slots: [{ slot: 'A1', sku: 'DY-RICE', capacity: 12, par: 10 }] } }]) {
      const r = await send(w.fleet, w.cab.cabinetId, body)
      expect(r.status).toBe(201)
      await expect.poll(() => stateOf(w.fleet, r.body.commandId), { timeout: 10_000 }).toBe('done')
    }
    expect(agent.commandState().planogram).toEqual([{ slot: 'A1', sku: 'DY-RICE', capacity: 12, par: 10 }])
    const exits: number[] = []
    agent.on('restart', (code) => exits.push(code))
    const restart = await send(w.fleet, w.cab.cabinetId, { kind: 'restart' })
    await expect.poll(() => stateOf(w.fleet, restart.body.commandId), { timeout: 10_000 }).toBe('done')
    expect(exits).toHaveLength(1)

    const list = await api<{ commands: CommandView[] }>(w.fleet, 'GET', `/api/v1/cabinets/${w.cab.cabinetId}/commands`)
    expect(list.status).toBe(200)
    expect(list.body.commands.map((c) => c.kind)).toEqual(['restart', 'planogram', 'catalog-refresh', 'sync', 'unlock', 'lock'])
    expect(list.body.commands.at(-1)).toMatchObject({ sentBy: 'dy-op', sentRole: 'operator', state: 'done' })
  })

  it('admin, the cabinet’s county and its operator send; an auditor only reads; others are told it does not exist', async () => {
    const w = await world()
    const tokens = {
      county: await userToken(w.fleet, { username: 'dy', role: 'county', countyCode: '341125' }),
      otherCounty: await userToken(w.fleet, { username: 'fy', role: 'county', countyCode: '341126' }),
      operator: await userToken(w.fleet, { username: 'op', role: 'operator', operator: 'dy-coop' }),
      otherOperator: await userToken(w.fleet, { username: 'op2', role: 'operator', operator: 'fy-coop' }),
      auditor: await userToken(w.fleet, { username: 'au', role: 'auditor' }),
    }
    for (const t of [tokens.county, tokens.operator]) expect((await send(w.fleet, w.cab.cabinetId, { kind: 'sync' }, t)).status).toBe(201)
    const sent = await send(w.fleet, w.cab.cabinetId, { kind: 'sync' })
    expect((await send(w.fleet, w.cab.cabinetId, { kind: 'sync' }, tokens.auditor)).status).toBe(403)
    expect((await command(w.fleet, sent.body.commandId, tokens.auditor)).status).toBe(200)
    for (const t of [tokens.otherCounty, tokens.otherOperator]) {
      expect((await send(w.fleet, w.cab.cabinetId, { kind: 'sync' }, t)).status).toBe(404)
      expect((await command(w.fleet, sent.body.commandId, t)).status).toBe(404)
      expect((await api(w.fleet, 'GET', `/api/v1/cabinets/${w.cab.cabinetId}/commands`, undefined, t)).status).toBe(404)
    }
    const unknown = await command(w.fleet, '01890000-0000-7000-8000-000000000000')
    expect(unknown.body).toMatchObject({ error: { code: 'COMMAND_NOT_FOUND' } })
    expect(unknown.status).toBe(404)
  })

  it('answers bad parameters with 400 and a Chinese message, and stores nothing', async () => {
    const w = await world()
    const bad: unknown[] = [
      { kind: 'price' },
      { kind: 'price', params: { sku: 'DY-RICE' } },
      { kind: 'price', params: { sku: 'DY-RICE', priceFen: -1 } },
      { kind: 'price', params: { sku: 'DY-RICE', priceFen: 12.5 } },
      { kind: 'planogram', params: { slots: [{ slot: 'A1', sku: 'DY-RICE', capacity: 5, par: 6 }] } },
      { kind: 'planogram', params: { slots: [{ slot: 'A1', sku: 'X', capacity: 5, par: 1 }, { slot: 'A1', sku: 'Y', capacity: 5, par: 1 }] } },
      { kind: 'lock', params: { why: 'x' } },
      { kind: 'self-destruct' },
      { kind: 'sync', expiresInS: 31 * 24 * 3600 },
      { kind: 'sync', expiresInS: 0 },
    ]
    for (const body of bad) {
      const r = await send(w.fleet, w.cab.cabinetId, body)
      expect(r.status, JSON.stringify(body)).toBe(400)
      expect(r.body.error?.message, JSON.stringify(body)).toMatch(/[\u4e00-\u9fff]/)
    }
    expect((await api<{ commands: unknown[] }>(w.fleet, 'GET', `/api/v1/cabinets/${w.cab.cabinetId}/commands`)).body.commands).toEqual([])
    expect((await send(w.fleet, 'NO-SUCH-CABINET', { kind: 'sync' })).status).toBe(404)
  })

  it('a cabinet cannot read another cabinet’s commands', async () => {
    const w = await world()
    const other: Provisioned = await provision(w.fleet, { countyCode: '341125' })
    const spy = await connectCabinet(w.fleet.mqttUrl, other)
    const granted = await spy.client.subscribeAsync(topics.commands(w.cab.cabinetId), { qos: 1 }).catch(() => [{ qos: 128 }])
    expect(granted[0]?.qos).toBe(128)
  })
})
