// End to end: real MQTT cabinets, the fleet server, and the platform stand-in
// as a child process failing 30% of requests. The platform is killed and
// restarted mid-run and the fleet server restarted once; every compliant
// cabinet-period still arrives exactly once, every other one is held with its
// reason, and the counts reconcile.
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import type { Fleet } from '../../fleet-server/src/app.js'
import type { ComplianceReply, ForwardingReply } from '../../shared/src/index.js'
import { aCatalog, aClock, aDatedCabinet, fleetWith, line, ok, type DatedCabinet } from '../fleet-server/certification.fixtures.js'
import { tempDir } from '../helpers/fleet.js'
import { aBatch, aChain } from '../helpers/sales.js'
import { freePort, startProgram, type Program } from '../helpers/process.js'

const MONTHS = ['2020-09', '2020-10', '2020-11'] as const
const SECRET = 'e2e-secret'

interface Received { batches: number; duplicatesRejected: number; failuresInjected: number }
interface StoredBatch { key: string; kind: string; records: Array<{ cabinetId: string; period: { id: string }; amountFen: number; certifiedAmountFen: number }> }

describe('forwarding end to end', () => {
  it('delivers every compliant cabinet-period exactly once through a 30%-failing platform, a platform crash and a fleet restart', async () => {
    const dir = await tempDir('fwd-e2e-')
    const port = await freePort()
    const platformArgs = ['--port', String(port), '--fail-rate', '0.3', '--latency-ms', '60', '--secret', SECRET, '--data', join(dir, 'platform.jsonl')]
    let platform: Program = await startProgram('simulators/src/platform/main.ts', platformArgs)
    onTestFinished(() => void platform.kill('SIGKILL'))
    const platformUrl = `http://127.0.0.1:${port}`
    const received = async (): Promise<Received> => (await fetch(`${platformUrl}/received`)).json() as Promise<Received>

    const clock = aClock('2020-12-05T02:00:00Z')
    const env = { PLATFORM_URL: `${platformUrl}/intake`, PLATFORM_SECRET: SECRET }
    const fleetDir = join(dir, 'fleet')
    const deps = { now: clock.now, forwarding: { baseBackoffMs: 50, maxBackoffMs: 400, concurrency: 2 } }
    let fleet: Fleet = await fleetWith({ dataDir: fleetDir, env, deps, manualClose: true })
    await aCatalog(fleet, { CERT: { cert: ['2020-01-01'] }, PLAIN: {} })

    // 12 cabinets × 3 months. Expected outcome per cabinet-period:
    const expected = new Map<string, 'SENT' | 'NOT_COMPLIANT' | 'INCOMPLETE_SYNC' | 'CHAIN_BROKEN'>()
    const cabinets: DatedCabinet[] = []
    for (let i = 0; i < 12; i++) cabinets.push(await aDatedCabinet(fleet, { countyCode: i % 2 ? '341125' : '341126' }))
    for (const [i, c] of cabinets.entries()) {
      for (const m of MONTHS) {
        // Cabinet 8 misses by one fen in 10,000 in October; cabinet 0 sits exactly on 50%.
        const [cert, plain] = i === 8 && m === '2020-10' ? [4999, 5001] : i === 0 ? [5000, 5000] : [6000 + i, 3000]
        await c.sell(`${m}-15`, [line('CERT', cert), line('PLAIN', plain)])
        expected.set(`${c.cabinetId}/${m}`, i === 8 && m === '2020-10' ? 'NOT_COMPLIANT' : 'SENT')
      }
      if (i === 9) {
        // Still holds a November sale offline: its chain ends on 2020-11-15 and its heartbeat reports one more.
        await c.heartbeat('2020-12-05T01:00:00.000Z', c.sales.length + 1)
        expected.set(`${c.cabinetId}/2020-11`, 'INCOMPLETE_SYNC')
      } else {
        await c.sell('2020-12-01', [line('CERT', 100)]) // the chain has passed November's end
      }
    }
    // Cabinet 10 resends seq 1 with different content: tampered, nothing of it goes out.
    const forged = aChain(cabinets[10]!.cabinetId, 1, { soldAt: () => '2020-09-15T04:00:00.000Z', lines: () => [line('CERT', 1)] })
    expect((await cabinets[10]!.mqtt.send(aBatch(cabinets[10]!.cabinetId, forged))).status).toBe('rejected')
    for (const m of MONTHS) expected.set(`${cabinets[10]!.cabinetId}/${m}`, 'CHAIN_BROKEN')
    const compliant = [...expected].filter(([, v]) => v === 'SENT').map(([k]) => k)

    const firstRun = ok<{ judged: number; queued: number; held: number }>(fleet, 'POST', '/api/v1/forwarding/run', undefined, 200)

    // Crash the platform mid-run, then restart the fleet server while batches are still pending.
    await expect.poll(async () => (await received()).batches, { timeout: 20_000, interval: 10 }).toBeGreaterThanOrEqual(2)
    const beforeCrash = await received()
    await platform.kill('SIGKILL')
    expect(await firstRun).toMatchObject({ judged: 36, queued: compliant.length, held: 36 - compliant.length })
    expect((await ok<ForwardingReply>(fleet, 'GET', '/api/v1/forwarding', undefined, 200)).pending).toBeGreaterThan(0)
    for (const c of cabinets) await c.mqtt.close()
    await fleet.close()
    platform = await startProgram('simulators/src/platform/main.ts', platformArgs)
    fleet = await fleetWith({ dataDir: fleetDir, env, deps, manualClose: true })
    onTestFinished(() => fleet.close())
    await ok(fleet, 'POST', '/api/v1/forwarding/run', undefined, 200)

    const status = async () => ok<ForwardingReply>(fleet, 'GET', '/api/v1/forwarding', undefined, 200)
    await expect.poll(async () => (await status()).pending, { timeout: 30_000, interval: 50 }).toBe(0)
    const s = await status()
    expect(s.sent).toBe(compliant.length)
    expect(s.failed).toEqual([])
    expect(s.sent + s.held.length + s.failed.length).toBe(36)
    expect(s.periods).toBe(36)
    expect(new Map(s.held.map((h) => [`${h.cabinetId}/${h.period}`, h.reason]))).toEqual(new Map([...expected].filter(([, v]) => v !== 'SENT')))

    // The platform holds each compliant cabinet-period exactly once, and nothing else.
    const { batches } = (await (await fetch(`${platformUrl}/batches`)).json()) as { batches: StoredBatch[] }
    const arrived = batches.flatMap((b) => b.records.map((r) => `${r.cabinetId}/${r.period.id}`))
    expect(arrived.sort()).toEqual([...compliant].sort())
    expect(batches.every((b) => b.kind === 'report')).toBe(true)
    const r = await received()
    expect(r.batches).toBe(compliant.length)
    // Injected failures are counted per platform process: across both, some happened.
    expect(beforeCrash.failuresInjected + r.failuresInjected).toBeGreaterThan(0)

    // What arrived matches the compliance view of the same month.
    const oct = await ok<ComplianceReply>(fleet, 'GET', '/api/v1/compliance?period=2020-10', undefined, 200)
    for (const b of batches) {
      const rec = b.records[0]!
      if (rec.period.id !== '2020-10') continue
      const row = oct.cabinets.find((c) => c.cabinetId === rec.cabinetId)!
      expect([rec.amountFen, rec.certifiedAmountFen]).toEqual([row.amountFen, row.certifiedAmountFen])
    }
  })
})
