// The up-message router: one decode per message, handed to every module that
// handles its kind; a heartbeat that does not decode, or names another
// cabinet, reaches none of them; sales pass through raw with backpressure.
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { createUpRouter, type FleetModule } from '../../fleet-server/src/router.js'
import { encodeMessage, type HeartbeatMsg } from '../../shared/src/index.js'

const hb = (cabinetId: string): HeartbeatMsg => ({
  v: 1, type: 'heartbeat', cabinetId, sentAt: '2020-10-02T12:00:00.000Z', lastSeq: 5, lastAckedSeq: 5, pending: 0,
  oldestPendingAgeS: 0, catalogVersion: 3, uptimeS: 60, agentVersion: 'test',
})

describe('up-message router', () => {
  it('decodes a heartbeat once for all its readers, and drops one that is invalid or names another cabinet', () => {
    const seen: Array<[string, string, unknown]> = []
    const modules: FleetModule[] = [
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
})
