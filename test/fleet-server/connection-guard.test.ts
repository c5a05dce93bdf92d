// What a socket may cost the embedded broker before it logs in (issue 12,
// finding 3): a small packet cap, a short connect timeout, per-address limits
// on unauthenticated sockets and on failed attempts; and that logins which
// succeed are never refused for their number.
import mqttPacket from 'mqtt-packet'
import { describe, expect, it } from 'vitest'
import { addressKey } from '../../fleet-server/src/broker/index.js'
import { topics } from '../../shared/src/index.js'
import { closed, connackFor, connectPacket, mqttClient, rawSocket, startTestBus } from '../helpers/embedded-bus.js'

describe('connection guard: packet caps', () => {
  it('cuts a 100 KiB CONNECT before login, at its header', async () => {
    const t = await startTestBus()
    const s = await rawSocket(t.port)
    // A CONNECT fixed header declaring 100 KiB, then 2 KiB of it: the rest never comes.
    const header = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'x', keepalive: 60, username: 'x', password: Buffer.alloc(100 * 1024) })
    s.on('error', () => {})
    s.write(header.subarray(0, 2048))
    await closed(s)
    expect(t.refusals).toEqual(['packet_too_large'])
    expect(t.bus.stats().connections.failures.packet_too_large).toBe(1)
  })

  it('after login, the configured cap applies: 900 KiB is delivered, 1.1 MiB is cut', async () => {
    const t = await startTestBus({ maxPacketBytes: 1024 * 1024 })
    const id = '341125-00001'
    const c = await mqttClient(t.port, t.cabinet(id))
    await c.publishAsync(topics.events(id), Buffer.alloc(900 * 1024, 0x20), { qos: 1 })
    expect(t.messages.map((m) => m.payload.length)).toEqual([900 * 1024])
    expect(c.connected).toBe(true)
    c.publish(topics.events(id), Buffer.alloc(1100 * 1024, 0x20), { qos: 1 })
    await expect.poll(() => c.connected).toBe(false)
    expect(t.refusals).toEqual(['packet_too_large'])
    // A cut after login is no failed attempt of the address.
    expect(t.bus.stats().connections.failures.packet_too_large).toBe(0)
  })
})

describe('connection guard: per-address limits', () => {
  it('refuses an address after N failed logins and lets it in again after the window', async () => {
    const t = await startTestBus({ connectionLimits: { maxFailedAttemptsPerAddress: 3, failedAttemptWindowMs: 1_500 } })
    const cab = t.cabinet('341125-00001')
    for (let i = 0; i < 3; i++) expect(await connackFor(t.port, connectPacket(cab.clientId, 'wrong'), '127.0.0.2')).toBe(4)
    await expect.poll(() => t.bus.stats().connections.failures.login_refused).toBe(3)
    // Now even the right password from that address is refused before CONNECT is read…
    expect(await connackFor(t.port, connectPacket(cab.clientId, cab.password), '127.0.0.2')).toBe('closed')
    expect(t.refusals).toContain('address_failed_attempts')
    // …while another address logs in.
    expect(await connackFor(t.port, connectPacket(cab.clientId, cab.password), '127.0.0.1')).toBe(0)
    // After the window the address is welcome again.
    await expect.poll(() => connackFor(t.port, connectPacket(cab.clientId, cab.password), '127.0.0.2'), { timeout: 5_000, interval: 200 }).toBe(0)
  })

  it('never refuses successful logins from one address, however many at once', async () => {
    const t = await startTestBus({ connectionLimits: { maxFailedAttemptsPerAddress: 3, failedAttemptWindowMs: 60_000 } })
    const cabs = Array.from({ length: 200 }, (_, i) => t.cabinet(`341125-${String(i).padStart(5, '0')}`))
    // Two storms: all at once, then all again (a reconnect after the server dropped them).
    for (let round = 0; round < 2; round++) {
      const codes = await Promise.all(cabs.map((c) => connackFor(t.port, connectPacket(c.clientId, c.password))))
      expect(codes.filter((c) => c !== 0)).toEqual([])
    }
    expect(t.refusals).toEqual([])
  })

  it('counts a socket that never sends CONNECT as a failure once the connect timeout cuts it', async () => {
    const t = await startTestBus({ connectionLimits: { connectTimeoutMs: 300, maxFailedAttemptsPerAddress: 1 } })
    const cab = t.cabinet('341125-00001')
    const silent = await rawSocket(t.port, '127.0.0.2')
    await closed(silent)
    expect(t.bus.stats().connections.failures.error_before_connect).toBe(1)
    expect(await connackFor(t.port, connectPacket(cab.clientId, cab.password), '127.0.0.2')).toBe('closed')
  })

  it('holds at most N unauthenticated sockets per address; others still log in', async () => {
    const t = await startTestBus({ connectionLimits: { maxUnauthenticatedPerAddress: 5 } })
    const held = await Promise.all(Array.from({ length: 5 }, () => rawSocket(t.port, '127.0.0.2')))
    await expect.poll(() => t.bus.stats().connections.unauthenticated).toBe(5)
    const sixth = await rawSocket(t.port, '127.0.0.2')
    await closed(sixth)
    expect(t.refusals).toEqual(['address_unauthenticated_limit'])
    const cab = t.cabinet('341125-00001')
    expect(await connackFor(t.port, connectPacket(cab.clientId, cab.password), '127.0.0.1')).toBe(0)
    expect(held.every((s) => !s.closed)).toBe(true)
  })

  it('remembers a bounded number of addresses, however many a flood comes from', async () => {
    const t = await startTestBus({ connectionLimits: { maxTrackedAddresses: 10 } })
    for (let i = 2; i < 42; i++) expect(await connackFor(t.port, connectPacket('nobody', 'wrong'), `127.0.0.${i}`)).toBe(4)
    // aedes reports a CONNACK once written, which may be just after the client read it.
    await expect.poll(() => t.bus.stats().connections.failures.login_refused).toBe(40)
    expect(t.bus.stats().connections.trackedAddresses).toBeLessThanOrEqual(10)
  })

  it('limits IPv4 per address and IPv6 per /64', () => {
    expect(addressKey('::ffff:10.1.2.3')).toBe('10.1.2.3')
    expect(addressKey('10.1.2.3')).toBe('10.1.2.3')
    expect(addressKey('2001:db8:0:1::5')).toBe(addressKey('2001:0db8:0000:0001:ffff:1:2:3'))
    expect(addressKey('2001:db8:0:1::5')).not.toBe(addressKey('2001:db8:0:2::5'))
    expect(addressKey(undefined)).toBe('unknown')
  })
})
