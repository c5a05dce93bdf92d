// Forwarding timings. Defaults suit production; tests pass smaller ones
// through buildFleet's deps (no environment variable needed for them).
export interface ForwardingOptions {
  /** Scheduled evaluation-and-send passes, ms; 0 = only on demand. */
  readonly intervalMs: number
  /** Delay before a pass after late sales or a catalog change, ms; 0 = none. */
  readonly debounceMs: number
  /** Retry delay cap of the first retry, ms; doubles per attempt (full jitter). */
  readonly baseBackoffMs: number
  readonly maxBackoffMs: number
  /** One request to the platform, ms. */
  readonly timeoutMs: number
  /** Batches in flight at most. */
  readonly concurrency: number
  /** Cabinets per slice of a pass, fixed (tests); unset = sized to the pass's event-loop budget. */
  readonly sliceCabinets?: number
}

export const DEFAULT_FORWARDING: ForwardingOptions = Object.freeze({
  intervalMs: 10 * 60_000, // 10 min: monthly periods need no faster cadence; /forwarding/run forces one
  debounceMs: 2_000, // 2 s: coalesces a burst of catalog edits or late batches into one pass
  baseBackoffMs: 1_000,
  maxBackoffMs: 5 * 60_000, // 5 min: an outage of the platform costs at most that much delay after it ends
  timeoutMs: 15_000,
  concurrency: 4,
})
