// How much other work the event loop got while something ran: a setImmediate
// chain counts the turns. Work that never yields lets it count none.
export async function countingTurns<T>(fn: () => Promise<T>): Promise<{ value: T; turns: number }> {
  let turns = 0
  let spinning = true
  const spin = () => {
    if (!spinning) return
    turns++
    setImmediate(spin)
  }
  setImmediate(spin)
  try {
    return { value: await fn(), turns }
  } finally {
    spinning = false
  }
}
