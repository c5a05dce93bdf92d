// The module runner (issue 13: domains as modules): modules start in order
// and the started ones stop in reverse — for a close and for a start that
// fails part-way alike — and one stop's failure neither hides the others nor
// stops them from running. And the fleet's own start order: forwarding is
// stopped before HTTP closes.
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { describe, expect, it, onTestFinished } from 'vitest'
import { slot, startModules, type FleetModule } from '../../fleet-server/src/modules.js'
import { buildPlatform } from '../../simulators/src/platform/app.js'
import { aCatalog, aClock, aDatedCabinet, fleetWith, line } from './certification.fixtures.js'

function recorder() {
  const events: string[] = []
  const module = (name: string, opts: { failStart?: boolean; failStop?: boolean; asyncStop?: boolean } = {}): FleetModule => ({
    name,
    async start() {
      events.push(`start ${name}`)
      await Promise.resolve()
      if (opts.failStart) throw new Error(`${name} cannot start`)
    },
    stop() {
      events.push(`stop ${name}`)
      if (opts.failStop) throw new Error(`${name} cannot stop`)
      if (opts.asyncStop) return new Promise<void>((resolve) => setTimeout(resolve, 20)).then(() => void events.push(`stopped ${name}`))
    },
  })
  const lines: Array<Record<string, unknown>> = []
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>)
        cb()
      },
    }),
  )
  return { events, module, lines, log }
}

describe('module runner', () => {
  it('starts modules in order and stops them in reverse, each stop awaited before the next, once however often stop is called', async () => {
    const { events, module, log } = recorder()
    const running = await startModules([module('a'), module('b', { asyncStop: true }), module('c')], log)
    expect(running.started).toEqual(['a', 'b', 'c'])
    expect(events).toEqual(['start a', 'start b', 'start c'])
    await Promise.all([running.stop(), running.stop()])
    await running.stop()
    expect(events.slice(3)).toEqual(['stop c', 'stop b', 'stopped b', 'stop a'])
  })

  it('on a failed start stops only the modules started before it, in reverse, and rejects with its error', async () => {
    const { events, module, log } = recorder()
    await expect(startModules([module('a'), module('b'), module('c', { failStart: true }), module('d')], log)).rejects.toThrow('c cannot start')
    expect(events).toEqual(['start a', 'start b', 'start c', 'stop b', 'stop a'])
  })

  it('logs a failing stop under err and still stops the modules started before it', async () => {
    const { events, module, lines, log } = recorder()
    const running = await startModules([module('a'), module('b', { failStop: true }), module('c')], log)
    await running.stop()
    expect(events.slice(3)).toEqual(['stop c', 'stop b', 'stop a'])
    const failed = lines.filter((l) => l.msg === 'module stop failed')
    expect(failed).toHaveLength(1)
    expect(failed[0]).toMatchObject({ module: 'b', err: { message: 'b cannot stop' } })
  })

  it('still rejects with the start error when a stop during the unwind fails', async () => {
    const { events, module, lines, log } = recorder()
    await expect(startModules([module('a'), module('b', { failStop: true }), module('c', { failStart: true })], log)).rejects.toThrow('c cannot start')
    expect(events).toEqual(['start a', 'start b', 'start c', 'stop b', 'stop a'])
    expect(lines.filter((l) => l.msg === 'module stop failed')).toHaveLength(1)
  })
})

describe('module slot', () => {
  it('throws when read before its module started, and peeks null', () => {
    const s = slot<number>('the answer')
    expect(() => s.get()).toThrow('the answer is read before its module started')
    expect(s.peek()).toBeNull()
    expect(s.set(42)).toBe(42)
    expect(s.get()).toBe(42)
  })
})

describe("the fleet's module order", () => {
  it('stops forwarding before HTTP: a run request waiting on a hanging platform is answered, and the close is prompt', async () => {
    const platform = await buildPlatform({ failRate: 0, latencyMs: 0, secret: null, storePath: null, logger: pino({ level: 'silent' }), badAnswers: ['hang'] })
    await platform.app.listen({ port: 0, host: '127.0.0.1' })
    onTestFinished(() => platform.app.close())
    const addr = platform.app.server.address()
    const platformUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/intake`
    // A send would wait a minute for its answer: forwarding's stop aborts it.
    const fleet = await fleetWith({ env: { PLATFORM_URL: platformUrl }, deps: { now: aClock('2020-10-05T02:00:00Z').now, forwarding: { timeoutMs: 60_000 } }, manualClose: true })
    await aCatalog(fleet, { CERT: { cert: ['2020-01-01'] } })
    const cab = await aDatedCabinet(fleet)
    await cab.sell('2020-09-10', [line('CERT', 100)])
    await cab.sell('2020-10-01', [line('CERT', 100)])
    await cab.mqtt.close()
    // Over a socket, since HTTP's close cuts the connections still open; the
    // pass it runs waits on its batch's send, which hangs.
    const running = fetch(`${fleet.httpUrl}/api/v1/forwarding/run`, { method: 'POST', headers: { authorization: `Bearer ${fleet.adminToken}` } }).catch(() => null)
    await expect.poll(() => platform.received().badAnswers.hang ?? 0, { timeout: 10_000 }).toBeGreaterThanOrEqual(1)

    const t0 = Date.now()
    const closed = await Promise.race([fleet.close().then(() => 'closed'), new Promise((r) => setTimeout(() => r('still closing'), 5_000))])
    expect(closed).toBe('closed')
    expect(Date.now() - t0).toBeLessThan(5_000)
    // Answered, not cut off: forwarding's stop released it while HTTP was still up.
    expect((await running)?.status ?? 'no answer').toBe(200)
    expect(platform.received().batches).toBe(0)
  })
})
