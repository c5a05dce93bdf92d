// Money is integer fen (分) everywhere: 1 yuan = 100 fen. Floats never decide
// an amount or a ratio.
import { z } from 'zod'

export const Fen = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
export type Fen = z.infer<typeof Fen>

/** "¥1,234.50" style display for zh-CN screens and reports. */
export function formatFen(fen: number): string {
  const sign = fen < 0 ? '-' : ''
  const abs = Math.abs(fen)
  const yuan = Math.trunc(abs / 100).toLocaleString('en-US')
  const cents = String(abs % 100).padStart(2, '0')
  return `${sign}¥${yuan}.${cents}`
}

/** Parses "12.5" / "12.50" / "12" yuan into fen without float arithmetic. */
export function yuanToFen(yuan: string): number {
  const m = /^(\d{1,13})(?:\.(\d{1,2}))?$/.exec(yuan.trim())
  if (!m) throw new RangeError(`not a yuan amount with at most 2 decimals: ${JSON.stringify(yuan)}`)
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'))
}

/**
 * Share in basis points (1/100 of a percent), rounded down, from integer fen.
 * 0 when there is no amount at all.
 */
export function shareBp(partFen: number, wholeFen: number): number {
  if (wholeFen <= 0) return 0
  return Math.floor((partFen * 10_000) / wholeFen)
}

/** True when part/whole >= minBp/10000, decided in integers (no float rounding). */
export function meetsShare(partFen: number, wholeFen: number, minBp: number): boolean {
  return BigInt(partFen) * 10_000n >= BigInt(wholeFen) * BigInt(minBp)
}
