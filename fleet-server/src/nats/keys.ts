// Ed25519 nkeys on node:crypto (OpenSSL). @nats-io/nkeys signs through
// tweetnacl, pure JS, and derives the key pair from the seed again on every
// getPublicKey() and sign(): about 100 ms per cabinet JWT on a loaded 2-core
// box (a 19,000-cabinet import: half an hour, all of it blocking the event
// loop). These key pairs derive once and sign in microseconds. Ed25519 is
// deterministic, so the bytes are the ones nkeys gives (test/fleet-server/nats/keys.test.ts).
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto'
import type { KeyPair } from '@nats-io/nkeys'
import { decodeSeed, encodePrivate, encodePublic, encodeSeed } from './nkey-encoding.js'

/** DER prefix of a PKCS#8 Ed25519 private key; the 32-byte seed follows. */
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex')

class NodeKeyPair implements KeyPair {
  private readonly privateKey: KeyObject
  private readonly publicKeyObject: KeyObject
  private readonly publicRaw: Uint8Array
  private readonly publicText: string

  constructor(
    private readonly role: number,
    private readonly seed: Uint8Array,
  ) {
    this.privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: 'der', type: 'pkcs8' })
    this.publicKeyObject = createPublicKey(this.privateKey)
    this.publicRaw = new Uint8Array(Buffer.from(this.publicKeyObject.export({ format: 'jwk' }).x!, 'base64url'))
    this.publicText = encodePublic(role, this.publicRaw)
  }

  getPublicKey(): string {
    return this.publicText
  }

  getPrivateKey(): Uint8Array {
    const raw = new Uint8Array(64)
    raw.set(this.seed)
    raw.set(this.publicRaw, 32)
    return encodePrivate(raw)
  }

  getSeed(): Uint8Array {
    return encodeSeed(this.role, this.seed)
  }

  sign(input: Uint8Array): Uint8Array {
    return new Uint8Array(sign(null, input, this.privateKey))
  }

  verify(input: Uint8Array, sig: Uint8Array): boolean {
    return verify(null, input, this.publicKeyObject, sig)
  }

  clear(): void {}

  seal(): Uint8Array {
    throw new Error('only curve keys seal')
  }

  open(): Uint8Array | null {
    throw new Error('only curve keys open')
  }
}

/** The key pair of a role's 32-byte seed. */
export const nodeKeyPair = (role: number, seed: Uint8Array): KeyPair => new NodeKeyPair(role, Uint8Array.from(seed))

/** The key pair of a seed in its text form (`SO…`, `SA…`, `SU…`). */
export function nodeKeyPairFromSeed(text: string): KeyPair {
  const { role, raw } = decodeSeed(text)
  return new NodeKeyPair(role, raw)
}
