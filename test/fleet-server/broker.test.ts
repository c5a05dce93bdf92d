// The embedded broker's guard rails, through real mqtt.js clients on real
// sockets: who may log in, publish and subscribe, and the transport caps.
import { connect as tcpConnect, type Socket } from 'node:net'
import mqtt from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { topics, uuidv7 } from '../../shared/src/index.js'
import { aBatch, aChain } from '../helpers/sales.js'
import { aCatalog } from './certification.fixtures.js'
import { api, connectCabinet, expectDisconnected, provision, startFleet } from '../helpers/fleet.js'
import { sqlRow, sqlRows } from '../helpers/test-db.js'

// allowRetries=false: a socket closed before CONNACK rejects instead of waiting forever.
const refused = (url: string, opts: mqtt.IClientOptions) => mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts }, false)

async function salesCount(fleet: Awaited<ReturnType<typeof startFleet>>, id: string): Promise<number> {
  return (await sqlRow<{ n: number }>(fleet.database, 'SELECT count(*) AS n FROM sales WHERE cabinet_id = ?', id))!.n
}

describe('embedded broker: login', () => {
  it('lets a provisioned cabinet log in with client id = username = cabinet id', async () => {
    const fleet = await startFleet()
    const cab = await provision(fleet)
    expect(cab.mqtt.username).toBe(cab.cabinetId)
    expect(Buffer.from(cab.mqtt.password, 'base64url')).toHaveLength(24)
    const c = await connectCabinet(fleet.mqttUrl, cab)
    expect(c.client.connected).toBe(true)
    await expect.poll(async () => (await api<{ online: boolean }>(fleet, 'GET', `/api/v1/cabinets/${cab.cabinetId}`)).body.online).toBe(true)
    await c.close()
    await expect.poll(async () => (await api<{ online: boolean }>(fleet, 'GET', `/api/v1/cabinets/${cab.cabinetId}`)).body.online).toBe(false)
  })

  it('refuses a wrong password, an unknown cabinet and a missing password', async () => {
    const fleet = await startFleet()
    const cab = await provision(fleet)
    await expect(refused(fleet.mqttUrl, { clientId: cab.cabinetId, username: cab.cabinetId, password: 'wrong' })).rejects.toThrow(/Bad username or password/i)
    await expect(refused(fleet.mqttUrl, { clientId: 'nobody', username: 'nobody', password: cab.mqtt.password })).rejects.toThrow(/Bad username or password/i)
    await expect(refused(fleet.mqttUrl, { clientId: cab.cabinetId, username: cab.cabinetId })).rejects.toThrow(/Bad username or password/i)
  })

  it('refuses a client id other than the username, and an empty one', async () => {
    const fleet = await startFleet()
    const a = await provision(fleet)
    const b = await provision(fleet)
    // A's valid login cannot take over B's session by using B's client id.
    await expect(refused(fleet.mqttUrl, { clientId: b.cabinetId, username: a.mqtt.username, password: a.mqtt.password })).rejects.toThrow(/Identifier rejected/i)
    await expect(refused(fleet.mqttUrl, { clientId: '', clean: true, username: a.mqtt.username, password: a.mqtt.password })).rejects.toThrow(/Identifier rejected/i)
  })

  it('retiring a cabinet ends its session and refuses its credentials', async () => {
    const fleet = await startFleet()
    const cab = await provision(fleet)
    const c = await connectCabinet(fleet.mqttUrl, cab)
    const r = await api(fleet, 'PATCH', `/api/v1/cabinets/${cab.cabinetId}`, { status: 'retired' })
    expect(r.status).toBe(200)
    await expectDisconnected(c.client)
    await expect(refused(fleet.mqttUrl, { clientId: cab.cabinetId, username: cab.cabinetId, password: cab.mqtt.password })).rejects.toThrow(/Bad username or password/i)
  })

  it('rotating credentials ends the live session; the old password stops working, the new one works', async () => {
    const fleet = await startFleet()
    const cab = await provision(fleet)
    const c = await connectCabinet(fleet.mqttUrl, cab)
    const r = await api<{ mqtt: { username: string; password: string } }>(fleet, 'POST', `/api/v1/cabinets/${cab.cabinetId}/credentials`)
    expect(r.status).toBe(200)
    expect(r.body.mqtt.password).not.toBe(cab.mqtt.password)
    await expectDisconnected(c.client)
    await expect(refused(fleet.mqttUrl, { clientId: cab.cabinetId, username: cab.cabinetId, password: cab.mqtt.password })).rejects.toThrow(/Bad username or password/i)
    const again = await connectCabinet(fleet.mqttUrl, { cabinetId: cab.cabinetId, mqtt: r.body.mqtt })
    expect(again.client.connected).toBe(true)
  })
})

