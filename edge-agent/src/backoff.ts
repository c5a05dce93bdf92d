// Exponential backoff with jitter, shared by MQTT reconnects and batch resends.
// Jitter spreads a fleet of cabinets that lost the broker at the same moment.

/**
 * Delay before attempt `attempt` (0-based): min·2^attempt capped at max, then
 * drawn uniformly from [d/2, d] ("equal jitter": never 0, never above max).
 */
export function backoffMs(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const d = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30))
  return Math.round(d / 2 + random() * (d / 2))
}
