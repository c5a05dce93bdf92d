// The fault proxy itself: each fault does what the scenarios rely on, against
// a real echo server over real sockets.
import { once } from 'node:events'
import { connect, createServer, type Socket } from 'node:net'
import { describe, expect, it, onTestFinished } from 'vitest'
import { seededRandom, startTcpProxy } from '../helpers/tcp-proxy.js'

async function echoProxy() {
  let accepted = 0
  const echo = createServer((s) => {
    accepted++
    s.pipe(s)
  })
  echo.listen(0, '127.0.0.1')
  await once(echo, 'listening')
  const port = (echo.address() as { port: number }).port
  const proxy = await startTcpProxy({ target: { port }, seed: 'proxy-test' })
  onTestFinished(async () => {
    await proxy.close()
    await new Promise((r) => echo.close(r))
  })
  return Object.assign(proxy, { accepted: () => accepted })
}

async function client(port: number) {
  const sock: Socket = connect(port, '127.0.0.1')
  await once(sock, 'connect')
  let got = ''
  sock.on('data', (d: Buffer) => (got += d.toString()))
  sock.on('error', () => undefined)
  onTestFinished(() => void sock.destroy())
  return { sock, got: () => got, isClosed: () => sock.destroyed || sock.readableEnded }
}

describe('tcp fault proxy', () => {
  it('passes bytes through when healed, and delays them under latency', async () => {
    const proxy = await echoProxy()
    const c = await client(proxy.port)
    c.sock.write('hello')
    await expect.poll(c.got).toBe('hello')
    proxy.set({ kind: 'latency', ms: 300 })
    const t0 = Date.now()
    c.sock.write('late')
    await expect.poll(c.got).toBe('hellolate')
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2 * 300 - 20) // both directions wait
  })

  it('stalls both ways under drop with the connection open, and delivers the held bytes on heal', async () => {
    const proxy = await echoProxy()
    const c = await client(proxy.port)
    proxy.set({ kind: 'drop' })
    c.sock.write('held')
    await new Promise((r) => setTimeout(r, 200))
    expect(c.got()).toBe('')
    expect(c.isClosed()).toBe(false)
    proxy.heal()
    await expect.poll(c.got).toBe('held')
  })

  it('cuts live connections and keeps accepting new ones', async () => {
    const proxy = await echoProxy()
    const c = await client(proxy.port)
    expect(proxy.cut()).toBe(1)
    await expect.poll(c.isClosed).toBe(true)
    const d = await client(proxy.port)
    d.sock.write('again')
    await expect.poll(d.got).toBe('again')
  })

  it('accepts and swallows under black-hole, and resets those connections on heal', async () => {
    const proxy = await echoProxy()
    proxy.set({ kind: 'blackhole' })
    const c = await client(proxy.port)
    c.sock.write('void')
    await expect.poll(() => proxy.stats.swallowedBytes).toBe(4)
    expect(c.got()).toBe('')
    expect(proxy.accepted()).toBe(0) // the target never heard of it
    proxy.heal()
    await expect.poll(c.isClosed).toBe(true)
  })

  it('trickles at the given rate', async () => {
    const proxy = await echoProxy()
    const c = await client(proxy.port)
    proxy.set({ kind: 'trickle', bytesPerSec: 2_000 })
    const t0 = Date.now()
    c.sock.write('x'.repeat(1_000))
    await expect.poll(() => c.got().length, { timeout: 10_000 }).toBe(1_000)
    // 1,000 bytes at 2,000 B/s, each way: well over a quarter second, in many small pieces.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400)
  })

  it('draws the same jitter for the same seed', () => {
    const a = seededRandom('s1')
    const b = seededRandom('s1')
    const c = seededRandom('s2')
    const xs = [a(), a(), a()]
    expect([b(), b(), b()]).toEqual(xs)
    expect([c(), c(), c()]).not.toEqual(xs)
  })
})
