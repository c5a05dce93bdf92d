// Property tests over every MQTT topic a cabinet can publish to (issue 12),
// from an authenticated real mqtt.js cabinet on the real embedded broker:
// random, malformed and near-valid payloads on each up kind (UP_KINDS, so a
// new kind is covered), foreign topics, and wildcard or foreign subscriptions.
// Invariants: a sale payload that is not committed gets a reject reply with a
// code; the sales tables change only when a batch is committed; the server
// stays up; and the cabinet still commits a valid sale afterwards.
import fc from 'fast-check'
import mqtt from 'mqtt'
import { describe, expect, it, onTestFinished } from 'vitest'
import { MAX_MESSAGE_BYTES, RejectCode, ReplyMsg, topics, UP_KINDS, type SaleBatchMsg } from '../../shared/src/index.js'
import { fcParams, hostileString, salePayload, upPayload } from '../helpers/arbitraries.js'
import { connectCabinet, expectDisconnected, provision, startFleet, type Provisioned } from '../helpers/fleet.js'
import { aBatch, aChain } from '../helpers/sales.js'
import { recordTrustCounts } from '../helpers/trust-counts.js'
import { changedTables, tableSnapshots, watchUncaught } from './invariants.js'
import { sqlRow } from '../helpers/test-db.js'

const SALE_RUNS = Number(process.env.PROP_MQTT_RUNS ?? 60)
const OTHER_RUNS = Math.ceil(SALE_RUNS / 2)
const TOPIC_RUNS = 12

/** Tables holding sales or figures derived from them (named so; a new one is picked up by name). */
const isSalesTable = (name: string): boolean => /sale|certified/.test(name)

/**
 * Violations found by this suite in files another engineer owns (issue 12);
 * each is allowed only for exactly its case, and goes once the fix is merged.
 */
// Cases the suite found that are not fixed yet, each named with its finding; empty when none.
const KNOWN_FAILURES: ReadonlyArray<{ readonly finding: string; readonly matches: (reply: Record<string, unknown>) => boolean }> = []

/** A cabinet on real mqtt.js that keeps every reply as sent, so a reply that breaks ReplyMsg is seen, not thrown. */
interface RawCabinet {
  readonly cabinetId: string
  readonly client: mqtt.MqttClient
  /** Publishes raw bytes on the sales topic and resolves with the next reply. */
  sendRaw(payload: Buffer | string): Promise<Record<string, unknown>>
  send(batch: SaleBatchMsg): Promise<Record<string, unknown>>
}

