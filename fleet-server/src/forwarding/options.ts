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
  /** One request to the platform, all phases together, ms. */
  readonly timeoutMs: number
  /** TCP connect plus TLS handshake, ms. */
  readonly connectTimeoutMs: number
  /** Request written → answer headers, ms. */
  readonly headersTimeoutMs: number
  /** Answer headers → last byte of the answer, ms. */
  readonly bodyTimeoutMs: number
  /** Largest answer read, bytes; past it the connection is dropped and the attempt failed. */
  readonly maxAnswerBytes: number
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
  timeoutMs: 30_000, // 30 s: the sum of the phases below bounds a sane exchange
  connectTimeoutMs: 5_000, // 5 s: a handshake needs a few round trips, not seconds
  headersTimeoutMs: 15_000, // 15 s: the platform stores the batch before it answers
  bodyTimeoutMs: 10_000, // 10 s: a receipt is a few dozen bytes
  maxAnswerBytes: 64 * 1024, // 64 KiB: a receipt or an error is far smaller; more is not an answer
  concurrency: 4,
})