describe('embedded broker: topics', () => {
  it("drops a cabinet that publishes on another cabinet's topic; nothing reaches ingest", async () => {
    const fleet = await startFleet()
    const a = await provision(fleet)
    const b = await provision(fleet)
    const forger = await connectCabinet(fleet.mqttUrl, b)
    // A valid first sale of A's chain: were it delivered, ingest would commit it.
    const forged = aBatch(a.cabinetId, aChain(a.cabinetId, 1))
    forger.client.publish(topics.sales(a.cabinetId), JSON.stringify(forged), { qos: 1 })
    await expectDisconnected(forger.client)
    // A's own batch is the marker: once it is acked, anything sent before was processed.
    const ca = await connectCabinet(fleet.mqttUrl, a)
    const own = aChain(a.cabinetId, 2)
    const reply = await ca.send(aBatch(a.cabinetId, own))
    expect(reply).toMatchObject({ status: 'committed', ackedSeq: 2 })
    const ids = (await sqlRows<{ sale_id: string }>(fleet.database, 'SELECT sale_id FROM sales WHERE cabinet_id = ? ORDER BY seq', a.cabinetId)).map((r) => r.sale_id)
    expect(ids).toEqual(own.map((s) => s.saleId))
  })

  it("refuses subscriptions to wildcards, $SYS and another cabinet's downlink, keeping the session", async () => {
    const fleet = await startFleet()
    const a = await provision(fleet)
    const b = await provision(fleet)
    const c = await connectCabinet(fleet.mqttUrl, a)
    const filters = ['#', 'cabinets/+/down/replies', `cabinets/${a.cabinetId}/down/#`, '$SYS/#', topics.replies(b.cabinetId), topics.sales(a.cabinetId)]
    // mqtt.js rejects a SUBACK holding failure codes; the packet rides on the error.
    const granted = await c.client.subscribeAsync(Object.fromEntries(filters.map((topic) => [topic, { qos: 1 as const }]))).then(
      () => [] as number[],
      (err: { packet?: { granted?: number[] } }) => err.packet?.granted ?? [],
    )
    expect(granted).toEqual(filters.map(() => 128))
    const own = await c.client.subscribeAsync([topics.catalog(a.cabinetId), topics.commands(a.cabinetId)], { qos: 1 })
    expect(own.map((g) => g.qos)).toEqual([1, 1])
    expect(c.client.connected).toBe(true)
  })
})

describe('embedded broker: replies', () => {
  it('writes replies to the subscribed cabinet in order, and none once it unsubscribes', async () => {
    const fleet = await startFleet()
    const cab = await provision(fleet)
    const c = await connectCabinet(fleet.mqttUrl, cab)
    // 30 one-sale batches in flight at once: one ingest tick answers several, in one write.
    const chain = aChain(cab.cabinetId, 30)
    const batches = chain.map((s) => aBatch(cab.cabinetId, [s]))
    await Promise.all(batches.map((b) => c.client.publishAsync(topics.sales(cab.cabinetId), JSON.stringify(b), { qos: 1 })))
    await expect.poll(() => c.replies.length).toBe(30)
    expect(c.replies.map((r) => r.batchId)).toEqual(batches.map((b) => b.batchId))
    // ackedSeq is cumulative: the chain head after the tick that committed the batch.
    const acked = c.replies.map((r) => (r.status === 'committed' ? r.ackedSeq : -1))
    expect(acked.every((a, i) => a >= i + 1 && a >= (acked[i - 1] ?? 0))).toBe(true)
    expect(acked.at(-1)).toBe(30)

    await c.client.unsubscribeAsync(topics.replies(cab.cabinetId))
    const [next] = aChain(cab.cabinetId, 1, { after: chain })
    await c.client.publishAsync(topics.sales(cab.cabinetId), JSON.stringify(aBatch(cab.cabinetId, [next!])), { qos: 1 })
    await expect.poll(() => salesCount(fleet, cab.cabinetId)).toBe(31)
    await new Promise((r) => setTimeout(r, 100))
    expect(c.replies).toHaveLength(30)
    expect(c.client.connected).toBe(true)
  })
})

