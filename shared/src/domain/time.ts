// Times are stored as UTC ISO instants ending in "Z"; dates a person means
// (report periods, certificate validity, "sold on") are calendar dates in
// Asia/Shanghai. China has kept UTC+8 without daylight saving since 1991, so a
// fixed offset is exact for every date this system handles and keeps the hot
// ingest path free of Intl calls.
import { z } from 'zod'

export const SHANGHAI_OFFSET_MS = 8 * 3600_000
export const TIME_ZONE = 'Asia/Shanghai'

/** An ISO-8601 UTC instant such as 2020-09-30T04:00:00.000Z. */
export const IsoUtc = z.iso.datetime({ offset: false })
/** Any ISO-8601 instant with Z or an explicit offset; normalise with toIsoUtc. */
export const IsoInstant = z.iso.datetime({ offset: true })
/** A calendar date YYYY-MM-DD. */
export const CalendarDate = z.iso.date()

export function toIsoUtc(instant: string | number | Date): string {
  const d = instant instanceof Date ? instant : new Date(instant)
  if (Number.isNaN(d.getTime())) throw new RangeError(`not a time: ${String(instant)}`)
  return d.toISOString()
}

const DAY_MS = 86_400_000
const MAX_DATE_MS = 8.64e15 // ECMAScript's time value range, ±100,000,000 days
// The last day asked for, as [start, end) in UTC ms: ingest asks once per
// sale, nearly always for the same day, and toISOString() costs ~440 ns.
let cachedStartMs = Number.NaN
let cachedEndMs = Number.NaN
let cachedDay = ''

/** The Asia/Shanghai calendar date (YYYY-MM-DD) of a UTC instant. */
export function shanghaiDate(instant: string | number | Date): string {
  const ms = instant instanceof Date ? instant.getTime() : typeof instant === 'number' ? instant : Date.parse(instant)
  if (ms >= cachedStartMs && ms < cachedEndMs) return cachedDay
  // NaN and instants outside Date's range throw here, as before.
  const day = new Date(ms + SHANGHAI_OFFSET_MS).toISOString().slice(0, 10)
  const startMs = Math.floor((ms + SHANGHAI_OFFSET_MS) / DAY_MS) * DAY_MS - SHANGHAI_OFFSET_MS
  // Not the last day Date can hold (+275760-09-13): only its first instant is valid.
  if (startMs + SHANGHAI_OFFSET_MS + DAY_MS <= MAX_DATE_MS) {
    cachedStartMs = startMs
    cachedEndMs = startMs + DAY_MS
    cachedDay = day
  }
  return day
}

/** The UTC instant at which a Shanghai calendar date begins. */
export function shanghaiDayStartUtc(date: string): Date {
  return new Date(Date.parse(`${date}T00:00:00.000Z`) - SHANGHAI_OFFSET_MS)
}

/** Formats a UTC instant for zh-CN display: 2020-09-30 12:00:00 (北京时间). */
export function formatShanghai(instant: string | number | Date): string {
  const ms = instant instanceof Date ? instant.getTime() : typeof instant === 'number' ? instant : Date.parse(instant)
  return new Date(ms + SHANGHAI_OFFSET_MS).toISOString().slice(0, 19).replace('T', ' ')
}
