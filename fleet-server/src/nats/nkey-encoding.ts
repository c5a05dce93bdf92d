// NATS nkey text encoding (base32 of prefix bytes + key + CRC-16/XMODEM,
// little-endian), for a seed we derive ourselves: @nats-io/nkeys encodes only
// seeds it generates at random (its Codec is not exported). fromSeed() checks
// the prefix and checksum, so a wrong encoding here fails loudly, never quietly.

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

/** nkeys' role prefix bytes (github.com/nats-io/nkeys, strkey.go). */
export const NKEY_PREFIX = { seed: 18 << 3, private: 15 << 3, operator: 14 << 3, account: 0, user: 20 << 3 } as const

function crc16Xmodem(bytes: Uint8Array): number {
  let crc = 0
  for (const b of bytes) {
    crc ^= b << 8
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  }
  return crc
}

function base32(bytes: Uint8Array): string {
  let out = ''
  let bits = 0
  let value = 0
  for (const b of bytes) {
    value = (value << 8) | b
    bits += 8
    while (bits >= 5) {
      out += BASE32_ALPHABET[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  if (bits > 0) out += BASE32_ALPHABET[(value << (5 - bits)) & 31]
  return out
}

/** The text form (`SU…`, `SA…`) of a 32-byte ed25519 seed for the given role. */
export function encodeSeed(role: number, raw: Uint8Array): Uint8Array {
  if (raw.length !== 32) throw new Error(`an nkey seed is 32 bytes, got ${raw.length}`)
  // Two prefix bytes: 5 bits "seed", then the role's 5 bits split across the byte boundary.
  const payload = new Uint8Array(2 + 32 + 2)
  payload[0] = NKEY_PREFIX.seed | (role >> 5)
  payload[1] = (role & 31) << 3
  payload.set(raw, 2)
  const crc = crc16Xmodem(payload.subarray(0, 34))
  payload[34] = crc & 0xff
  payload[35] = crc >> 8
  return new TextEncoder().encode(base32(payload))
}

function withCrc(payload: Uint8Array): string {
  const out = new Uint8Array(payload.length + 2)
  out.set(payload)
  const crc = crc16Xmodem(payload)
  out[payload.length] = crc & 0xff
  out[payload.length + 1] = crc >> 8
  return base32(out)
}

/** The text form (`U…`, `A…`, `O…`) of a 32-byte ed25519 public key for the given role. */
export function encodePublic(role: number, raw: Uint8Array): string {
  if (raw.length !== 32) throw new Error(`an nkey public key is 32 bytes, got ${raw.length}`)
  const payload = new Uint8Array(1 + 32)
  payload[0] = role
  payload.set(raw, 1)
  return withCrc(payload)
}

/** The text form (`P…`) of a 64-byte ed25519 private key (seed, then public key). */
export function encodePrivate(raw: Uint8Array): Uint8Array {
  if (raw.length !== 64) throw new Error(`an nkey private key is 64 bytes, got ${raw.length}`)
  const payload = new Uint8Array(1 + 64)
  payload[0] = NKEY_PREFIX.private
  payload.set(raw, 1)
  return new TextEncoder().encode(withCrc(payload))
}

/** A seed's role and 32 raw bytes, from its text form; throws on a bad checksum or prefix. */
export function decodeSeed(text: string): { role: number; raw: Uint8Array } {
  const bytes = unbase32(text)
  if (bytes.length !== 36) throw new Error('an nkey seed decodes to 36 bytes')
  const crc = crc16Xmodem(bytes.subarray(0, 34))
  if (bytes[34] !== (crc & 0xff) || bytes[35] !== crc >> 8) throw new Error('nkey seed checksum mismatch')
  if ((bytes[0]! & 0xf8) !== NKEY_PREFIX.seed) throw new Error('not an nkey seed')
  return { role: ((bytes[0]! & 7) << 5) | (bytes[1]! >> 3), raw: bytes.slice(2, 34) }
}

function unbase32(text: string): Uint8Array {
  const out: number[] = []
  let bits = 0
  let value = 0
  for (const ch of text) {
    const v = BASE32_ALPHABET.indexOf(ch)
    if (v < 0) throw new Error('not base32')
    value = ((value << 5) | v) & 0xffff
    bits += 5
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff)
      bits -= 8
    }
  }
  return Uint8Array.from(out)
}
