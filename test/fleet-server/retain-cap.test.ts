// What cabinets may retain in the embedded broker (issue 12, finding 3):
// presence only, capped per cabinet; everything else is still delivered.
import { once } from 'node:events'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import mqttPacket from 'mqtt-packet'
import { describe, expect, it } from 'vitest'
import { createRetainCap, DEFAULT_RETAIN_LIMITS } from '../../fleet-server/src/broker/retain-cap.js'
import { topics } from '../../shared/src/index.js'
import { mqttClient, rawSocket, startTestBus } from '../helpers/embedded-bus.js'

const presence = (id: string, state: 'online' | 'offline') => JSON.stringify({ v: 1, type: 'presence', cabinetId: id, state })

describe('retain cap', () => {
  it('keeps presence and its will retained, stores nothing retained elsewhere, and delivers everything', async () => {
    const t = await startTestBus()
    const id = '341125-00001'
    const will = { topic: topics.presence(id), payload: Buffer.from(presence(id, 'offline')), qos: 1 as const, retain: true }
    const c = await mqttClient(t.port, { ...t.cabinet(id), will })
    await c.publishAsync(topics.presence(id), presence(id, 'online'), { qos: 1, retain: true })
    // What an attacker did in finding 3: big retained payloads under many up/ topics.
    const big = Buffer.alloc(100 * 1024, 0x20)
    for (let i = 0; i < 20; i++) await c.publishAsync(`${topics.upPrefix(id)}x${i}`, big, { qos: 1, retain: true })
    await c.publishAsync(topics.heartbeat(id), big, { qos: 1, retain: true })
    await c.publishAsync(topics.events(id), big, { qos: 1, retain: true })

    expect(c.connected).toBe(true)
    // Delivered to ingest as before (the unnamed x-topics are ignored there, as ever).
    expect(t.messages.map((m) => m.kind)).toEqual(['presence', 'heartbeat', 'events'])
    expect(t.bus.stats().retainedByCabinets).toEqual({ messages: 1, bytes: presence(id, 'online').length })

    // The will replaces the retained presence when the cabinet drops without DISCONNECT.
    c.stream.destroy()
    await expect.poll(() => t.messages.filter((m) => m.kind === 'presence').map((m) => JSON.parse(m.payload.toString()).state)).toEqual(['online', 'offline'])
    await expect.poll(() => t.bus.stats().retainedByCabinets).toEqual({ messages: 1, bytes: presence(id, 'offline').length })
  })

  it('does not store a presence over the per-cabinet byte cap; the one before stays', async () => {
    const t = await startTestBus()
    const id = '341125-00002'
    const c = await mqttClient(t.port, t.cabinet(id))
    await c.publishAsync(topics.presence(id), presence(id, 'online'), { qos: 1, retain: true })
    await c.publishAsync(topics.presence(id), JSON.stringify({ v: 1, type: 'presence', cabinetId: id, state: 'online', pad: 'x'.repeat(8 * 1024) }), { qos: 1, retain: true })
    expect(t.messages.filter((m) => m.kind === 'presence')).toHaveLength(2)
    expect(c.connected).toBe(true)
    expect(t.bus.stats().retainedByCabinets).toEqual({ messages: 1, bytes: presence(id, 'online').length })
  })

  it('keeps a retained payload as bytes of its own, not a view of the socket read it arrived in', async () => {
    // A full GC on demand: the read must become collectable once ingest is done with it, while the
    // presence stays retained and the will (also kept as a copy) stays armed.
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const t = await startTestBus()
    const id = '341125-00003'
    const s = await rawSocket(t.port)
    const { password } = t.cabinet(id)
    s.write(mqttPacket.generate({
      cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: id, keepalive: 60, username: id, password: Buffer.from(password),
      will: { topic: topics.presence(id), payload: Buffer.from(presence(id, 'offline')), qos: 1, retain: true },
    }))
    await once(s, 'data') // CONNACK
    // Presence (retained) and a 50 KiB heartbeat in one write: one read on the server, as a
    // reconnecting agent's presence and first sales batch often are.
    const online = presence(id, 'online')
    s.write(Buffer.concat([
      mqttPacket.generate({ cmd: 'publish', topic: topics.presence(id), payload: Buffer.from(online), qos: 0, retain: true, dup: false }),
      mqttPacket.generate({ cmd: 'publish', topic: topics.heartbeat(id), payload: Buffer.alloc(50 * 1024, 0x20), qos: 0, retain: false, dup: false }),
    ]))
    await expect.poll(() => t.messages.length).toBe(2)
    const read = ((arrived: Buffer) => {
      expect(arrived.toString() === online).toBe(true)
      // What ingest is handed is a view of the read (no copy on the per-message path): ~51 KiB, or
      // at least a good part of it should the read have been split.
      expect(arrived.buffer.byteLength).toBeGreaterThan(1024)
      return new WeakRef(arrived.buffer)
    })(t.messages.find((m) => m.kind === 'presence')!.payload)
    t.messages.length = 0
    await expect.poll(() => {
      gc()
      return read.deref() === undefined
    }).toBe(true)
    expect(t.bus.stats().retainedByCabinets).toEqual({ messages: 1, bytes: online.length })
    // The will still fires, whole.
    s.destroy()
    await expect.poll(() => t.messages.filter((m) => m.kind === 'presence').map((m) => m.payload.toString())).toEqual([presence(id, 'offline')])
  })

  it('caps each cabinet in count and bytes, replacing and deleting its own messages', () => {
    const cap = createRetainCap({ kinds: new Set(['presence', 'events']), maxMessages: 1, maxBytes: 100 })
    expect(cap.admit(topics.presence('A'), 50)).toEqual({ store: true })
    expect(cap.admit(topics.presence('A'), 100)).toEqual({ store: true }) // a replacement, not a second message
    expect(cap.admit(topics.events('A'), 10)).toMatchObject({ store: false, reason: 'over_cabinet_cap' })
    expect(cap.admit(topics.presence('A'), 101)).toMatchObject({ store: false, reason: 'over_cabinet_cap' })
    expect(cap.admit(topics.heartbeat('A'), 1)).toMatchObject({ store: false, reason: 'kind_not_retained' })
    expect(cap.admit(topics.presence('B'), 100)).toEqual({ store: true }) // another cabinet has its own budget
    expect(cap.admit(topics.presence('A'), 0)).toEqual({ store: true }) // an empty payload deletes
    expect(cap.admit(topics.events('A'), 10)).toEqual({ store: true })
    // The server's retained catalog is not a cabinet's.
    expect(cap.admit(topics.catalog('A'), 1024 * 1024)).toEqual({ store: true })
    expect(cap.held()).toEqual({ messages: 2, bytes: 110 })
    expect(DEFAULT_RETAIN_LIMITS.kinds).toEqual(new Set(['presence']))
  })
})
