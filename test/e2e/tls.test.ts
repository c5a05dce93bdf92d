// TLS end to end with the real programs (issue 12 finding 7): `npm start`'s
// fleet server with FLEET_TLS_CERT/KEY and the plain MQTT listener off, an
// `npm run edge-agent` with --ca syncing a sale over mqtts, the API over HTTPS.
// Clients trusting another CA are refused; the plain port is closed.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { request } from 'node:https'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { freePort, startProgram } from '../helpers/process.js'
import { makeTestPki } from '../helpers/tls.js'

const TOKEN = 'e2e-tls-admin-token-0123456789'

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** JSON over HTTP(S); `ca` set = HTTPS trusting only that CA. */
function call(url: string, method: string, opts: { ca?: string | Buffer; body?: unknown; token?: string } = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const headers = { ...(opts.body !== undefined && { 'content-type': 'application/json' }), ...(opts.token && { authorization: `Bearer ${opts.token}` }) }
    const req = request(url, { method, headers, ...(opts.ca && { ca: opts.ca }) }, (res) => {
      let text = ''
      res.on('data', (d: Buffer) => (text += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }))
    })
    req.on('error', reject)
    req.end(opts.body === undefined ? undefined : JSON.stringify(opts.body))
  })
}

describe('TLS end to end', () => {
  it('serves HTTPS and mqtts only; an agent with --ca syncs a sale; the wrong CA and the plain port get nothing', async () => {
    const pki = await makeTestPki()
    const plainPort = await freePort()
    const server = await startProgram('fleet-server/src/main.ts', [], {
      env: {
        FLEET_DATA_DIR: await tempDir('e2e-tls-fleet-'), FLEET_HTTP_PORT: '0', FLEET_MQTT_PORT: String(plainPort), FLEET_MQTT_PLAIN: 'false',
        FLEET_TLS_CERT: pki.certFile, FLEET_TLS_KEY: pki.keyFile, FLEET_MQTTS_PORT: '0', FLEET_ADMIN_TOKEN: TOKEN,
      },
    })
    onTestFinished(() => void server.kill())
    expect(server.ready).toMatchObject({ event: 'ready', http: expect.any(Number), mqtt: null, mqtts: expect.any(Number) })
    const base = `https://127.0.0.1:${server.ready.http as number}`
    const mqttsUrl = `mqtts://127.0.0.1:${server.ready.mqtts as number}`

    expect(await call(`${base}/healthz`, 'GET', { ca: pki.ca })).toMatchObject({ status: 200, body: { status: 'ok' } })
    const otherCa = await readFile(pki.otherCaFile)
    await expect(call(`${base}/healthz`, 'GET', { ca: otherCa })).rejects.toThrow()
    await expect(mqtt.connectAsync(mqttsUrl, { clientId: 'x', username: 'x', password: 'y', ca: otherCa, reconnectPeriod: 0 }, false)).rejects.toThrow()
    const plainRefused = await new Promise<boolean>((resolve) => {
      const s = connect(plainPort, '127.0.0.1')
      s.once('connect', () => (s.destroy(), resolve(false)))
      s.once('error', () => resolve(true))
    })
    expect(plainRefused).toBe(true)

    const created = await call(`${base}/api/v1/cabinets`, 'POST', { ca: pki.ca, token: TOKEN, body: { countyCode: '341125' } })
    expect(created.status).toBe(201)
    const cab = created.body as { cabinetId: string; mqtt: { password: string } }
    const agent = await startProgram('edge-agent/src/main.ts', [
      '--cabinet', cab.cabinetId, '--data', await tempDir('e2e-tls-agent-'), '--server', mqttsUrl, `--password=${cab.mqtt.password}`, '--ca', pki.caFile, '--api-port', '0',
    ])
    onTestFinished(() => void agent.kill())
    const agentApi = `http://127.0.0.1:${agent.ready.api as number}`
    expect((await fetch(`${agentApi}/sales`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ items: [{ sku: 'DY-RICE', qty: 1, unitPriceFen: 4990 }], payment: 'wechat' }) })).status).toBe(201)
    await expect.poll(async () => ((await (await fetch(`${agentApi}/status`)).json()) as { lastAckedSeq: number }).lastAckedSeq, { timeout: 20_000 }).toBe(1)
    const view = await call(`${base}/api/v1/cabinets/${cab.cabinetId}`, 'GET', { ca: pki.ca, token: TOKEN })
    expect(view.body).toMatchObject({ online: true, sales: { count: 1, amountFen: 4990 } })
  })
})