/** A raw MQTT 3.1.1 CONNECT packet (clean session, keepalive 60 s). */
function connectPacket(clientId: string, username: string, password: string): Buffer {
  const str = (s: string) => {
    const b = Buffer.from(s)
    return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b])
  }
  const body = Buffer.concat([str('MQTT'), Buffer.from([4, 0b1100_0010, 0, 60]), str(clientId), str(username), str(password)])
  return Buffer.concat([Buffer.from([0x10, body.length]), body])
}

function rawSocket(url: string): Promise<Socket> {
  const u = new URL(url)
  return new Promise((resolve, reject) => {
    const s = tcpConnect(Number(u.port), u.hostname, () => resolve(s))
    s.once('error', reject)
    onTestFinished(() => void s.destroy())
  })
}

describe('embedded broker: retained messages', () => {
  it("hands a subscriber exactly the retained messages of its own topics", async () => {
    const fleet = await startFleet()
    const a = await provision(fleet)
    const b = await provision(fleet)
    await aCatalog(fleet, { 'DY-HONEY': {} })
    // Connecting makes the server publish each cabinet's catalog, retained. It is
    // published after the connect, asynchronously: wait until it has gone out
    // (then it is retained), or it could reach the subscriber below live, not retained.
    for (const cab of [a, b]) {
      const { client } = await connectCabinet(fleet.mqttUrl, cab)
      const published = new Promise<void>((resolve) => client.on('message', (topic) => topic === topics.catalog(cab.cabinetId) && resolve()))
      await client.subscribeAsync(topics.catalog(cab.cabinetId), { qos: 1 })
      await published
      await client.endAsync()
    }
    const client = await mqtt.connectAsync(fleet.mqttUrl, { clientId: a.cabinetId, username: a.mqtt.username, password: a.mqtt.password, reconnectPeriod: 0 }, false)
    onTestFinished(() => client.endAsync(true))
    const got: Array<{ topic: string; retain: boolean; type: unknown }> = []
    client.on('message', (topic, payload, packet) => got.push({ topic, retain: packet.retain, type: (JSON.parse(payload.toString()) as { type?: unknown }).type }))
    // One SUBSCRIBE of three concrete topics, as the agent sends it: only the catalog is retained.
    await client.subscribeAsync([topics.replies(a.cabinetId), topics.catalog(a.cabinetId), topics.commands(a.cabinetId)], { qos: 1 })
    await expect.poll(() => got.length).toBeGreaterThan(0)
    await new Promise((r) => setTimeout(r, 200)) // nothing else (b's catalog) follows
    expect(got[0]).toEqual({ topic: topics.catalog(a.cabinetId), retain: true, type: 'catalog' })
    // This connect also makes the server publish the catalog again (the cabinet has not
    // reported its version): if that lands after the SUBSCRIBE it comes live. Only a's catalog.
    expect(got.slice(1)).toEqual(got.slice(1).map(() => ({ topic: topics.catalog(a.cabinetId), retain: false, type: 'catalog' })))
  })
})

describe('cabinet events', () => {
  it('stores each event once, many cabinets at a time, a resend ignored', async () => {
    const fleet = await startFleet()
    const cabs = await Promise.all(Array.from({ length: 5 }, () => provision(fleet)))
    const ids: string[] = []
    await Promise.all(
      cabs.map(async (cab) => {
        const c = await connectCabinet(fleet.mqttUrl, cab)
        const event = { v: 1, type: 'event', cabinetId: cab.cabinetId, eventId: uuidv7(), at: new Date().toISOString(), kind: 'door_open', detail: { door: 1 } }
        ids.push(event.eventId)
        // The same event twice (an agent resending it) and a second one.
        await c.client.publishAsync(topics.events(cab.cabinetId), JSON.stringify(event), { qos: 1 })
        await c.client.publishAsync(topics.events(cab.cabinetId), JSON.stringify(event), { qos: 1 })
        await c.client.publishAsync(topics.events(cab.cabinetId), JSON.stringify({ ...event, eventId: uuidv7(), kind: 'restock' }), { qos: 1 })
      }),
    )
    const stored = () => sqlRows<{ event_id: string; kind: string }>(fleet.database, 'SELECT event_id, kind FROM cabinet_events')
    await expect.poll(async () => (await stored()).length).toBe(10)
    expect((await stored()).filter((e) => e.kind === 'door_open').map((e) => e.event_id).sort()).toEqual([...ids].sort())
  })
})