async function connectRaw(mqttUrl: string, cab: Provisioned): Promise<RawCabinet> {
  const client = await mqtt.connectAsync(mqttUrl, { clientId: cab.cabinetId, username: cab.mqtt.username, password: cab.mqtt.password, reconnectPeriod: 0 }, false)
  onTestFinished(() => client.endAsync(true))
  const replies: Array<Record<string, unknown>> = []
  client.on('message', (topic, payload) => {
    if (topic === topics.replies(cab.cabinetId)) replies.push(JSON.parse(payload.toString()) as Record<string, unknown>)
  })
  expect((await client.subscribeAsync(topics.replies(cab.cabinetId), { qos: 1 }))[0]?.qos).toBe(1)
  const sendRaw = async (payload: Buffer | string): Promise<Record<string, unknown>> => {
    const seen = replies.length
    // A dropped connection would leave a QoS 1 publish waiting for ever: fail it by name instead.
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      client.publishAsync(topics.sales(cab.cabinetId), payload, { qos: 1 }),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no PUBACK within 10 s (connected: ${client.connected})`)), 10_000))),
    ]).finally(() => clearTimeout(timer))
    await expect.poll(() => replies.length, { timeout: 10_000, interval: 5 }).toBeGreaterThan(seen)
    return replies[seen]!
  }
  return { cabinetId: cab.cabinetId, client, sendRaw, send: (batch) => sendRaw(JSON.stringify(batch)) }
}

/** A payload every version of the server rejects: the barrier that says earlier messages were taken. */
const BARRIER = Buffer.from('not json')

async function expectBarrier(cab: RawCabinet): Promise<void> {
  const r = await cab.sendRaw(BARRIER)
  expect(r).toMatchObject({ status: 'rejected', code: 'BAD_MESSAGE' })
}

async function setUp() {
  const fleet = await startFleet()
  const a = await provision(fleet, { countyCode: '341125' })
  const b = await provision(fleet, { countyCode: '341126' })
  const cabA = await connectRaw(fleet.mqttUrl, a)
  // A chain head to build near-valid batches on, so they reach the chain rules.
  const chain = aChain(a.cabinetId, 2)
  expect(await cabA.send(aBatch(a.cabinetId, chain))).toMatchObject({ status: 'committed', ackedSeq: 2 })
  const head = { seq: 2, hash: chain[1]!.hash }
  const snapshot = tableSnapshots(fleet.database, isSalesTable)
  const uncaught = watchUncaught()
  onTestFinished(() => uncaught.stop())
  const totals = () => sqlRow(fleet.database, 'SELECT sales_count, amount_fen, skewed_count, last_seq, last_hash, last_sale_at FROM cabinet_sales WHERE cabinet_id = ?', a.cabinetId)
  const chainStatus = async () => (await sqlRow<{ chain_status: string }>(fleet.database, 'SELECT chain_status FROM cabinet_sales WHERE cabinet_id = ?', a.cabinetId))?.chain_status
  return { fleet, a, b, cabA, chain, head, snapshot, totals, chainStatus, uncaught }
}

/** Healthy afterwards: /healthz answers and the cabinet commits the next sale of its chain. */
async function expectStillServing(s: Awaited<ReturnType<typeof setUp>>, cab: RawCabinet): Promise<void> {
  expect(s.uncaught.errors).toEqual([])
  expect((await s.fleet.http.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
  const acked = (await s.fleet.http.inject({ method: 'GET', url: `/api/v1/cabinets/${s.a.cabinetId}`, headers: { authorization: `Bearer ${s.fleet.adminToken}` } })).json() as { sales: { lastSeq: number } }
  const [next] = aChain(s.a.cabinetId, 1, { fromSeq: acked.sales.lastSeq + 1, prevHash: await headHash(s, acked.sales.lastSeq) })
  expect(await cab.send(aBatch(s.a.cabinetId, [next!]))).toMatchObject({ status: 'committed', ackedSeq: acked.sales.lastSeq + 1 })
}

async function headHash(s: Awaited<ReturnType<typeof setUp>>, seq: number): Promise<string> {
  if (seq === s.head.seq) return s.head.hash
  // A generated batch was committed (a mutation that left it valid): ask the server for its head.
  const r = (await s.fleet.http.inject({ method: 'GET', url: `/api/v1/cabinets/${s.a.cabinetId}/sales?afterSeq=${seq - 1}&limit=1`, headers: { authorization: `Bearer ${s.fleet.adminToken}` } })).json() as { sales: Array<{ hash: string }> }
  return r.sales[0]!.hash
}

describe('every MQTT handler under hostile payloads', () => {
  it('answers every sale payload it does not commit with a reject and a code, and leaves the sales tables unchanged', async () => {
    const s = await setUp()
    const codes = new Set<string>()
    let messages = 0
    let knownFailures = 0
    await fc.assert(
      fc.asyncProperty(salePayload(s.a.cabinetId, s.head), async (payload) => {
        const before = await s.snapshot()
        const totalsBefore = await s.totals()
        const reply = await s.cabA.sendRaw(payload)
        messages++
        expect(s.uncaught.errors, 'the sales handler threw out to the process').toEqual([])
        const where = `payload ${payload.toString('utf8', 0, 400)} → ${JSON.stringify(reply)}`
        if (!ReplyMsg.safeParse(reply).success) {
          expect(KNOWN_FAILURES.some((k) => k.matches(reply)), `the reply breaks ReplyMsg: ${where}`).toBe(true)
          knownFailures++
        }
        if (reply.status === 'committed') return // a mutation left it valid, or a replay re-acked
        expect(reply.status, where).toBe('rejected')
        expect(RejectCode.options, where).toContain(reply.code)
        codes.add(reply.code as string)
        const changed = changedTables(before, await s.snapshot())
        if (reply.code === 'SALE_TAMPERED') {
          // protocol.md: a tampered chain flags the cabinet (chain_status, tampered_*); nothing of the batch commits.
          expect(changed.filter((t) => t !== 'cabinet_sales'), `sales tables changed by a tampered batch: ${where}`).toEqual([])
          expect(await s.totals(), where).toEqual(totalsBefore)
          expect(await s.chainStatus()).toBe('tampered')
        } else {
          expect(changed, `sales tables changed by a rejected sale: ${where}`).toEqual([])
        }
      }),
      // A batchId that only the loose pattern takes: the KNOWN_FAILURES case, tried on every run.
      // The codes asserted below are tried on every run too (drawn at random, an
      // oversized payload is missed in ~5% of 60-run passes).
      {
        ...fcParams(SALE_RUNS),
        examples: [
          [Buffer.from(JSON.stringify({ v: 1, type: 'sales', batchId: '00000000-0000-0000-0000-000000000001' }))],
          [Buffer.alloc(MAX_MESSAGE_BYTES + 1, 0x20)],
          [Buffer.from(JSON.stringify({ v: 2, type: 'sales' }))],
          [Buffer.from('{"v":1,')],
        ],
      },
    )
    // The generator reached past JSON parsing into the schema and the chain rules.
    expect([...codes]).toEqual(expect.arrayContaining(['BAD_MESSAGE', 'UNSUPPORTED_VERSION', 'MESSAGE_TOO_LARGE']))
    expect([...codes].filter((c) => c.startsWith('SALE_') || c === 'CABINET_MISMATCH').length).toBeGreaterThan(0)
    await expectStillServing(s, s.cabA)
    recordTrustCounts('property', { mqttMessages: messages, mqttKnownFailures: knownFailures, hostileInputs: messages })
  })

  it('takes any payload on the other up topics without touching the sales tables or dropping the cabinet', async () => {
    const s = await setUp()
    const otherKinds = UP_KINDS.filter((k) => k !== 'sales')
    expect(otherKinds.length).toBeGreaterThanOrEqual(3)
    let messages = 0
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...otherKinds).chain((kind) => fc.tuple(fc.constant(kind), upPayload(s.a.cabinetId, kind))),
        async ([kind, payload]) => {
          const before = await s.snapshot()
          await s.cabA.client.publishAsync(`${topics.upPrefix(s.a.cabinetId)}${kind}`, payload, { qos: 1 })
          await expectBarrier(s.cabA) // the message before it has been handled
          messages += 2
          expect(s.uncaught.errors, `the ${kind} handler threw out to the process`).toEqual([])
          expect(s.cabA.client.connected).toBe(true)
          expect(changedTables(before, await s.snapshot()), `sales tables changed by a ${kind} message: ${payload.toString('utf8', 0, 400)}`).toEqual([])
        },
      ),
      fcParams(OTHER_RUNS),
    )
    await expectStillServing(s, s.cabA)
    recordTrustCounts('property', { mqttMessages: messages, hostileInputs: messages })
  })

  it('drops a cabinet that publishes outside its own up/ topics, ignores unknown kinds under them, and lets it back in', async () => {
    const s = await setUp()
    const own = topics.upPrefix(s.a.cabinetId)
    const topic = fc.oneof(
      fc.constantFrom(
        topics.sales(s.b.cabinetId),
        topics.heartbeat(s.b.cabinetId),
        topics.replies(s.a.cabinetId),
        topics.catalog(s.a.cabinetId),
        topics.commands(s.b.cabinetId),
        `cabinets/${s.a.cabinetId}/up`,
        `cabinets/${s.a.cabinetId}`,
        '$SYS/broker/uptime',
        'cabinets',
        '/',
        `${own}unknown`,
        `${own}sales/extra`,
        `${own}`,
      ),
      hostileString.filter((t) => t.length > 0 && t.length < 200 && !t.includes('+') && !t.includes('#') && !t.includes('\u0000')).map((t) => (t.startsWith('$') ? t : `${own}${t}`)),
    )
    let cab = s.cabA
    let messages = 0
    let dropped = 0
    await fc.assert(
      fc.asyncProperty(topic, async (t) => {
        const before = await s.snapshot()
        await cab.client.publishAsync(t, Buffer.from('{"v":1}'), { qos: 0 })
        messages++
        if (t.startsWith(own)) {
          await expectBarrier(cab) // allowed to publish there; anything but a known kind is ignored
        } else {
          await expectDisconnected(cab.client)
          dropped++
          cab = await connectRaw(s.fleet.mqttUrl, s.a)
        }
        expect(changedTables(before, await s.snapshot()), `sales tables changed by a publish to ${t}`).toEqual([])
      }),
      { ...fcParams(TOPIC_RUNS), examples: [[topics.sales(s.b.cabinetId)], [topics.replies(s.a.cabinetId)], ['$SYS/broker/uptime'], [`${own}unknown`]] },
    )
    expect(dropped).toBeGreaterThanOrEqual(3)
    if (!cab.client.connected) cab = await connectRaw(s.fleet.mqttUrl, s.a)
    await expectStillServing(s, cab)
    recordTrustCounts('property', { mqttMessages: messages, mqttForeignTopics: dropped, hostileInputs: messages })
  })

  it('refuses wildcard, system and foreign subscriptions (SUBACK 0x80) and never delivers another cabinet\'s messages', async () => {
    const s = await setUp()
    const seen: string[] = []
    s.cabA.client.on('message', (t) => seen.push(t))
    const filter = fc.oneof(
      fc.constantFrom(
        '#',
        '+',
        '+/+/+/+',
        '$SYS/#',
        'cabinets/#',
        'cabinets/+/down/replies',
        `cabinets/${s.a.cabinetId}/down/#`,
        `cabinets/${s.a.cabinetId}/+/replies`,
        topics.replies(s.b.cabinetId),
        topics.sales(s.b.cabinetId),
        topics.sales(s.a.cabinetId),
        'cabinets/+/up/#',
      ),
      hostileString.filter((t) => t.length > 0 && t.length < 200 && !t.includes('\u0000')),
    )
    let refused = 0
    await fc.assert(
      fc.asyncProperty(filter, async (f) => {
        const granted = await s.cabA.client.subscribeAsync(f, { qos: 1 }).then(
          (g) => g[0]?.qos,
          (err: Error) => {
            // mqtt.js rejects a SUBACK failure code as an error named after it (0x80: "Unspecified
            // error"), and refuses to send an invalid filter ("a#") at all.
            if (/^Invalid topic/.test(err.message)) return null
            return err.message === 'Subscribe error: Unspecified error' ? 128 : err.message
          },
        )
        if (granted === null) return // nothing reached the server
        expect(granted, `subscription to ${f}`).toBe(128)
        refused++
        expect(s.cabA.client.connected).toBe(true)
      }),
      { ...fcParams(TOPIC_RUNS * 2), examples: [['#'], ['$SYS/#'], [topics.replies(s.b.cabinetId)], ['cabinets/+/down/replies']] },
    )
    expect(refused).toBeGreaterThan(TOPIC_RUNS / 2)
    // Traffic of the other cabinet and of A's own up/ topics reaches nobody but the server.
    const cabB = await connectCabinet(s.fleet.mqttUrl, s.b)
    expect(await cabB.send(aBatch(s.b.cabinetId, aChain(s.b.cabinetId, 1)))).toMatchObject({ status: 'committed' })
    await expectBarrier(s.cabA)
    expect(seen.filter((t) => t !== topics.replies(s.a.cabinetId) && t !== topics.catalog(s.a.cabinetId))).toEqual([])
    await expectStillServing(s, s.cabA)
    recordTrustCounts('property', { mqttSubscriptions: refused, hostileInputs: refused })
  })

  it('refuses a login with bad credentials without affecting the cabinet that holds them', async () => {
    const s = await setUp()
    await fc.assert(
      fc.asyncProperty(fc.record({ password: hostileString.filter((p) => p.length < 1000), asOther: fc.boolean() }), async ({ password, asOther }) => {
        const id = asOther ? s.b.cabinetId : s.a.cabinetId
        const attempt = mqtt.connectAsync(s.fleet.mqttUrl, { clientId: id, username: id, password, reconnectPeriod: 0, connectTimeout: 5_000 }, false)
        await expect(attempt).rejects.toThrow()
      }),
      fcParams(TOPIC_RUNS),
    )
    expect(s.cabA.client.connected).toBe(true)
    await expectStillServing(s, s.cabA)
  })
})
