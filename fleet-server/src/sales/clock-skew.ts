// A cabinet's clock judged against the server's receipt time of its live
// traffic (issue 12): comparing soldAt with the device's own recordedAt, and
// with the server's future, cannot see a clock that runs days behind. Live
// traffic is what the device sent the moment it stamped it — a heartbeat, or a
// sale batch whose sales were recorded right before it was sent (a backlog
// drained after an outage was recorded long before and says nothing).

/**
 * Beyond this the device clock is wrong, not late: transit and queueing take
 * seconds (a dead socket is dropped after 1.5 keep-alives, 90 s at most), and
 * Asia/Shanghai day attribution (certification, reports) goes wrong for sales
 * within this much of midnight. A drifting RTC without NTP gains or loses a few
 * seconds a day, so it takes months to get here.
 */
export const CLOCK_SKEW_LIMIT_MS = 10 * 60_000

/**
 * A batch is live when its newest sale was recorded at most this long before
 * the batch was sent, by the device's own clock: the agent sends a sale at once
 * when it is connected, so longer means it waited in the outbox (backlog).
 */
export const LIVE_SEND_WINDOW_MS = 60_000

/** A hex digit's value (either case), or -1. */
function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  const lower = c | 0x20
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1
}

/**
 * The Unix ms a UUIDv7 carries (RFC 9562, the first 48 bits); null for other
 * ids. Exactly /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i,
 * read by char code: it runs once per sale batch, where the regex's captures
 * and their concatenation cost more than the check.
 */
export function uuidv7Ms(id: string): number | null {
  if (id.length !== 36 || id.charCodeAt(14) !== 0x37) return null
  const variant = id.charCodeAt(19) | 0x20
  if (variant !== 0x38 && variant !== 0x39 && variant !== 0x61 && variant !== 0x62) return null
  let ms = 0
  for (let i = 0; i < 36; i++) {
    const c = id.charCodeAt(i)
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 0x2d) return null
      continue
    }
    const v = hexValue(c)
    if (v < 0) return null
    // 48 bits: exact in a double.
    if (i < 13) ms = ms * 16 + v
  }
  return ms
}

/**
 * Server receipt minus device send time, ms (positive: the device is behind),
 * for a live batch; null for a backlog batch. The agent mints the batchId as a
 * UUIDv7 from its clock when it sends the batch, so the id is the send time.
 */
export function liveBatchSkewMs(batchId: string, newestRecordedAtMs: number, receivedAtMs: number): number | null {
  const sentMs = uuidv7Ms(batchId)
  if (sentMs === null) return null
  const waited = sentMs - newestRecordedAtMs
  if (waited < 0 || waited > LIVE_SEND_WINDOW_MS) return null
  return receivedAtMs - sentMs
}

export const isClockSkewed = (skewMs: number): boolean => Math.abs(skewMs) > CLOCK_SKEW_LIMIT_MS
