// The login throttle's memory bound and windows, on its own (the HTTP side is
// in dashboard.test.ts).
import { describe, expect, it } from 'vitest'
import { createLoginThrottle } from '../../fleet-server/src/access/index.js'

const clock = (iso: string) => {
  let t = new Date(iso)
  return { now: () => t, advance: (ms: number) => void (t = new Date(t.getTime() + ms)) }
}

describe('login throttle', () => {
  it('forgets failures older than the window, so slow typos never lock anyone', () => {
    const c = clock('2020-10-10T00:00:00Z')
    const t = createLoginThrottle(c.now, { maxPerUser: 3, maxPerAddress: 100, windowMs: 60_000, lockMs: 60_000, maxKeys: 100 })
    for (let i = 0; i < 10; i++) {
      t.failed('Dingyuan', '10.0.0.1')
      c.advance(31_000) // two failures per window at most
      expect(t.retryAfterS('dingyuan', '10.0.0.1')).toBe(0)
    }
    c.advance(60_000) // a fresh window
    t.failed('dingyuan', '10.0.0.1')
    t.failed('DINGYUAN', '10.0.0.1')
    expect(t.retryAfterS('dingyuan', '10.0.0.1')).toBe(0)
    t.failed('dingYuan', '10.0.0.1')
    expect(t.retryAfterS('dingyuan', '10.0.0.1')).toBe(60) // usernames compare case-insensitively
  })

  it('remembers at most maxKeys keys, dropping expired ones first, then the oldest', () => {
    const c = clock('2020-10-10T00:00:00Z')
    const t = createLoginThrottle(c.now, { maxPerUser: 2, maxPerAddress: 100, windowMs: 60_000, lockMs: 60_000, maxKeys: 4 })
    t.failed('old', '10.0.0.1') // 2 keys: pair and address; expires
    c.advance(61_000)
    t.failed('a', '10.0.0.2')
    t.failed('a', '10.0.0.2') // locked
    t.failed('b', '10.0.0.3') // needs room: the expired keys go, the lock stays
    expect(t.retryAfterS('a', '10.0.0.2')).toBe(60)
    t.failed('c', '10.0.0.4') // needs room again: nothing expired, so the oldest (a's) go
    expect(t.retryAfterS('a', '10.0.0.2')).toBe(0)
  })
})
