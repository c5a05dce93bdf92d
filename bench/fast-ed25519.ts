// The NATS JWTs the cluster bench issues (one per cabinet, 19,000 for the
// storm) are signed by @nats-io/nkeys through tweetnacl, pure JS: every
// getPublicKey() and sign() derives the key pair from its seed again, ~8
// scalar multiplications per user JWT, ~100 ms each on this loaded 2-core box
// (30 min for 19,000). In the bench process only, tweetnacl's two Ed25519
// calls are answered by node:crypto (OpenSSL) with memoized key pairs.
// Ed25519 is deterministic: the bytes are the same, which install() checks
// against tweetnacl itself before it swaps anything.
import { createPrivateKey, createPublicKey, randomBytes, sign, type KeyObject } from 'node:crypto'
import { createRequire } from 'node:module'

interface Nacl {
  sign: {
    detached: ((msg: Uint8Array, secretKey: Uint8Array) => Uint8Array) & { verify: unknown }
    keyPair: { fromSeed: (seed: Uint8Array) => { publicKey: Uint8Array; secretKey: Uint8Array } }
  }
}

// The same module instance @nats-io/nkeys requires (CommonJS, one copy in node_modules).
const nacl = createRequire(import.meta.url)('tweetnacl') as Nacl
/** DER prefix of a PKCS#8 Ed25519 private key; the 32-byte seed follows. */
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex')

let installed = false

/** Swaps tweetnacl's fromSeed and detached sign for node:crypto; throws if they would not give the same bytes. */
export function installFastEd25519(): void {
  if (installed) return
  const original = { fromSeed: nacl.sign.keyPair.fromSeed, detached: nacl.sign.detached }
  const keys = new Map<string, { privateKey: KeyObject; publicKey: Uint8Array; secretKey: Uint8Array }>()
  const keyOf = (seed: Uint8Array) => {
    const hex = Buffer.from(seed).toString('hex')
    let k = keys.get(hex)
    if (!k) {
      const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: 'der', type: 'pkcs8' })
      const publicKey = new Uint8Array(Buffer.from(createPublicKey(privateKey).export({ format: 'jwk' }).x!, 'base64url'))
      const secretKey = new Uint8Array(64)
      secretKey.set(seed)
      secretKey.set(publicKey, 32)
      k = { privateKey, publicKey, secretKey }
      keys.set(hex, k)
    }
    return k
  }
  const fromSeed = (seed: Uint8Array) => {
    const k = keyOf(seed.subarray(0, 32))
    return { publicKey: k.publicKey.slice(), secretKey: k.secretKey.slice() }
  }
  const detached = (msg: Uint8Array, secretKey: Uint8Array) => new Uint8Array(sign(null, msg, keyOf(secretKey.subarray(0, 32)).privateKey))

  const seed = new Uint8Array(randomBytes(32))
  const msg = new Uint8Array(randomBytes(100))
  const want = original.fromSeed(seed)
  const got = fromSeed(seed)
  if (!Buffer.from(want.secretKey).equals(Buffer.from(got.secretKey)) || !Buffer.from(original.detached(msg, want.secretKey)).equals(Buffer.from(detached(msg, got.secretKey)))) {
    throw new Error('node:crypto Ed25519 disagrees with tweetnacl: not swapped')
  }
  nacl.sign.keyPair.fromSeed = fromSeed
  nacl.sign.detached = Object.assign(detached, { verify: original.detached.verify })
  installed = true
}
