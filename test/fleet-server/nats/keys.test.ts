// nkeys on node:crypto (fleet-server/src/nats/keys.ts) give the bytes
// @nats-io/nkeys gives: the same public, private and seed texts, and the same
// signatures (Ed25519 is deterministic), for every role the identity uses.
import { randomBytes } from 'node:crypto'
import { createAccount, createOperator, createUser, fromSeed } from '@nats-io/nkeys'
import { describe, expect, it } from 'vitest'
import { nodeKeyPair, nodeKeyPairFromSeed } from '../../../fleet-server/src/nats/keys.js'
import { encodeSeed, NKEY_PREFIX } from '../../../fleet-server/src/nats/nkey-encoding.js'

const td = new TextDecoder()

describe('nkeys on node:crypto', () => {
  it('match @nats-io/nkeys byte for byte for operator, account and user seeds', () => {
    for (const make of [createOperator, createAccount, createUser]) {
      for (let i = 0; i < 5; i++) {
        const reference = make()
        const ours = nodeKeyPairFromSeed(td.decode(reference.getSeed()))
        expect(ours.getPublicKey()).toBe(reference.getPublicKey())
        expect(td.decode(ours.getSeed())).toBe(td.decode(reference.getSeed()))
        expect(td.decode(ours.getPrivateKey())).toBe(td.decode(reference.getPrivateKey()))
        const message = randomBytes(1 + i * 97)
        expect(Buffer.from(ours.sign(message))).toEqual(Buffer.from(reference.sign(message)))
        expect(ours.verify(message, reference.sign(message))).toBe(true)
        expect(ours.verify(randomBytes(8), reference.sign(message))).toBe(false)
      }
    }
  })

  it('derive a user key from 32 raw bytes as nkeys does from the encoded seed', () => {
    const raw = randomBytes(32)
    const reference = fromSeed(encodeSeed(NKEY_PREFIX.user, raw))
    const ours = nodeKeyPair(NKEY_PREFIX.user, raw)
    expect(ours.getPublicKey()).toBe(reference.getPublicKey())
    expect(ours.getPublicKey().startsWith('U')).toBe(true)
  })

  it('refuse a seed with a broken checksum', () => {
    const seed = td.decode(createUser().getSeed())
    const broken = seed.slice(0, 10) + (seed[10] === 'A' ? 'B' : 'A') + seed.slice(11)
    expect(() => nodeKeyPairFromSeed(broken)).toThrow(/checksum|seed/)
  })
})