describe('embedded broker: transport caps', () => {
  it('cuts a connection whose packet declares more than the hard cap, before buffering it', async () => {
    const fleet = await startFleet({ FLEET_MQTT_MAX_PACKET_BYTES: String(1024 * 1024) })
    const cab = await provision(fleet)
    const s = await rawSocket(fleet.mqttUrl)
    s.write(connectPacket(cab.cabinetId, cab.mqtt.username, cab.mqtt.password))
    const connack = await new Promise<Buffer>((resolve) => s.once('data', resolve))
    expect([...connack]).toEqual([0x20, 2, 0, 0])
    const closed = new Promise<void>((resolve) => s.once('close', () => resolve()))
    // PUBLISH QoS 0 declaring 200 MiB (varint 0x80 0x80 0x80 0x64); only the header is ever sent.
    s.write(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x64]))
    await closed
    const text = await (await fleet.http.inject({ method: 'GET', url: '/metrics' })).body
    expect(text).toMatch(/fleet_mqtt_connections_refused_total\{reason="packet_too_large"\} 1/)
    // The server is fine: the same cabinet logs in again and commits.
    const c = await connectCabinet(fleet.mqttUrl, cab)
    expect(await c.send(aBatch(cab.cabinetId, aChain(cab.cabinetId, 1)))).toMatchObject({ status: 'committed', ackedSeq: 1 })
  })

  it('cuts a real oversized publish from mqtt.js and stores nothing', async () => {
    const fleet = await startFleet({ FLEET_MQTT_MAX_PACKET_BYTES: String(512 * 1024) })
    const cab = await provision(fleet)
    const c = await connectCabinet(fleet.mqttUrl, cab)
    c.client.publish(topics.sales(cab.cabinetId), Buffer.alloc(600 * 1024, 0x20), { qos: 1 })
    await expectDisconnected(c.client)
    expect(await salesCount(fleet, cab.cabinetId)).toBe(0)
    expect((await fleet.http.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
  })

  it('refuses the connection over the cap cleanly and serves the others', async () => {
    const fleet = await startFleet({ FLEET_MQTT_MAX_CONNECTIONS: '2' })
    const cabs = await Promise.all([provision(fleet), provision(fleet), provision(fleet)])
    await connectCabinet(fleet.mqttUrl, cabs[0]!)
    const second = await connectCabinet(fleet.mqttUrl, cabs[1]!)
    await expect(refused(fleet.mqttUrl, { clientId: cabs[2]!.cabinetId, username: cabs[2]!.mqtt.username, password: cabs[2]!.mqtt.password, connectTimeout: 2000 })).rejects.toThrow()
    expect(await second.send(aBatch(cabs[1]!.cabinetId, aChain(cabs[1]!.cabinetId, 3)))).toMatchObject({ status: 'committed', ackedSeq: 3 })
    const text = (await fleet.http.inject({ method: 'GET', url: '/metrics' })).body
    expect(text).toMatch(/fleet_mqtt_connections_refused_total\{reason="max_connections"\} [1-9]/)
    // A slot freed is a slot usable.
    await second.close()
    await expect.poll(async () => {
      try {
        const c = await connectCabinet(fleet.mqttUrl, cabs[2]!)
        return c.client.connected
      } catch {
        return false
      }
    }, { timeout: 10_000, interval: 100 }).toBe(true)
  })

  it('closes promptly even with a connection that never sent CONNECT', async () => {
    const fleet = await startFleet({}, { manualClose: true })
    const s = await rawSocket(fleet.mqttUrl)
    const ended = new Promise<void>((resolve) => s.once('close', () => resolve()))
    const t0 = Date.now()
    await fleet.close()
    await ended
    expect(Date.now() - t0).toBeLessThan(5000) // aedes' own CONNECT timeout is 10 s
  })
})
