// The simulator's remote commands without a fleet: the plan drawn from the
// seed, and the verdict's judgement of how they ended, against a stand-in API.
import { describe, expect, it } from 'vitest'
import { outageWindows, planCommands, type CommandPlanOptions, type SentCommand } from '../../simulators/src/fleet/commands.js'
import type { SimCabinet } from '../../simulators/src/fleet/ipc.js'
import { SIM_CATALOG } from '../../simulators/src/fleet/model.js'
import { parseFlags } from '../../simulators/src/fleet/main.js'
import type { Http } from '../../simulators/src/fleet/provision.js'
import { judgeCommands } from '../../simulators/src/fleet/verdict.js'

const START = Date.parse('2020-10-12T00:00:00+08:00')
const cabinets: SimCabinet[] = Array.from({ length: 20 }, (_, i) => ({ cabinetId: `SIM-${i}`, password: 'x', countyCode: '341125', venueType: '医院' }))
const planOptions: CommandPlanOptions = { seed: 'plan', cabinets, startMs: START, days: 2, speed: 17_280, outageRate: 0.5, cityOutages: [[START + 20 * 3_600_000, START + 23 * 3_600_000]], steadySeconds: null }

describe('simulated remote commands', () => {
  it('plans the same commands for the same seed: every third into an outage, short expiries inside their outage', () => {
    const plan = planCommands(planOptions, 30)
    expect(planCommands(planOptions, 30)).toEqual(plan)
    expect(plan).toHaveLength(30)
    expect(plan.map((p) => p.atWallMs)).toEqual([...plan.map((p) => p.atWallMs)].sort((a, b) => a - b))
    expect(plan.filter((p) => p.isIntoOutage).length).toBeGreaterThanOrEqual(10)
    const endWall = (2 * 86_400_000) / 17_280
    const short = plan.filter((p) => p.body.expiresInS !== undefined)
    expect(short.length).toBeGreaterThan(0)
    for (const p of short) {
      // Sent inside one of the cabinet's outages, expiring at most halfway through what is left of it.
      const wall = outageWindows(planOptions, p.cabinetId).map(([a, b]) => [(a - START) / 17_280, Math.min(b - START, 2 * 86_400_000) / 17_280] as const)
      const w = wall.find(([a, b]) => p.atWallMs > a && p.atWallMs < b)
      expect(w, JSON.stringify(p)).toBeDefined()
      expect(p.atWallMs + p.body.expiresInS! * 2000).toBeLessThanOrEqual(Math.min(w![1], endWall) + 1)
    }
    for (const p of plan) {
      if (p.body.kind !== 'price') continue
      const item = SIM_CATALOG.find((c) => c.sku === (p.body as { params: { sku: string } }).params.sku)!
      expect(p.body.params.priceFen).not.toBe(item.priceFen)
      expect(p.body.params.priceFen % 10).toBe(0)
    }
    expect(new Set(plan.map((p) => p.body.kind))).toEqual(new Set(['price', 'sync', 'catalog-refresh']))
  })

  it('judges commands: done or justly expired passes; unjustly expired, unfinished, refused or a sale at the old price fails', async () => {
    const expiresAt = '2026-12-06T00:00:10.000Z'
    const states: Record<string, string> = { a: 'done', b: 'expired', c: 'done', d: 'done' }
    const sales = [
      { seq: 4, lines: [{ sku: 'GEN-COLA-330', unitPriceFen: 350 }] }, // before the change: not held to it
      { seq: 6, lines: [{ sku: 'GEN-COLA-330', unitPriceFen: 380 }, { sku: 'GEN-WATER-550', unitPriceFen: 200 }] },
      { seq: 9, lines: [{ sku: 'GEN-COLA-330', unitPriceFen: 380 }] },
    ]
    const http: Http = {
      async call(_method, path) {
        const cmd = /^\/api\/v1\/commands\/(\w+)$/.exec(path)
        if (cmd) return { status: 200, body: { state: states[cmd[1]!], expiresAt } as never }
        const s = /afterSeq=(\d+)/.exec(path)
        if (s) return { status: 200, body: { sales: sales.filter((x) => x.seq > Number(s[1])), nextAfterSeq: null } as never }
        return { status: 404, body: null as never }
      },
    }
    const cmd = (commandId: string | null, body: SentCommand['body'], status = 201): SentCommand => ({ atWallMs: 0, cabinetId: 'SIM-1', body, isIntoOutage: false, commandId, status })
    const sent = [
      cmd('a', { kind: 'price', params: { sku: 'GEN-COLA-330', priceFen: 380 } }),
      cmd('b', { kind: 'sync', expiresInS: 2 }),
      cmd('c', { kind: 'catalog-refresh' }),
      cmd('d', { kind: 'price', params: { sku: 'GEN-TEA-500', priceFen: 420 } }),
    ]
    const offlineAtExpiry = (_id: string, t: number) => t === Date.parse(expiresAt)
    const ok = await judgeCommands(http, sent, { isOfflineAt: offlineAtExpiry, boundaries: new Map([['a', 5]]), timeoutMs: 0 })
    expect(ok).toMatchObject({ sent: 4, done: 3, expired: 1, failed: 0, pending: 0, unjustifiedExpiry: 0, isOk: true, problems: [] })
    // d's boundary never came (its worker died first): not held against sales, not counted as checked.
    expect(ok.prices).toEqual({ done: 2, checked: 1, lines: 2, wrong: 0 })

    expect(await judgeCommands(http, sent, { isOfflineAt: () => false, boundaries: new Map(), timeoutMs: 0 })).toMatchObject({ unjustifiedExpiry: 1, isOk: false })
    expect(await judgeCommands(http, sent, { isOfflineAt: offlineAtExpiry, boundaries: new Map([['a', 3]]), timeoutMs: 0 })).toMatchObject({ prices: { lines: 3, wrong: 1 }, isOk: false })
    states.c = 'delivered'
    expect(await judgeCommands(http, sent, { isOfflineAt: offlineAtExpiry, boundaries: new Map(), timeoutMs: 0 })).toMatchObject({ delivered: 1, isOk: false })
    states.c = 'failed'
    expect(await judgeCommands(http, sent, { isOfflineAt: offlineAtExpiry, boundaries: new Map(), timeoutMs: 0 })).toMatchObject({ failed: 1, isOk: false })
    states.c = 'done'
    expect(await judgeCommands(http, [...sent, cmd(null, { kind: 'sync' }, 409)], { isOfflineAt: offlineAtExpiry, boundaries: new Map(), timeoutMs: 0 })).toMatchObject({ sendFailed: 1, isOk: false })
  })

  it('reads --enroll, --operator and --commands', () => {
    const o = parseFlags(['--token', 't', '--enroll', '--operator', '滁州运营', '--commands', '12'], {})
    expect(o).toMatchObject({ enroll: true, operator: '滁州运营', asOperatorUser: true, commands: 12 })
    expect(parseFlags(['--token', 't'], {})).toMatchObject({ enroll: false, operator: '仿真运营公司', asOperatorUser: false, commands: 0 })
    expect(() => parseFlags(['--token', 't', '--commands', '1.5'], {})).toThrow(/--commands/)
  })
})
