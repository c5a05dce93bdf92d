// Cabinet MQTT secrets (issue 12, finding 6): 192 random bits that the agent's
// command line can always take.
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../../edge-agent/src/index.js'
import { generateCabinetSecret, hashCabinetSecret } from '../../../fleet-server/src/cabinets/index.js'
import { createCredentialCache, type StoredCredential } from '../../../fleet-server/src/cabinets/credentials.js'

describe('cabinet secrets', () => {
  it('never begin with "-" and keep 24 random bytes', () => {
    // Unfixed, about 1 in 64 begins with '-': 10,000 draws miss that with
    // probability (63/64)^10000 ≈ 1e-68.
    const secrets = Array.from({ length: 10_000 }, generateCabinetSecret)
    expect(secrets.filter((s) => s.startsWith('-'))).toEqual([])
    for (const s of secrets.slice(0, 100)) expect(Buffer.from(s, 'base64url')).toHaveLength(24)
    expect(new Set(secrets).size).toBe(secrets.length)
  })

  it('reach the agent intact as --password=VALUE even when they begin with "-"', () => {
    const c = loadConfig({}, ['--cabinet', 'C1', '--data', '/tmp/x', '--password=-abc_DEF-1', '--api-port', '0'])
    expect(c.password).toBe('-abc_DEF-1')
  })
})

describe('credential cache', () => {
  /** A cache over one mutable stored credential, counting loads, on a settable clock. */
  function cacheOver(stored: { value: StoredCredential | null }) {
    let t = 0
    let loads = 0
    const cache = createCredentialCache(async () => {
      loads++
      return stored.value
    }, { ttlMs: 60_000, nowMs: () => t })
    return { cache, loads: () => loads, advance: (ms: number) => void (t += ms) }
  }

  it('re-reads an entry older than the TTL (a lost notice is outlived)', async () => {
    const stored = { value: { secretHash: hashCabinetSecret('s1'), status: 'operating' } as StoredCredential | null }
    const { cache, loads, advance } = cacheOver(stored)
    expect(await cache.verify('C1', Buffer.from('s1'))).toBe(true)
    stored.value = { secretHash: hashCabinetSecret('s1'), status: 'retired' }
    advance(59_000)
    expect(await cache.verify('C1', Buffer.from('s1'))).toBe(true) // cached, no notice
    expect(loads()).toBe(1)
    advance(2_000)
    expect(await cache.verify('C1', Buffer.from('s1'))).toBe(false)
    expect(loads()).toBe(2)
  })

  it('judges the session it admitted: retired or rotated elsewhere ends it, an unrelated change does not', async () => {
    const stored = { value: { secretHash: hashCabinetSecret('s1'), status: 'operating' } as StoredCredential | null }
    const { cache } = cacheOver(stored)
    expect(await cache.sessionStillValid('C1')).toBe(true) // never admitted here
    expect(await cache.verify('C1', Buffer.from('s1'))).toBe(true)
    stored.value = { secretHash: hashCabinetSecret('s1'), status: 'suspended' }
    expect(await cache.sessionStillValid('C1')).toBe(true)
    stored.value = { secretHash: hashCabinetSecret('s2'), status: 'operating' }
    expect(await cache.sessionStillValid('C1')).toBe(false)
    expect(await cache.verify('C1', Buffer.from('s1'))).toBe(true) // still cached: the caller invalidates first
    stored.value = { secretHash: hashCabinetSecret('s1'), status: 'retired' }
    expect(await cache.sessionStillValid('C1')).toBe(false)
  })

  it('lists the sessions admitted here that may no longer stay, read in bulk (after missed notices)', async () => {
    const stored = new Map<string, StoredCredential>([
      ['C1', { secretHash: hashCabinetSecret('s1'), status: 'operating' }],
      ['C2', { secretHash: hashCabinetSecret('s2'), status: 'operating' }],
      ['C3', { secretHash: hashCabinetSecret('s3'), status: 'operating' }],
    ])
    const cache = createCredentialCache(async (id) => stored.get(id) ?? null)
    for (const [id, secret] of [['C1', 's1'], ['C2', 's2'], ['C3', 's3']] as const) expect(await cache.verify(id, Buffer.from(secret))).toBe(true)
    stored.set('C1', { secretHash: hashCabinetSecret('s1'), status: 'retired' })
    stored.set('C2', { secretHash: hashCabinetSecret('s2b'), status: 'operating' })
    const asked: string[][] = []
    const loadMany = async (ids: readonly string[]) => {
      asked.push([...ids])
      return new Map([...stored].filter(([id]) => ids.includes(id)))
    }
    expect((await cache.revokedSessions(loadMany)).sort()).toEqual(['C1', 'C2'])
    expect(asked).toEqual([['C1', 'C2', 'C3']])
    expect(await cache.revokedSessions(loadMany)).toEqual([]) // judged once
  })

  it('reads again when an invalidation raced the load, so a login cannot pass on the old state', async () => {
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    let value: StoredCredential = { secretHash: hashCabinetSecret('s1'), status: 'operating' }
    let first = true
    const cache = createCredentialCache(async () => {
      const seen = value
      if (first) {
        first = false
        await gate
      }
      return seen
    })
    const login = cache.verify('C1', Buffer.from('s1'))
    // The retirement commits and its notice arrives while the load is in flight.
    value = { secretHash: hashCabinetSecret('s1'), status: 'retired' }
    cache.invalidate('C1')
    release()
    expect(await login).toBe(false)
  })
})
