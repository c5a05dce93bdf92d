// Identifiers. Sale ids are UUIDv7 minted on the cabinet: time-ordered ids keep
// the server's B-tree inserts at the right edge (measured: nearly twice the
// SQLite ingest rate of random v4 ids).
import { randomFillSync } from 'node:crypto'
import { z } from 'zod'

/** Cabinet ids are MQTT topic segments, so no '/', '+', '#' or spaces. */
export const CabinetId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, '专柜编号须为 1–64 位字母、数字或 _ . -（以字母或数字开头）')
export type CabinetId = z.infer<typeof CabinetId>

export const Uuid = z.uuid()

let lastMs = 0
let seqInMs = 0
// Random bytes drawn 256 ids at a time, as crypto.randomUUID() does: a
// randomBytes(16) per id was ~5 µs of an edge agent's ~100 µs sale.
const POOL = Buffer.allocUnsafe(16 * 256)
let poolAt = POOL.length

/**
 * RFC 9562 UUIDv7: 48-bit Unix ms, then a 12-bit counter within the ms so ids
 * minted in one process are strictly increasing, then 62 random bits.
 */
export function uuidv7(nowMs: number = Date.now()): string {
  if (nowMs <= lastMs) {
    seqInMs++
    if (seqInMs > 0xfff) {
      lastMs++
      seqInMs = 0
    }
  } else {
    lastMs = nowMs
    seqInMs = 0
  }
  if (poolAt === POOL.length) {
    randomFillSync(POOL)
    poolAt = 0
  }
  // This id's 16 bytes of the pool, each used once: overwritten by the time
  // and version fields, the rest stays random.
  const o = poolAt
  poolAt += 16
  const b = POOL
  const ms = lastMs
  b[o] = Math.floor(ms / 2 ** 40) & 0xff
  b[o + 1] = Math.floor(ms / 2 ** 32) & 0xff
  b[o + 2] = (ms >>> 24) & 0xff
  b[o + 3] = (ms >>> 16) & 0xff
  b[o + 4] = (ms >>> 8) & 0xff
  b[o + 5] = ms & 0xff
  b[o + 6] = 0x70 | ((seqInMs >>> 8) & 0x0f)
  b[o + 7] = seqInMs & 0xff
  b[o + 8] = 0x80 | (b[o + 8]! & 0x3f)
  const h = b.toString('hex', o, o + 16)
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}
