// FLEET_MQTT_URL: the fleet server as a client of a broker it does not run.
// A plain aedes (no auth) on port 0 stands in for Mosquitto here; the interop
// suite runs the real one.
import { createServer } from 'node:net'
import { Aedes } from 'aedes'
import mqtt from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { encodeMessage, topics, type ReplyMsg } from '../../shared/src/index.js'
import { aBatch, aChain } from '../helpers/sales.js'
import { api, provision, startFleet } from '../helpers/fleet.js'
import { sqlRow } from '../helpers/test-db.js'

async function startPlainBroker(): Promise<string> {
  const broker = await Aedes.createBroker()
  const server = createServer(broker.handle)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  onTestFinished(async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()))
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  const addr = server.address()
  return `mqtt://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`
}

describe('external broker (FLEET_MQTT_URL)', () => {
  it('ingests, acks, and tracks presence through a broker it does not run', async () => {
    const url = await startPlainBroker()
    const fleet = await startFleet({ FLEET_MQTT_URL: url })
    expect(fleet.mqttUrl).toBe(url)
    expect(fleet.mqttPort).toBeNull()
    const cab = await provision(fleet)

    const client = await mqtt.connectAsync(url, {
      clientId: cab.cabinetId,
      reconnectPeriod: 0,
      will: { topic: topics.presence(cab.cabinetId), payload: encodeMessage({ v: 1, type: 'presence', cabinetId: cab.cabinetId, state: 'offline' }), qos: 1, retain: true },
    })
    onTestFinished(() => client.endAsync(true))
    const replies: ReplyMsg[] = []
    client.on('message', (_t, p) => replies.push(JSON.parse(p.toString()) as ReplyMsg))
    await client.subscribeAsync(topics.replies(cab.cabinetId), { qos: 1 })
    await client.publishAsync(topics.presence(cab.cabinetId), encodeMessage({ v: 1, type: 'presence', cabinetId: cab.cabinetId, state: 'online' }), { qos: 1, retain: true })

    const sales = aChain(cab.cabinetId, 7)
    const batch = aBatch(cab.cabinetId, sales)
    await client.publishAsync(topics.sales(cab.cabinetId), JSON.stringify(batch), { qos: 1 })
    await expect.poll(() => replies.find((r) => r.batchId === batch.batchId), { timeout: 10_000 }).toMatchObject({ status: 'committed', ackedSeq: 7 })

    const view = await api<{ online: boolean; sales: { count: number } }>(fleet, 'GET', `/api/v1/cabinets/${cab.cabinetId}`)
    expect(view.body).toMatchObject({ online: true, sales: { count: 7 } })

    // Ungraceful end: the broker publishes the retained offline will.
    client.stream.destroy()
    await expect.poll(async () => (await api<{ online: boolean }>(fleet, 'GET', `/api/v1/cabinets/${cab.cabinetId}`)).body.online, { timeout: 10_000 }).toBe(false)
  })

  it('drops sales from a cabinet it does not know', async () => {
    const url = await startPlainBroker()
    const fleet = await startFleet({ FLEET_MQTT_URL: url })
    const stranger = await mqtt.connectAsync(url, { clientId: 'stranger-1', reconnectPeriod: 0 })
    onTestFinished(() => stranger.endAsync(true))
    await stranger.publishAsync(topics.sales('stranger-1'), JSON.stringify(aBatch('stranger-1', aChain('stranger-1', 2))), { qos: 1 })
    // A known cabinet's batch after it is the marker that the stranger's was processed.
    const cab = await provision(fleet)
    const client = await mqtt.connectAsync(url, { clientId: cab.cabinetId, reconnectPeriod: 0 })
    onTestFinished(() => client.endAsync(true))
    const got: ReplyMsg[] = []
    client.on('message', (_t, p) => got.push(JSON.parse(p.toString()) as ReplyMsg))
    await client.subscribeAsync(topics.replies(cab.cabinetId), { qos: 1 })
    await client.publishAsync(topics.sales(cab.cabinetId), JSON.stringify(aBatch(cab.cabinetId, aChain(cab.cabinetId, 1))), { qos: 1 })
    await expect.poll(() => got.length, { timeout: 10_000 }).toBe(1)
    expect((await sqlRow<{ n: number }>(fleet.database, "SELECT count(*) AS n FROM sales WHERE cabinet_id = 'stranger-1'"))!.n).toBe(0)
  })
})
