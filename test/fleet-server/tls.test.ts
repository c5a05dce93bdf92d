// Issue 12 finding 7: HTTPS and MQTT over TLS on the embedded broker, with a
// CA made at test time. Clients verify the server (never rejectUnauthorized:
// false); one that trusts another CA must fail.
import { readFile } from 'node:fs/promises'
import { request } from 'node:https'
import { connect as tcpConnect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import mqtt from 'mqtt'
import { pino } from 'pino'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { startEmbeddedBus } from '../../fleet-server/src/broker/index.js'
import { api, connectCabinet, provision, startFleet } from '../helpers/fleet.js'
import { freePort } from '../helpers/process.js'
import { aBatch, aChain } from '../helpers/sales.js'
import { makeTestPki, type TestPki } from '../helpers/tls.js'

function tlsEnv(pki: TestPki, extra: Record<string, string> = {}): Record<string, string> {
  return { FLEET_TLS_CERT: pki.certFile, FLEET_TLS_KEY: pki.keyFile, FLEET_MQTTS_PORT: '0', ...extra }
}

/** One HTTPS request trusting only `ca`. */
function httpsJson(url: string, ca: Buffer | string, method: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, ca, headers: { ...(body !== undefined && { 'content-type': 'application/json' }), ...headers } }, (res) => {
      let text = ''
      res.on('data', (d: Buffer) => (text += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }))
    })
    req.on('error', reject)
    req.end(body === undefined ? undefined : JSON.stringify(body))
  })
}

/** Resolves true once a TCP connection to the port is refused or closed by the server. */
function tcpRefusedOrClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, '127.0.0.1')
    s.once('error', () => resolve(true))
    s.once('close', () => resolve(true))
  })
}

describe('fleet server over TLS (issue 12)', () => {
  it('serves the API over HTTPS with a Secure session cookie, to clients that trust its CA only', async () => {
    const pki = await makeTestPki()
    const fleet = await startFleet(tlsEnv(pki))
    expect(fleet.httpUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
    await fleet.http.ready()

    expect(await httpsJson(`${fleet.httpUrl}/healthz`, pki.ca, 'GET')).toMatchObject({ status: 200, body: { status: 'ok' } })
    const created = await api(fleet, 'POST', '/api/v1/users', { username: 'dingyuan', role: 'county', countyCode: '341125', password: 'correct horse battery' })
    expect(created.status).toBe(201)
    const login = await httpsJson(`${fleet.httpUrl}/api/v1/session`, pki.ca, 'POST', { username: 'dingyuan', password: 'correct horse battery' })
    expect(login.status).toBe(200)
    const cookie = String(login.headers['set-cookie'])
    expect(cookie).toMatch(/^fleet_session=/)
    expect(cookie).toMatch(/; Secure\b/)

    await expect(httpsJson(`${fleet.httpUrl}/healthz`, await readFile(pki.otherCaFile), 'GET')).rejects.toThrow(/self[- ]signed|unable to (get|verify)|certificate/i)
  })

  it('takes a cabinet over mqtts with the plain listener off, and a client trusting another CA fails', async () => {
    const pki = await makeTestPki()
    const plainPort = await freePort()
    const fleet = await startFleet(tlsEnv(pki, { FLEET_MQTT_PLAIN: 'false', FLEET_MQTT_PORT: String(plainPort) }))
    expect(fleet.mqttPort).toBeNull()
    expect(fleet.mqttsPort).toBeGreaterThan(0)
    expect(fleet.mqttUrl).toBe(`mqtts://127.0.0.1:${fleet.mqttsPort}`)
    expect(await tcpRefusedOrClosed(plainPort)).toBe(true)

    const cab = await provision(fleet)
    const c = await connectCabinet(fleet.mqttUrl, cab, { ca: pki.ca })
    const sales = aChain(cab.cabinetId, 2)
    expect(await c.send(aBatch(cab.cabinetId, sales))).toMatchObject({ status: 'committed' })
    const seen = await api<{ sales: { count: number } }>(fleet, 'GET', `/api/v1/cabinets/${cab.cabinetId}`)
    expect(seen.body.sales.count).toBe(2)

    const stranger = mqtt.connectAsync(fleet.mqttUrl, { clientId: cab.cabinetId, username: cab.cabinetId, password: cab.mqtt.password, ca: await readFile(pki.otherCaFile, 'utf8'), reconnectPeriod: 0 }, false)
    await expect(stranger).rejects.toThrow(/self[- ]signed|unable to (get|verify)|certificate/i)
  })

  it('serves plain and TLS cabinets side by side, under one connection cap for both listeners', async () => {
    const pki = await makeTestPki()
    const fleet = await startFleet(tlsEnv(pki, { FLEET_MQTT_MAX_CONNECTIONS: '1' }))
    expect(fleet.mqttPort).toBeGreaterThan(0)
    expect(fleet.mqttsPort).toBeGreaterThan(0)
    expect(fleet.mqttUrl).toBe(`mqtt://127.0.0.1:${fleet.mqttPort}`)
    const [a, b] = [await provision(fleet), await provision(fleet)]
    const plain = await connectCabinet(fleet.mqttUrl, a)
    expect(plain.client.connected).toBe(true)
    // The one slot is taken on the plain listener: the TLS one has none left.
    const secureUrl = `mqtts://127.0.0.1:${fleet.mqttsPort}`
    await expect(mqtt.connectAsync(secureUrl, { clientId: b.cabinetId, username: b.cabinetId, password: b.mqtt.password, ca: pki.ca, reconnectPeriod: 0, connectTimeout: 5_000 }, false)).rejects.toThrow()
    await plain.close()
    // The server sees the plain socket close a moment after the client does.
    const secure = await vi.waitFor(() => connectCabinet(secureUrl, b, { ca: pki.ca }), { timeout: 5_000, interval: 50 })
    expect(secure.client.connected).toBe(true)
  })

  it('drops a socket that never completes its TLS handshake, freeing its slot', async () => {
    const pki = await makeTestPki()
    const bus = await startEmbeddedBus(
      {
        host: '127.0.0.1',
        port: null,
        tls: { cert: pki.cert.toString(), key: pki.key.toString(), port: 0 },
        tlsHandshakeTimeoutMs: 300,
        maxConnections: 1,
        maxPacketBytes: 1024 * 1024,
        credentials: { verify: async () => true },
        log: pino({ level: 'silent' }),
      },
      { message: (_m, done) => done(), connected: () => {}, disconnected: () => {}, transportRefused: () => {} },
    )
    onTestFinished(() => bus.close())
    // Opens TCP and says nothing: no ClientHello, so the handshake never ends.
    const silent: Socket = tcpConnect(bus.tlsPort!, '127.0.0.1')
    let isClosed = false
    silent.once('close', () => (isClosed = true))
    silent.on('error', () => {})
    await expect.poll(() => isClosed, { timeout: 5_000 }).toBe(true)
    // Its slot is free again: a real client completes a handshake.
    const ok = await new Promise<boolean>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port: bus.tlsPort!, ca: pki.ca }, () => {
        s.end()
        resolve(s.authorized)
      })
      s.once('error', reject)
    })
    expect(ok).toBe(true)
  })
})
