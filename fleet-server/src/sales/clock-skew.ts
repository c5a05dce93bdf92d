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

const UUIDV7 = /^([0-9a-f]{8})-([0-9a-f]{4})-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i

/** The Unix ms a UUIDv7 carries (RFC 9562, the first 48 bits); null for other ids. */
export function uuidv7Ms(id: string): number | null {
  const m = UUIDV7.exec(id)
  return m ? Number.parseInt(m[1]! + m[2]!, 16) : null
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
