// The up-message router: one decode per message, handed to every module that
// handles its kind; a heartbeat that does not decode, or names another
// cabinet, reaches none of them; sales pass through raw with backpressure.
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { createBusSink, createUpRouter, type UpModule } from '../../fleet-server/src/router.js'
import { encodeMessage, type HeartbeatMsg } from '../../shared/src/index.js'

const hb = (cabinetId: string): HeartbeatMsg => ({
  v: 1, type: 'heartbeat', cabinetId, sentAt: '2020-10-02T12:00:00.000Z', lastSeq: 5, lastAckedSeq: 5, pending: 0,
  oldestPendingAgeS: 0, catalogVersion: 3, uptimeS: 60, agentVersion: 'test',
})

describe('up-message router', () => {
  it('decodes a heartbeat once for all its readers, and drops one that is invalid or names another cabinet', () => {
    const seen: Array<[string, string, unknown]> = []
    const modules: UpModule[] = [
      { name: 'a', up: { any: (id) => seen.push(['any', id, null]), heartbeat: (id, m) => seen.push(['a', id, m]) } },
      { name: 'b', up: { heartbeat: (id, m) => seen.push(['b', id, m]), events: (id) => seen.push(['events', id, null]) } },
    ]
    const sales: string[] = []
    let done = 0
    const route = createUpRouter({ modules, sales: (id, _p, d) => (sales.push(id), d()), log: pino({ level: 'silent' }) })

    route({ cabinetId: 'C-1', kind: 'heartbeat', payload: Buffer.from(encodeMessage(hb('C-1'))) }, () => done++)
    const [a, b] = seen.filter(([k]) => k === 'a' || k === 'b')
    expect(a![2]).toMatchObject({ cabinetId: 'C-1', lastSeq: 5 })
    expect(b![2]).toBe(a![2]) // the same decoded object: decoded once

    seen.length = 0
    route({ cabinetId: 'C-1', kind: 'heartbeat', payload: Buffer.from(encodeMessage(hb('C-2'))) }, () => done++)
    route({ cabinetId: 'C-1', kind: 'heartbeat', payload: Buffer.from('{"v":1,"type":"heartbeat"}') }, () => done++)
    expect(seen.map(([k]) => k)).toEqual(['any', 'any'])

    route({ cabinetId: 'C-1', kind: 'events', payload: Buffer.from('{}') }, () => done++)
    route({ cabinetId: 'C-1', kind: 'sales', payload: Buffer.from('{}') }, () => done++)
    expect(seen.map(([k]) => k)).toEqual(['any', 'any', 'any', 'events', 'any'])
    expect(sales).toEqual(['C-1'])
    expect(done).toBe(5)
  })

  it('builds the bus sink from the modules: sale batches to the one module taking them, session events to each in module order', () => {
    const seen: string[] = []
    const log = pino({ level: 'silent' })
    const refused: string[] = []
    const modules: UpModule[] = [
      { name: 'a', up: { connected: (id) => seen.push(`a+${id}`), disconnected: (id) => seen.push(`a-${id}`) } },
      { name: 'ingest', up: { sales: (id, _p, done) => (seen.push(`sales ${id}`), done()) } },
      { name: 'b', up: { connected: (id) => seen.push(`b+${id}`), disconnected: (id) => seen.push(`b-${id}`) } },
      { name: 'quiet' },
    ]
    const sink = createBusSink({ modules, refused: (r) => refused.push(r), log })
    sink.connected('C-1')
    let done = 0
    sink.message({ cabinetId: 'C-1', kind: 'sales', payload: Buffer.from('{}') }, () => done++)
    sink.disconnected('C-1')
    sink.transportRefused('max_connections')
    expect(seen).toEqual(['a+C-1', 'b+C-1', 'sales C-1', 'a-C-1', 'b-C-1'])
    expect(done).toBe(1)
    expect(refused).toEqual(['max_connections'])

    const takesSales: UpModule = { name: 'again', up: { sales: () => undefined } }
    expect(() => createBusSink({ modules: [...modules, takesSales], refused: () => undefined, log })).toThrow('exactly one module must take sale batches; found 2')
    expect(() => createBusSink({ modules: [modules[0]!], refused: () => undefined, log })).toThrow('found 0')
  })

  it('hands one presence copy to both presence readers, and a NATS cluster\'s two copies each to its own', () => {
    const seen: string[] = []
    const modules: UpModule[] = [
      {
        name: 'view',
        up: {
          any: (id) => seen.push(`any ${id}`),
          presence: (id) => seen.push(`view ${id}`),
          sessionFound: (id) => seen.push(`found ${id}`),
          sessionsListed: (holds) => seen.push(`listed ${['C-2', 'C-4'].filter(holds).join()}`),
        },
      },
      { name: 'once', up: { presenceOnce: (id) => seen.push(`once ${id}`) } },
      { name: 'ingest', up: { sales: (_id, _p, done) => done() } },
    ]
    const sink = createBusSink({ modules, refused: () => undefined, log: pino({ level: 'silent' }) })
    let done = 0
    const presence = Buffer.from('{}')
    // Embedded or external broker: one copy per process serves both.
    sink.message({ cabinetId: 'C-1', kind: 'presence', payload: presence }, () => done++)
    expect(seen).toEqual(['any C-1', 'view C-1', 'once C-1'])
    // NATS: every replica's copy, then the queue group's copy on one replica.
    seen.length = 0
    sink.message({ cabinetId: 'C-2', kind: 'presence', payload: presence, audience: 'every-replica' }, () => done++)
    sink.message({ cabinetId: 'C-2', kind: 'presence', payload: presence, audience: 'one-replica' }, () => done++)
    sink.sessionFound?.('C-3')
    sink.sessionsListed?.((id) => id === 'C-4')
    expect(seen).toEqual(['any C-2', 'view C-2', 'once C-2', 'found C-3', 'listed C-4'])
    expect(done).toBe(3)
  })
})
