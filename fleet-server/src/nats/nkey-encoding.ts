// NATS nkey text encoding (base32 of prefix bytes + key + CRC-16/XMODEM,
// little-endian), for a seed we derive ourselves: @nats-io/nkeys encodes only
// seeds it generates at random (its Codec is not exported). fromSeed() checks
// the prefix and checksum, so a wrong encoding here fails loudly, never quietly.

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

/** nkeys' role prefix bytes (github.com/nats-io/nkeys, strkey.go). */
export const NKEY_PREFIX = { seed: 18 << 3, operator: 14 << 3, account: 0, user: 20 << 3 } as const

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
