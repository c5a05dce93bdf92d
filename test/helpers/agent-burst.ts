// Sales posted to an edge agent's local API as fast as a few workers can, until
// the agent is killed: the crash tests' load (test/e2e/crash.test.ts, test/cluster/),
// and what they then require of the server.
import { expect } from 'vitest'
import { GENESIS_HASH, saleHash, type Sale } from '../../shared/src/index.js'

/** Posts sales with `concurrency` workers until `untilDead` settles; returns the ids answered 201. */
export async function burst(apiPort: number, untilDead: Promise<unknown>, concurrency: number): Promise<string[]> {
  const acked: string[] = []
  let dead = false
  void untilDead.then(() => (dead = true))
  let n = 0
  const worker = async () => {
    while (!dead) {
      const i = n++
      try {
        const res = await fetch(`http://127.0.0.1:${apiPort}/sales`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ items: [{ sku: `SKU-${i % 9}`, qty: 1 + (i % 3), unitPriceFen: 300 + i }], payment: 'wechat' }),
        })
        if (res.status === 201) acked.push(((await res.json()) as { saleId: string }).saleId)
        else if (!dead) throw new Error(`unexpected status ${res.status}: ${await res.text()}`)
      } catch (err) {
        if (!dead && !(err instanceof TypeError)) throw err // TypeError: fetch failed, the agent is gone
        if (!dead) await new Promise((r) => setTimeout(r, 5))
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return acked
}

/**
 * What a crash test requires of the server once the agent has drained: each
 * sale once, seq 1..lastSeq without a gap (the server holds what the ledger
 * holds), every sale answered 201 among them, and an intact chain (each hash
 * recomputes and links to the one before).
 */
export function expectHeldOnceInChain(cabinetId: string, sales: readonly Sale[], lastSeq: number, acknowledged: readonly string[]): void {
  const ids = sales.map((s) => s.saleId)
  expect(new Set(ids).size).toBe(ids.length)
  expect(sales.map((s) => s.seq)).toEqual(Array.from({ length: lastSeq }, (_, i) => i + 1))
  const onServer = new Set(ids)
  expect(acknowledged.filter((id) => !onServer.has(id))).toEqual([])
  expect(new Set(acknowledged).size).toBe(acknowledged.length)
  let prev = GENESIS_HASH
  for (const s of sales) {
    expect(s.prevHash).toBe(prev)
    expect(saleHash(cabinetId, s)).toBe(s.hash)
    prev = s.hash
  }
}
