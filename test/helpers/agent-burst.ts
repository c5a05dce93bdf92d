// Sales posted to an edge agent's local API as fast as a few workers can, until
// the agent is killed: the crash tests' load (test/e2e/crash.test.ts, test/cluster/).

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
