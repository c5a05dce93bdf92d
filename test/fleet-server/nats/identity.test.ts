// Cabinet identity on a real NATS cluster (#14): Debian's nats-server in JWT
// operator mode, real mqtt.js cabinets on its MQTT listener, a real NATS client
// as the fleet server. Each cabinet's bearer JWT is its MQTT password and its
// permissions are its only confinement (NATS does not bind the client id).
import { jwtAuthenticator, connect as natsConnect, type NatsConnection, type Subscription } from '@nats-io/transport-node'
import type { IClientOptions, MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest'
import {
  createNatsIdentity,
  createNatsIdentityFile,
  isNatsIdentityError,
  natsSubjectOf,
  parseNatsIdentityFile,
  startNatsAccountAdmin,
  type NatsAccountAdmin,
  type NatsIdentity,
} from '../../../fleet-server/src/nats/index.js'
import { topics } from '../../../shared/src/index.js'
import { CONNACK_NOT_AUTHORIZED, refusedCode } from '../../helpers/mqtt-refusal.js'
import { connectMqtt, NO_NATS_SERVER, RESOLVER_SYNC_INTERVAL_S, startNatsCluster, type NatsCluster } from '../../helpers/nats.js'

const SUBACK_FAILURE = 0x80 // MQTT 3.1.1 §3.9.3

let cabinetSeq = 0
/** A fresh cabinet id per test: sessions and revocations never leak between tests. */
const aCabinetId = () => `341125-${String(++cabinetSeq).padStart(5, '0')}-${process.pid}`

async function cabinetClient(url: string, clientId: string, password: string, opts: IClientOptions = {}): Promise<MqttClient> {
  const client = await connectMqtt(url, clientId, password, opts)
  onTestFinished(() => client.endAsync(true))
  return client
}

/** The fleet server's side: a NATS subscription collecting what arrives. */
function collect(nc: NatsConnection, subject: string): { sub: Subscription; got: { subject: string; data: string }[] } {
  const got: { subject: string; data: string }[] = []
  const sub = nc.subscribe(subject, {
    callback: (_err, m) => {
      got.push({ subject: m.subject, data: m.string() })
    },
  })
  return { sub, got }
}

/** The SUBACK's granted QoS per filter (mqtt.js rejects a SUBACK holding any failure; its packet keeps them). */
async function grantedQos(client: MqttClient, filters: string | string[]): Promise<number[]> {
  try {
    return (await client.subscribeAsync(filters, { qos: 1 })).map((g) => g.qos)
  } catch (err) {
    const granted = (err as { packet?: { granted?: unknown[] } }).packet?.granted
    if (!granted) throw err
    return granted as number[]
  }
}

function received(client: MqttClient): { topic: string; data: string }[] {
  const got: { topic: string; data: string }[] = []
  client.on('message', (topic, payload) => got.push({ topic, data: payload.toString() }))
  return got
}

async function serverConnection(identity: NatsIdentity, servers: string[]): Promise<NatsConnection> {
  const user = await identity.issueServiceUser('fleet-server-test')
  return natsConnect({ servers, authenticator: jwtAuthenticator(user.jwt, user.seed), name: 'fleet-server-test' })
}

describe('NATS identity without a cluster', () => {
  it('maps MQTT filters to the subjects NATS MQTT uses and keeps the identity file strict', () => {
    expect(natsSubjectOf(topics.sales('c1'))).toBe('cabinets.c1.up.sales')
    expect(natsSubjectOf(topics.downPrefix('c1') + '#')).toBe('cabinets.c1.down.>')
    expect(natsSubjectOf(topics.allUp)).toBe('cabinets.*.up.>')
    const file = createNatsIdentityFile()
    expect(parseNatsIdentityFile(JSON.parse(JSON.stringify(file)))).toEqual(file)
    const bad = { ...file, fleetAccount: { ...file.fleetAccount, seed: file.operator.seed } }
    expect(() => parseNatsIdentityFile(bad)).toThrow(/fleet account seed.*SA/)
    expect(() => parseNatsIdentityFile({ ...file, extra: 1 })).toThrow(expect.objectContaining({ code: 'NATS_IDENTITY_INVALID' }))
  })

  it('derives one user key per cabinet from the fleet seed, and refuses ids NATS MQTT cannot carry', async () => {
    const file = createNatsIdentityFile()
    const a = createNatsIdentity(file)
    const again = createNatsIdentity(parseNatsIdentityFile(JSON.parse(JSON.stringify(file))))
    const other = createNatsIdentity(createNatsIdentityFile())
    expect(a.cabinetUserPublicKey('341125-00001')).toMatch(/^U[A-Z2-7]{55}$/)
    expect(again.cabinetUserPublicKey('341125-00001')).toBe(a.cabinetUserPublicKey('341125-00001'))
    expect(a.cabinetUserPublicKey('341125-00002')).not.toBe(a.cabinetUserPublicKey('341125-00001'))
    expect(other.cabinetUserPublicKey('341125-00001')).not.toBe(a.cabinetUserPublicKey('341125-00001'))
    const user = await a.issueCabinetUser('341125-00001')
    expect(user.userPublicKey).toBe(a.cabinetUserPublicKey('341125-00001'))
    // CabinetId allows '.', which 2.9.10's MQTT bridge refuses in a topic.
    const refused = await a.issueCabinetUser('341125.00001').catch((e: unknown) => e)
    expect(isNatsIdentityError(refused, 'NATS_CABINET_ID_UNSUPPORTED')).toBe(true)
  })
})

describe.skipIf(NO_NATS_SERVER)('cabinet credentials on one NATS node (skipped: nats-server is not installed; .ci/run installs it)', () => {
  let identity: NatsIdentity
  let cluster: NatsCluster
  let server: NatsConnection
  let admin: NatsAccountAdmin
  let url: string

  beforeAll(async () => {
    identity = createNatsIdentity(createNatsIdentityFile())
    cluster = await startNatsCluster({ nodes: 1, identity })
    url = cluster.mqttUrls[0]!
    server = await serverConnection(identity, cluster.urls)
    admin = await startNatsAccountAdmin({ identity, servers: cluster.urls })
  })
  afterAll(async () => {
    await admin?.close()
    await server?.close()
    await cluster?.stop()
  })

  it('a cabinet publishes QoS 1 to its own uplink with its JWT as password, and the server receives it', async () => {
    const id = aCabinetId()
    const { jwt } = await identity.issueCabinetUser(id)
    const up = collect(server, natsSubjectOf(topics.allUp))
    onTestFinished(() => up.sub.unsubscribe())
    await server.flush()
    // Any username: NATS takes the MQTT password as the JWT and ignores the name.
    const cabinet = await cabinetClient(url, id, jwt, { username: 'anything' })
    await cabinet.publishAsync(topics.sales(id), '{"sale":1}', { qos: 1 }) // resolves on PUBACK
    await vi.waitFor(() => expect(up.got).toEqual([{ subject: `cabinets.${id}.up.sales`, data: '{"sale":1}' }]))
  })

  it('the server publishes on the cabinet\'s downlink and the cabinet, subscribed to down/#, receives it', async () => {
    const id = aCabinetId()
    const { jwt } = await identity.issueCabinetUser(id)
    const cabinet = await cabinetClient(url, id, jwt)
    const got = received(cabinet)
    expect(await grantedQos(cabinet, topics.downPrefix(id) + '#')).toEqual([1])
    server.publish(natsSubjectOf(topics.replies(id)), '{"status":"committed"}')
    server.publish(natsSubjectOf(topics.catalog(id)), '{"catalog":[]}')
    await vi.waitFor(() =>
      expect(got).toEqual([
        { topic: topics.replies(id), data: '{"status":"committed"}' },
        { topic: topics.catalog(id), data: '{"catalog":[]}' },
      ]),
    )
  })

  it('refuses a wrong password and a JWT signed by another account with CONNACK "not authorized"', async () => {
    const id = aCabinetId()
    expect(await refusedCode(url, id, 'not-a-jwt')).toBe(CONNACK_NOT_AUTHORIZED)
    const forged = await createNatsIdentity(createNatsIdentityFile()).issueCabinetUser(id)
    expect(await refusedCode(url, id, forged.jwt)).toBe(CONNACK_NOT_AUTHORIZED)
  })

  it('cabinet A cannot read B\'s downlink (SUBACK 0x80) nor write B\'s uplink (acknowledged, never delivered)', async () => {
    const [a, b] = [aCabinetId(), aCabinetId()]
    const up = collect(server, natsSubjectOf(topics.allUp))
    onTestFinished(() => up.sub.unsubscribe())
    await server.flush()
    const cabinetA = await cabinetClient(url, a, (await identity.issueCabinetUser(a)).jwt)
    const gotA = received(cabinetA)

    const granted = await grantedQos(cabinetA, [topics.downPrefix(b) + '#', topics.replies(b), 'cabinets/+/down/#', '#'])
    expect(granted).toEqual([SUBACK_FAILURE, SUBACK_FAILURE, SUBACK_FAILURE, SUBACK_FAILURE])
    // B's reply, then A's on the same server connection: once A's arrives, B's would have.
    expect(await grantedQos(cabinetA, topics.downPrefix(a) + '#')).toEqual([1])
    server.publish(natsSubjectOf(topics.replies(b)), 'for B only')
    server.publish(natsSubjectOf(topics.replies(a)), 'for A')
    await vi.waitFor(() => expect(gotA.length).toBeGreaterThan(0))
    expect(gotA).toEqual([{ topic: topics.replies(a), data: 'for A' }])

    // NATS acknowledges the forbidden publish (QoS 1) and drops it; A's own
    // publish after it on the same connection arrives, so the first is gone.
    await cabinetA.publishAsync(topics.sales(b), 'forged sale for B', { qos: 1 })
    await cabinetA.publishAsync(topics.sales(a), 'own sale', { qos: 1 })
    await vi.waitFor(() => expect(up.got.map((m) => m.data)).toContain('own sale'))
    expect(up.got).toEqual([{ subject: `cabinets.${a}.up.sales`, data: 'own sale' }])
  })

  it('cabinet A presenting B\'s client id is still confined to A\'s subjects (JWT mode does not bind client ids)', async () => {
    const [a, b] = [aCabinetId(), aCabinetId()]
    const up = collect(server, natsSubjectOf(topics.allUp))
    onTestFinished(() => up.sub.unsubscribe())
    await server.flush()
    // B is online with a persistent session subscribed to its downlink.
    const cabinetB = await cabinetClient(url, b, (await identity.issueCabinetUser(b)).jwt, { clean: false })
    expect(await grantedQos(cabinetB, topics.downPrefix(b) + '#')).toEqual([1])
    const bClosed = new Promise<void>((r) => cabinetB.once('close', () => r()))

    // A connects as client id B with its own JWT, resuming B's session: NATS
    // accepts it and evicts B's connection (MQTT takeover), but the session's
    // subscriptions are re-checked against A's permissions and dropped.
    const impostor = await cabinetClient(url, b, (await identity.issueCabinetUser(a)).jwt, { clean: false })
    await bClosed
    const gotImpostor = received(impostor)
    expect(await grantedQos(impostor, topics.downPrefix(b) + '#')).toEqual([SUBACK_FAILURE])
    expect(await grantedQos(impostor, topics.downPrefix(a) + '#')).toEqual([1])
    server.publish(natsSubjectOf(topics.replies(b)), 'for B only')
    server.publish(natsSubjectOf(topics.replies(a)), 'for A')
    await vi.waitFor(() => expect(gotImpostor.length).toBeGreaterThan(0))
    expect(gotImpostor).toEqual([{ topic: topics.replies(a), data: 'for A' }])
    await impostor.publishAsync(topics.sales(b), 'forged sale for B', { qos: 1 })
    await impostor.publishAsync(topics.sales(a), 'A under B\'s client id', { qos: 1 })
    await vi.waitFor(() => expect(up.got.map((m) => m.data)).toContain('A under B\'s client id'))
    expect(up.got).toEqual([{ subject: `cabinets.${a}.up.sales`, data: 'A under B\'s client id' }])
  })

  it('a cabinet JWT is for MQTT only: a plain NATS connection with it is refused', async () => {
    const id = aCabinetId()
    const { jwt } = await identity.issueCabinetUser(id)
    const err = await natsConnect({ servers: cluster.urls, authenticator: jwtAuthenticator(jwt), reconnect: false }).then(
      async (nc) => {
        await nc.close()
        return undefined
      },
      (e: unknown) => e as Error,
    )
    expect(err?.message).toMatch(/authorization/i)
  })

  it('revocation refuses new connects with the old JWT and closes the live session; a JWT issued later connects', async () => {
    const id = aCabinetId()
    const old = await identity.issueCabinetUser(id)
    const live = await cabinetClient(url, id, old.jwt)
    const liveClosed = new Promise<void>((r) => live.once('close', () => r()))

    const revocation = await admin.revokeCabinetUser({ cabinetId: id })
    expect(revocation).toMatchObject({ userPublicKey: old.userPublicKey, attempts: 1 })
    expect(revocation.revokedAtS).toBeGreaterThanOrEqual(old.issuedAtS)
    expect((await admin.fleetRevocations())[old.userPublicKey]).toBe(revocation.revokedAtS)

    await liveClosed // NATS closes a revoked user's connections at once (closeConnection(Revocation))
    expect(await refusedCode(url, id, old.jwt)).toBe(CONNACK_NOT_AUTHORIZED)

    // Rotation: a JWT whose iat is after the revocation is valid again.
    await vi.waitFor(() => expect(Math.floor(Date.now() / 1000)).toBeGreaterThan(revocation.revokedAtS), { timeout: 2_000, interval: 50 })
    const fresh = await identity.issueCabinetUser(id)
    await cabinetClient(url, id, fresh.jwt)
    // Other cabinets were never affected, and a second revocation keeps the first.
    const other = aCabinetId()
    await cabinetClient(url, other, (await identity.issueCabinetUser(other)).jwt)
    await admin.revokeCabinetUser({ userPublicKey: identity.cabinetUserPublicKey(other) })
    expect(Object.keys(await admin.fleetRevocations())).toEqual(expect.arrayContaining([old.userPublicKey, identity.cabinetUserPublicKey(other)]))
  })
})

describe.skipIf(NO_NATS_SERVER)('cabinet credentials on a three-node NATS cluster (skipped: nats-server is not installed; .ci/run installs it)', () => {
  let identity: NatsIdentity
  let cluster: NatsCluster
  afterAll(() => cluster?.stop())

  it('carries a cabinet across nodes, and a revocation sent to one node refuses the JWT on all three, one of them down at the time', async () => {
    identity = createNatsIdentity(createNatsIdentityFile())
    cluster = await startNatsCluster({ nodes: 3, identity })
    const [n1, n2, n3] = cluster.nodes as [NatsCluster['nodes'][0], NatsCluster['nodes'][0], NatsCluster['nodes'][0]]
    const server = await serverConnection(identity, [n3.url])
    onTestFinished(() => server.close())
    const admin = await startNatsAccountAdmin({ identity, servers: [n1.url] })
    onTestFinished(() => admin.close())

    const id = aCabinetId()
    const { jwt } = await identity.issueCabinetUser(id)
    const up = collect(server, natsSubjectOf(topics.allUp))
    await server.flush()
    const cabinet = await cabinetClient(n2.mqttUrl, id, jwt)
    const got = received(cabinet)
    expect(await grantedQos(cabinet, topics.downPrefix(id) + '#')).toEqual([1])
    await cabinet.publishAsync(topics.sales(id), 'sale via n2', { qos: 1 })
    await vi.waitFor(() => expect(up.got).toEqual([{ subject: `cabinets.${id}.up.sales`, data: 'sale via n2' }]))
    // The server's reply enters at n3; the cabinet's subscription interest reaches it over the routes.
    await vi.waitFor(async () => {
      server.publish(natsSubjectOf(topics.replies(id)), 'reply via n3')
      await server.flush()
      expect(got.length).toBeGreaterThan(0)
    })
    expect(got[0]).toEqual({ topic: topics.replies(id), data: 'reply via n3' })

    // Another cabinet, on another node, is confined there as on one node:
    // it cannot read the first one's downlink nor write its uplink.
    const other = aCabinetId()
    const otherCabinet = await cabinetClient(n1.mqttUrl, other, (await identity.issueCabinetUser(other)).jwt)
    const gotOther = received(otherCabinet)
    expect(await grantedQos(otherCabinet, [topics.downPrefix(id) + '#', 'cabinets/+/down/#', '#'])).toEqual([SUBACK_FAILURE, SUBACK_FAILURE, SUBACK_FAILURE])
    expect(await grantedQos(otherCabinet, topics.downPrefix(other) + '#')).toEqual([1])
    await otherCabinet.publishAsync(topics.sales(id), 'forged via n1', { qos: 1 })
    await otherCabinet.publishAsync(topics.sales(other), 'own via n1', { qos: 1 })
    await vi.waitFor(() => expect(up.got.map((m) => m.data)).toContain('own via n1'))
    expect(up.got.map((m) => m.data)).toEqual(['sale via n2', 'own via n1'])
    server.publish(natsSubjectOf(topics.replies(id)), 'for the first cabinet only')
    server.publish(natsSubjectOf(topics.replies(other)), 'for the other')
    await vi.waitFor(() => expect(gotOther.length).toBeGreaterThan(0))
    expect(gotOther).toEqual([{ topic: topics.replies(other), data: 'for the other' }])
    await otherCabinet.endAsync(true)

    await server.close()

    // n3 is down while the revocation is sent to n1.
    await n3.kill('SIGKILL')
    const closed = new Promise<void>((r) => cabinet.once('close', () => r()))
    await admin.revokeCabinetUser({ cabinetId: id })
    await closed // the live session on n2 is closed too
    // n3 comes back with its stale account copy and takes the newer one from
    // its peers at its first resolver sync (one interval after its start);
    // a restarted n2 keeps the copy it got (its older preload does not win).
    await n3.restart()
    await n2.restart()
    expect(await refusedCode(n2.mqttUrl, id, jwt)).toBe(CONNACK_NOT_AUTHORIZED)
    expect(await refusedCode(n1.mqttUrl, id, jwt)).toBe(CONNACK_NOT_AUTHORIZED)
    await vi.waitFor(async () => expect(await refusedCode(n3.mqttUrl, id, jwt)).toBe(CONNACK_NOT_AUTHORIZED), { timeout: 10 * RESOLVER_SYNC_INTERVAL_S * 1000, interval: 200 })
  })
})
