import { once } from 'node:events'
import { connect } from 'node:net'
import { Duplex } from 'node:stream'
import type { Client } from 'aedes'
import mqtt from 'mqtt'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { GENESIS_HASH, saleHash, topics, uuidv7, type CatalogMsg, type CommandMsg, type PresenceMsg } from '../../shared/src/index.js'
import { openLedger } from '../../edge-agent/src/ledger/index.js'
import { Responder, aSale, startAgent, startBroker, tempDir, type TestBroker } from './helpers.js'

function uplinkOf(tb: TestBroker, topic: string): Array<Record<string, unknown>> {
  return tb.uplink.filter((u) => u.topic === topic).map((u) => u.msg)
}

function aCatalog(version: number, skus: string[]): CatalogMsg {
  return {
    v: 1, type: 'catalog', version, issuedAt: '2020-09-30T00:00:00.000Z',
    items: skus.map((sku) => ({ sku, name: `定远县大米 ${sku}`, priceFen: 4_990, isCertified: true, certificateNo: `FP-${sku}` })),
  }
}

function aCommand(command: CommandMsg['command']): CommandMsg {
  return { v: 1, type: 'command', commandId: uuidv7(), issuedAt: new Date().toISOString(), command }
}

describe('outbox and sync', () => {
  it('clears the outbox only on the server\'s committed reply, not on the broker\'s PUBACK', async () => {
    const tb = await startBroker()
    const responder = await Responder.start(tb)
    responder.mode = 'silent'
    const dataDir = await tempDir()
    const agent = await startAgent({ serverUrl: tb.url, dataDir, ackTimeoutMs: 150 })
    await vi.waitFor(() => expect(agent.status().connected).toBe(true))
    for (let i = 0; i < 3; i++) agent.sell(aSale())

    // The broker takes the batch and retries go out with new batch ids, but nothing is cleared.
    await vi.waitFor(() => expect(responder.batches.length).toBeGreaterThanOrEqual(2))
    expect(new Set(responder.batches.map((b) => b.batchId)).size).toBe(responder.batches.length)
    expect(responder.batches.every((b) => b.sales[0]?.seq === 1)).toBe(true)
    expect(agent.status()).toMatchObject({ lastSeq: 3, lastAckedSeq: 0, pending: 3 })

    responder.mode = 'commit'
    await vi.waitFor(() => expect(agent.status()).toMatchObject({ lastAckedSeq: 3, pending: 0 }), { timeout: 5_000 })
    expect(responder.sales('C1').map((s) => s.seq)).toEqual([1, 2, 3])

    await agent.close()
    const ledger = openLedger({ dataDir, cabinetId: 'C1' })
    expect(ledger.lastAckedSeq).toBe(3) // durable
    ledger.close()
  })

  it('sends a new sale promptly while connected and keeps one batch in flight', async () => {
    const tb = await startBroker()
    const responder = await Responder.start(tb)
    const agent = await startAgent({ serverUrl: tb.url, ackTimeoutMs: 60_000 })
    await vi.waitFor(() => expect(agent.status().connected).toBe(true))
    const acked: number[] = []
    agent.on('acked', (seq) => acked.push(seq))
    agent.sell(aSale())
    // Well inside the (huge) ack timeout: no timer was needed.
    await vi.waitFor(() => expect(agent.status().lastAckedSeq).toBe(1), { timeout: 2_000 })
    for (let i = 0; i < 50; i++) agent.sell(aSale())
    await vi.waitFor(() => expect(agent.status().lastAckedSeq).toBe(51))
    expect(responder.sales('C1')).toHaveLength(51)
    expect(acked.at(-1)).toBe(51)
    // Batches never overlap: each starts right after the previous one's end.
    const firsts = responder.batches.map((b) => b.sales[0]!.seq)
    expect(firsts).toEqual([...firsts].sort((a, b) => a - b))
  })

  it('splits a long outbox into batches of at most batchMaxSales, oldest first', async () => {
    const tb = await startBroker()
    const responder = await Responder.start(tb)
    const dataDir = await tempDir()
    const offline = await startAgent({ dataDir })
    for (let i = 0; i < 25; i++) offline.sell(aSale())
    await offline.close()

    const agent = await startAgent({ serverUrl: tb.url, dataDir, batchMaxSales: 10 })
    await vi.waitFor(() => expect(agent.status().pending).toBe(0))
    expect(responder.batches.map((b) => b.sales.map((s) => s.seq))).toEqual([
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      [11, 12, 13, 14, 15, 16, 17, 18, 19, 20],
      [21, 22, 23, 24, 25],
    ])
  })

  it('keeps selling while the broker is down and syncs after it comes back', async () => {
    const tb = await startBroker()
    let responder = await Responder.start(tb)
    // Short ack timeout: the agent may reconnect before the responder subscribes again.
    const agent = await startAgent({ serverUrl: tb.url, ackTimeoutMs: 300 })
    await vi.waitFor(() => expect(agent.status().connected).toBe(true))
    agent.sell(aSale())
    await vi.waitFor(() => expect(agent.status().lastAckedSeq).toBe(1))

    await tb.close()
    await vi.waitFor(() => expect(agent.status().connected).toBe(false))
    for (let i = 0; i < 5; i++) expect(agent.sell(aSale()).seq).toBe(i + 2)
    expect(agent.status()).toMatchObject({ lastSeq: 6, lastAckedSeq: 1, pending: 5 })

    // A new broker on the same port, in front of the same server state.
    const revived = await startBroker({ port: tb.port })
    responder = await Responder.start(revived, responder)
    await vi.waitFor(() => expect(agent.status()).toMatchObject({ connected: true, lastAckedSeq: 6, pending: 0 }), { timeout: 10_000 })
    expect(responder.sales('C1').map((s) => s.seq)).toEqual([1, 2, 3, 4, 5, 6])
  })

  it('connects at once when told the uplink is back, instead of waiting out its backoff', async () => {
    const tb = await startBroker()
    const responder = await Responder.start(tb)
    // The modem's view: while the uplink is down every dial fails at once.
    let isUp = false
    let dials = 0
    const dial = (): Duplex => {
      dials++
      if (isUp) return connect(tb.port, '127.0.0.1')
      const down = new Duplex({ read() {}, write(_c, _e, cb) { cb() } })
      process.nextTick(() => down.destroy(Object.assign(new Error('uplink down'), { code: 'ENETUNREACH' })))
      return down
    }
    // A backoff far longer than the test: only retryNow() can connect it in time.
    const agent = await startAgent({ serverUrl: tb.url, backoffMinMs: 60_000, backoffMaxMs: 60_000 }, { dial })
    await vi.waitFor(() => expect(dials).toBeGreaterThanOrEqual(1))
    agent.sell(aSale())
    agent.retryNow() // still down: one more failed dial, then the long backoff again
    await new Promise((r) => setTimeout(r, 50))
    expect(agent.status().connected).toBe(false)

    isUp = true
    agent.retryNow()
    await vi.waitFor(() => expect(agent.status()).toMatchObject({ connected: true, lastAckedSeq: 1 }), { timeout: 5_000 })
    expect(responder.sales('C1')).toHaveLength(1)
    // Connected: nothing to do, no second connection.
    const before = dials
    agent.retryNow()
    await new Promise((r) => setTimeout(r, 50))
    expect(dials).toBe(before)
    expect(agent.status().connected).toBe(true)
  })

  it('reconnects by itself after the broker refused its login, once the credential is accepted', async () => {
    let attempts = 0
    const tb = await startBroker({
      authenticate: (_client, username, password, done) => {
        attempts++
        const ok = attempts > 3 && username === 'C1' && password?.toString() === 's3cret'
        if (ok) return done(null, true)
        done(Object.assign(new Error('bad username or password'), { returnCode: 4 as const }), null)
      },
    })
    const responder = await Responder.start(tb)
    const agent = await startAgent({ serverUrl: tb.url, password: 's3cret' })
    agent.sell(aSale())
    await vi.waitFor(() => expect(agent.status()).toMatchObject({ connected: true, lastAckedSeq: 1 }), { timeout: 10_000 })
    expect(attempts).toBeGreaterThanOrEqual(4)
    expect(responder.sales('C1')).toHaveLength(1)
  })

  it('reconnects and subscribes again when the broker refused a downlink subscription', async () => {
    let refusals = 2
    const tb = await startBroker({
      authorizeSubscribe: (_client, sub, done) => (refusals-- > 0 ? done(new Error('not now')) : done(null, sub)),
    })
    await Responder.start(tb)
    const agent = await startAgent({ serverUrl: tb.url })
    agent.sell(aSale())
    await vi.waitFor(() => expect(agent.status()).toMatchObject({ connected: true, lastAckedSeq: 1 }), { timeout: 10_000 })
    expect(refusals).toBeLessThan(0)
  })

  it('rewinds on SALE_SEQ_GAP and resends what the server lost', async () => {
    const tb = await startBroker()
    const responder = await Responder.start(tb)
    const agent = await startAgent({ serverUrl: tb.url })
    for (let i = 0; i < 5; i++) agent.sell(aSale())
    await vi.waitFor(() => expect(agent.status().lastAckedSeq).toBe(5))

    responder.truncate('C1', 2) // the server was restored from a backup holding seq 1..2
    agent.sell(aSale())
    await vi.waitFor(() => expect(agent.status()).toMatchObject({ lastAckedSeq: 6, pending: 0 }))
    expect(responder.replies.some((r) => r.status === 'rejected' && r.code === 'SALE_SEQ_GAP' && r.expectedSeq === 3)).toBe(true)
    const chain = responder.sales('C1')
    expect(chain.map((s) => s.seq)).toEqual([1, 2, 3, 4, 5, 6])
    let prev = GENESIS_HASH
    for (const s of chain) {
      expect(s.prevHash).toBe(prev)
      expect(saleHash('C1', s)).toBe(s.hash)
      prev = s.hash
    }
  })

  it('stops syncing, reports sync_rejected and keeps selling when the server holds more sales than the ledger', async () => {
    const tb = await startBroker()
    const responder = await Responder.start(tb)
    responder.override = (batch) => ({
      v: 1, type: 'reply', status: 'rejected', batchId: batch.batchId, code: 'SALE_SEQ_GAP', message: 'expected seq 100', expectedSeq: 100, committedSeq: 99,
    })
    const agent = await startAgent({ serverUrl: tb.url })
    const halted = once(agent, 'halted')
    agent.sell(aSale())
    expect((await halted)[0]).toMatchObject({ code: 'SALE_SEQ_GAP', expectedSeq: 100, lastSeq: 1 })
    await vi.waitFor(() => expect(uplinkOf(tb, topics.events('C1')).some((e) => e.kind === 'sync_rejected')).toBe(true))
    const sent = responder.batches.length
    responder.override = null
    expect(agent.sell(aSale()).seq).toBe(2)
    expect(agent.status()).toMatchObject({ isSyncHalted: true, pending: 2 })
    // A ping round trip proves the link is alive; still no batch after the halt.
    await tb.publish(topics.commands('C1'), JSON.stringify(aCommand({ name: 'ping' })))
    const beats = uplinkOf(tb, topics.heartbeat('C1')).length
    await vi.waitFor(() => expect(uplinkOf(tb, topics.heartbeat('C1')).length).toBeGreaterThan(beats))
    expect(responder.batches.length).toBe(sent)
  })

  it('resends from fromSeq on a resync command', async () => {
    const tb = await startBroker()
    const responder = await Responder.start(tb)
    const agent = await startAgent({ serverUrl: tb.url })
    for (let i = 0; i < 4; i++) agent.sell(aSale())
    await vi.waitFor(() => expect(agent.status().lastAckedSeq).toBe(4))
    const sent = responder.batches.length
    await tb.publish(topics.commands('C1'), JSON.stringify(aCommand({ name: 'resync', fromSeq: 2 })))
    await vi.waitFor(() => expect(responder.batches.length).toBeGreaterThan(sent))
    expect(responder.batches[sent]!.sales.map((s) => s.seq)).toEqual([2, 3, 4])
    await vi.waitFor(() => expect(agent.status()).toMatchObject({ lastAckedSeq: 4, pending: 0 }))
  })

  it('retries a batch after a non-gap reject only after the maximum backoff', async () => {
    const tb = await startBroker()
    const responder = await Responder.start(tb)
    let rejects = 1
    responder.override = (batch) =>
      rejects-- > 0 ? { v: 1, type: 'reply', status: 'rejected', batchId: batch.batchId, code: 'SALE_CHAIN_BROKEN', message: 'seq 1: prevHash' } : undefined
    const agent = await startAgent({ serverUrl: tb.url, backoffMaxMs: 300 })
    await vi.waitFor(() => expect(agent.status().connected).toBe(true))
    const t0 = Date.now()
    agent.sell(aSale())
    await vi.waitFor(() => expect(agent.status().lastAckedSeq).toBe(1))
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300)
    expect(responder.batches).toHaveLength(2)
    expect(uplinkOf(tb, topics.events('C1')).find((e) => e.kind === 'sync_rejected')).toMatchObject({ detail: { code: 'SALE_CHAIN_BROKEN' } })
  })

  it('ignores malformed downlink messages and keeps working', async () => {
    const tb = await startBroker()
    await Responder.start(tb)
    const agent = await startAgent({ serverUrl: tb.url })
    await vi.waitFor(() => expect(agent.status().connected).toBe(true))
    await tb.publish(topics.replies('C1'), 'not json')
    await tb.publish(topics.replies('C1'), JSON.stringify({ v: 1, type: 'reply', status: 'committed', batchId: 'nope', ackedSeq: 999, ackedHash: 'x' }))
    await tb.publish(topics.replies('C1'), JSON.stringify({ v: 2, type: 'reply' }))
    await tb.publish(topics.catalog('C1'), JSON.stringify({ v: 1, type: 'catalog', version: 'x' }))
    await tb.publish(topics.commands('C1'), JSON.stringify({ v: 1, type: 'command', command: { name: 'format-disk' } }))
    await tb.publish(topics.commands('C1'), Buffer.alloc(300 * 1024, 0x7b))
    agent.sell(aSale())
    await vi.waitFor(() => expect(agent.status()).toMatchObject({ connected: true, lastAckedSeq: 1, catalogVersion: null }))
  })

  it('applies a newer retained catalog atomically and reports its version in the heartbeat', async () => {
    const tb = await startBroker()
    await tb.publish(topics.catalog('C1'), JSON.stringify(aCatalog(2, ['A', 'B'])), { retain: true })
    const agent = await startAgent({ serverUrl: tb.url, heartbeatIntervalMs: 100 })
    await vi.waitFor(() => expect(agent.status().catalogVersion).toBe(2))
    expect(agent.catalog().items.map((i) => i.sku)).toEqual(['A', 'B'])
    await vi.waitFor(() => expect(uplinkOf(tb, topics.heartbeat('C1')).at(-1)).toMatchObject({ catalogVersion: 2, agentVersion: expect.any(String) }))

    await tb.publish(topics.catalog('C1'), JSON.stringify(aCatalog(1, ['OLD'])), { retain: true })
    await tb.publish(topics.catalog('C1'), JSON.stringify(aCatalog(3, ['C'])), { retain: true })
    await vi.waitFor(() => expect(agent.status().catalogVersion).toBe(3))
    expect(agent.catalog().items.map((i) => i.sku)).toEqual(['C'])

    // A sale of a SKU the catalog does not know is still recorded and synced.
    agent.sell(aSale({ items: [{ sku: 'NOT-IN-CATALOG', qty: 1, unitPriceFen: 1 }] }))
    await vi.waitFor(() => expect(uplinkOf(tb, topics.heartbeat('C1')).at(-1)).toMatchObject({ lastSeq: 1, catalogVersion: 3 }))
  })

  it('reports the outbox lag in heartbeats', async () => {
    const tb = await startBroker()
    const responder = await Responder.start(tb)
    responder.mode = 'silent'
    let nowMs = Date.parse('2020-09-30T04:00:00.000Z')
    const agent = await startAgent({ serverUrl: tb.url, heartbeatIntervalMs: 100, ackTimeoutMs: 60_000 }, { now: () => nowMs })
    agent.sell(aSale())
    nowMs += 90_000
    agent.sell(aSale())
    await vi.waitFor(() =>
      expect(uplinkOf(tb, topics.heartbeat('C1')).at(-1)).toMatchObject({ cabinetId: 'C1', lastSeq: 2, lastAckedSeq: 0, pending: 2, oldestPendingAgeS: 90, uptimeS: 90 }),
    )
  })

  it('announces retained presence online on connect and offline on close', async () => {
    const tb = await startBroker()
    const agent = await startAgent({ serverUrl: tb.url })
    await vi.waitFor(() => expect(agent.status().connected).toBe(true))
    const watcher = await mqtt.connectAsync(tb.url, { clientId: 'watcher' })
    onTestFinished(() => watcher.endAsync())
    const presence: PresenceMsg[] = []
    watcher.on('message', (_t, p) => presence.push(JSON.parse(p.toString()) as PresenceMsg))
    await watcher.subscribeAsync(topics.presence('C1'), { qos: 1 })
    await vi.waitFor(() => expect(presence.at(-1)).toMatchObject({ cabinetId: 'C1', state: 'online' }))
    await agent.close()
    await vi.waitFor(() => expect(presence.at(-1)).toMatchObject({ cabinetId: 'C1', state: 'offline' }))
    await agent.close() // idempotent
  })

  it('leaves a retained offline last will when the connection dies', async () => {
    const tb = await startBroker()
    let connection: Client | undefined
    tb.broker.on('clientReady', (client) => {
      if (client.id === 'C1') connection = client
    })
    const agent = await startAgent({ serverUrl: tb.url })
    await vi.waitFor(() => expect(agent.status().connected).toBe(true))
    const willSeen = new Promise<PresenceMsg>((resolve) => {
      tb.broker.subscribe(topics.presence('C1'), (packet, cb) => {
        const msg = JSON.parse(packet.payload.toString()) as PresenceMsg
        cb()
        if (msg.state === 'offline') resolve(msg)
      }, () => {})
    })
    connection!.conn.destroy() // the network drops; no DISCONNECT is sent
    expect(await willSeen).toMatchObject({ cabinetId: 'C1', state: 'offline' })
  })
})
