// Issue 14: `--server` takes the brokers of a cluster, comma-separated; the
// agent dials them in turn from a starting point of its own, so when its
// broker dies it carries on through another, and a fleet spreads over them.
import { describe, expect, it, vi } from 'vitest'
import { loadConfig } from '../../edge-agent/src/index.js'
import { ServerRotation, startIndex } from '../../edge-agent/src/sync/servers.js'
import { makeServerCert, makeTestPki } from '../helpers/tls.js'
import { Responder, aSale, startAgent, startBroker, type TestBroker } from './helpers.js'

/** `first` and `second` ordered so that `cabinetId` tries `first` first. */
function inTurn(cabinetId: string, first: string, second: string): string {
  return startIndex(cabinetId, 2) === 0 ? `${first},${second}` : `${second},${first}`
}

const clientsOn = (tb: TestBroker): number => tb.broker.connectedClients

describe('edge agent with several brokers (issue 14)', () => {
  it('takes a comma-separated --server list, checks each URL, and keeps the order given', () => {
    const base = ['--cabinet', 'C1', '--data', '/tmp/x']
    expect(loadConfig({}, [...base, '--server', 'mqtt://10.0.0.1:1883, mqtt://10.0.0.2:1883,mqtt://10.0.0.3:1883']).servers)
      .toEqual(['mqtt://10.0.0.1:1883', 'mqtt://10.0.0.2:1883', 'mqtt://10.0.0.3:1883'])
    expect(loadConfig({ EDGE_SERVER: 'mqtt://a:1,mqtt://b:2' }, base).servers).toEqual(['mqtt://a:1', 'mqtt://b:2'])
    expect(loadConfig({}, base).servers).toEqual(['mqtt://127.0.0.1:1883'])
    expect(() => loadConfig({}, [...base, '--server', 'mqtt://a:1,http://b:2'])).toThrow(/server 2 of 2/)
    expect(() => loadConfig({}, [...base, '--server', 'mqtt://a:1,'])).toThrow(/server 2 of 2/)
    expect(() => loadConfig({}, [...base, '--server', 'mqtt://a:1,mqtt://a:1'])).toThrow(/listed twice/)
    // A CA file is for TLS brokers: every one in the list must be one.
    expect(() => loadConfig({}, [...base, '--server', 'mqtts://a:8883,mqtt://b:1883', '--ca', '/nonexistent'])).toThrow(/TLS server URLs/)
  })

  it('spreads a fleet evenly over the brokers and takes them in turn from there', () => {
    const counts = [0, 0, 0]
    for (let i = 0; i < 3000; i++) counts[startIndex(`341125-${String(i).padStart(5, '0')}`, 3)]!++
    for (const n of counts) expect(Math.abs(n - 1000)).toBeLessThan(150)
    const urls = ['mqtt://a:1', 'mqtt://b:1', 'mqtt://c:1']
    const r = new ServerRotation(urls, 'C9')
    const first = startIndex('C9', 3)
    // Failed attempts move on, round the list.
    expect(Array.from({ length: 4 }, () => r.take().url)).toEqual([0, 1, 2, 3].map((k) => urls[(first + k) % 3]))
    // After a connection that came up, the next attempt returns to the same broker first.
    r.up()
    expect(r.take().url).toBe(urls[first])
    expect(r.take().url).toBe(urls[(first + 1) % 3])
  })

  it('when its broker goes away, carries on through the next one: no sale lost or sent twice', async () => {
    const a = await startBroker()
    const b = await startBroker()
    const ra = await Responder.start(a)
    const rb = await Responder.start(b, ra, true) // one server behind both brokers
    const agent = await startAgent({ serverUrl: inTurn('C1', a.url, b.url) })
    await vi.waitFor(() => expect(agent.status().connected).toBe(true))
    expect([clientsOn(a), clientsOn(b)]).toEqual([1, 0])
    agent.sell(aSale())
    agent.sell(aSale())
    await vi.waitFor(() => expect(agent.status()).toMatchObject({ lastAckedSeq: 2, pending: 0 }))

    await a.close()
    agent.sell(aSale())
    agent.sell(aSale())
    await vi.waitFor(() => expect(agent.status()).toMatchObject({ connected: true, lastAckedSeq: 4, pending: 0 }), { timeout: 10_000 })
    expect(clientsOn(b)).toBe(1)
    expect(rb.batches.length).toBeGreaterThan(0)
    expect(ra.sales('C1').map((s) => s.seq)).toEqual([1, 2, 3, 4])
  })

  it('over TLS verifies each broker by the name it dialed, not the first one\'s', async () => {
    const pki = await makeTestPki()
    // The first broker's certificate names localhost; the second's only 127.0.0.1.
    const a = await startBroker({ tls: { cert: pki.cert, key: pki.key } })
    const b = await startBroker({ tls: makeServerCert(pki, 'ip-only', 'IP:127.0.0.1') })
    const ra = await Responder.start(a)
    await Responder.start(b, ra, true)
    const agent = await startAgent({ serverUrl: inTurn('C1', `mqtts://localhost:${a.port}`, b.url), caFile: pki.caFile })
    await vi.waitFor(() => expect(agent.status().connected).toBe(true), { timeout: 10_000 })
    expect(clientsOn(a)).toBe(1)

    await a.close()
    agent.sell(aSale())
    await vi.waitFor(() => expect(agent.status()).toMatchObject({ connected: true, lastAckedSeq: 1, pending: 0 }), { timeout: 10_000 })
    expect(clientsOn(b)).toBe(1)
  })
})
