// Issue 16 §2: the ingest's cache of cabinets' public keys. Keyless cabinets
// (the password-provisioned ones, the bench's) must cost no query per batch:
// answered synchronously from what was read at start.
import { generateKeyPairSync } from 'node:crypto'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { createSigningKeys, REFRESH_EVERY_MS } from '../../../fleet-server/src/sales/signing-keys.js'

const pem = () => generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString()

function source(initial: Record<string, string>) {
  const keys = new Map(Object.entries(initial))
  const reads = { all: 0, one: [] as string[] }
  return {
    keys,
    reads,
    src: {
      all: async () => {
        reads.all++
        return new Map(keys)
      },
      one: async (id: string) => {
        reads.one.push(id)
        return keys.get(id) ?? null
      },
    },
  }
}

describe('signing key cache', () => {
  it('answers keyless and keyed cabinets from memory, without a query, until a notice', async () => {
    const s = source({ A: pem() })
    const keys = await createSigningKeys(s.src, pino({ level: 'silent' }))
    for (let i = 0; i < 1000; i++) expect(keys.get(`K${i}`)).toBeNull()
    expect(keys.get('A')).not.toBeNull()
    expect(keys.get('A')).not.toBeInstanceOf(Promise)
    expect(s.reads).toEqual({ all: 1, one: [] })

    // K1 enrolls (on any server): its next batch reads its key once, then memory again.
    s.keys.set('K1', pem())
    keys.invalidate('K1')
    const k1 = keys.get('K1')
    expect(k1).toBeInstanceOf(Promise)
    expect(await k1).not.toBeNull()
    expect(keys.get('K1')).not.toBeInstanceOf(Promise)
    expect(s.reads.one).toEqual(['K1'])

    // Notices may have been missed: everything is read again.
    keys.invalidate('')
    await expect.poll(() => s.reads.all).toBe(2)
    await expect.poll(() => keys.get('K2')).toBeNull()
  })

  it('re-reads a key before a refusal at most once per cabinet per interval', async () => {
    const s = source({ A: pem() })
    const keys = await createSigningKeys(s.src, pino({ level: 'silent' }))
    expect(await keys.refresh('A', 0)).not.toBeNull()
    expect(await keys.refresh('A', REFRESH_EVERY_MS - 1)).toBeNull()
    expect(await keys.refresh('A', REFRESH_EVERY_MS)).not.toBeNull()
    expect(s.reads.one).toEqual(['A', 'A'])
  })
})
