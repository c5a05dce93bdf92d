// How much other work the event loop got while something ran: a setImmediate
// chain counts the turns, and times the longest stretch between two of them.
// Work that never yields lets it count none.
export async function countingTurns<T>(fn: () => Promise<T>): Promise<{ value: T; turns: number; longestGapMs: number; elapsedMs: number }> {
  let turns = 0
  let spinning = true
  const start = performance.now()
  let last = start
  let longestGapMs = 0
  const spin = () => {
    if (!spinning) return
    const now = performance.now()
    longestGapMs = Math.max(longestGapMs, now - last)
    last = now
    turns++
    setImmediate(spin)
  }
  setImmediate(spin)
  try {
    const value = await fn()
    const end = performance.now()
    return { value, turns, longestGapMs: Math.max(longestGapMs, end - last), elapsedMs: end - start }
  } finally {
    spinning = false
  }
}
