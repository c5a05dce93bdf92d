// Cabinet logins when a NATS cluster carries the cabinets (issue 14): the
// fleet server's API hands out each cabinet's bearer user JWT as its MQTT
// password (provisioning, CSV import), a rotation revokes the old one on the
// cluster and hands out a new one, and retirement revokes without a new one.
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest'
import type { Fleet } from '../../../fleet-server/src/app.js'
import { api, connectCabinet, provision, startFleet, type Provisioned } from '../../helpers/fleet.js'
import { CONNACK_NOT_AUTHORIZED, refusedCode } from '../../helpers/mqtt-refusal.js'
import { connectMqtt, NO_NATS_SERVER, startFleetNats, type FleetNats } from '../../helpers/nats.js'
import { csvRows, importCsv } from '../../helpers/rollout.js'
import { aBatch, aChain } from '../../helpers/sales.js'

const jwtClaims = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as { sub: string; iat: number; nats: { bearer_token?: boolean; allowed_connection_types?: string[] } }

describe.skipIf(NO_NATS_SERVER)('cabinet logins on a NATS cluster (issue 14)', () => {
  let nats: FleetNats
  let fleet: Fleet
  beforeEach(async () => {
    fleet = await startFleet(nats.env())
  })
  let mqttUrl: string
  beforeAll(async () => {
    nats = await startFleetNats(1)
    mqttUrl = nats.cluster.mqttUrls[0]!
  }, 60_000)
  afterAll(() => nats?.cluster.stop())

  /** A live session with these credentials; resolves `closed` when the broker ends it. */
  async function session(cab: Provisioned) {
    const client = await connectMqtt(mqttUrl, cab.cabinetId, cab.mqtt.password)
    onTestFinished(() => client.endAsync(true))
    return { client, closed: new Promise<void>((r) => client.once('close', () => r())) }
  }

  it('provisioning returns the cabinet\'s bearer JWT, which the cluster takes as its password and the fleet commits sales under', async () => {
    const cab = await provision(fleet, { countyCode: '341125' })
    const claims = jwtClaims(cab.mqtt.password)
    expect(claims.sub).toBe(nats.identity.cabinetUserPublicKey(cab.cabinetId))
    expect(claims.nats).toMatchObject({ bearer_token: true, allowed_connection_types: ['MQTT'] })
    const cabinet = await connectCabinet(mqttUrl, cab, { protocolVersion: 4 })
    const reply = await cabinet.send(aBatch(cab.cabinetId, aChain(cab.cabinetId, 2)))
    expect(reply).toMatchObject({ status: 'committed' })
  })

  it('rotation ends the old login on the cluster (live session and new connects) and the new password connects', async () => {
    const cab = await provision(fleet, { countyCode: '341125' })
    const live = await session(cab)
    const rotated = await api<Provisioned>(fleet, 'POST', `/api/v1/cabinets/${cab.cabinetId}/credentials`)
    expect(rotated.status, JSON.stringify(rotated.body)).toBe(200)
    expect(rotated.body.mqtt.password).not.toBe(cab.mqtt.password)
    // Issued after the revocation's second, so the revocation does not cover it.
    expect(jwtClaims(rotated.body.mqtt.password).iat).toBeGreaterThan(jwtClaims(cab.mqtt.password).iat)
    await live.closed
    expect(await refusedCode(mqttUrl, cab.cabinetId, cab.mqtt.password)).toBe(CONNACK_NOT_AUTHORIZED)
    const again = await connectMqtt(mqttUrl, cab.cabinetId, rotated.body.mqtt.password)
    await again.endAsync(true)
  })

  it('retirement ends the login on the cluster', async () => {
    const cab = await provision(fleet, { countyCode: '341125' })
    const live = await session(cab)
    const retired = await api(fleet, 'PATCH', `/api/v1/cabinets/${cab.cabinetId}`, { status: 'retired', reason: '撤柜' })
    expect(retired.status, JSON.stringify(retired.body)).toBe(200)
    await live.closed
    await vi.waitFor(async () => expect(await refusedCode(mqttUrl, cab.cabinetId, cab.mqtt.password)).toBe(CONNACK_NOT_AUTHORIZED), { timeout: 5_000 })
  })

  it('a CSV import returns a JWT for each cabinet it created', async () => {
    const res = await importCsv(fleet, csvRows('341125', 'installed', 2))
    expect(res.status, JSON.stringify(res.body)).toBe(201)
    expect(res.body.cabinets).toHaveLength(2)
    for (const cab of res.body.cabinets!) {
      expect(jwtClaims(cab.mqtt.password).sub).toBe(nats.identity.cabinetUserPublicKey(cab.cabinetId))
      const c = await connectMqtt(mqttUrl, cab.cabinetId, cab.mqtt.password)
      await c.endAsync(true)
    }
  })

  it('refuses a cabinet id NATS MQTT cannot carry (a \'.\') before storing anything, alone or in an import', async () => {
    const res = await api(fleet, 'POST', '/api/v1/cabinets', { countyCode: '341125', cabinetId: '341125-00.7' })
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'CABINET_ID_UNSUPPORTED' } } })
    expect((await api(fleet, 'GET', '/api/v1/cabinets/341125-00.7')).status).toBe(404)
    const imported = await importCsv(fleet, ['341125-00.8,341125,,,,,,,planned'])
    expect(imported.status).toBe(400)
    expect(JSON.stringify(imported.body)).toContain('“341125-00.8”：专柜编号含有本部署消息集群不支持的字符')
    expect((await api(fleet, 'GET', '/api/v1/cabinets/341125-00.8')).status).toBe(404)
  })

  it('a rotation the cluster cannot take answers 503 BROKER_UNAVAILABLE, the old password still valid; it succeeds once the cluster is back', async () => {
    const cab = await provision(fleet, { countyCode: '341125' })
    const node = nats.cluster.nodes[0]!
    await node.kill('SIGKILL')
    onTestFinished(async () => {
      if (!node.isRunning) await node.restart()
    })
    const refused = await api(fleet, 'POST', `/api/v1/cabinets/${cab.cabinetId}/credentials`)
    expect(refused).toMatchObject({ status: 503, body: { error: { code: 'BROKER_UNAVAILABLE' } } })
    await node.restart()
    const old = await connectMqtt(mqttUrl, cab.cabinetId, cab.mqtt.password)
    await old.endAsync(true)
    // The fleet server's connections find the node again on their own.
    await vi.waitFor(async () => expect((await api(fleet, 'POST', `/api/v1/cabinets/${cab.cabinetId}/credentials`)).status).toBe(200), { timeout: 20_000, interval: 500 })
    expect(await refusedCode(mqttUrl, cab.cabinetId, cab.mqtt.password)).toBe(CONNACK_NOT_AUTHORIZED)
  })
})
