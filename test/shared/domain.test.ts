import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  BUNDLED_PLANS, GENESIS_HASH, PlanInvalidError, type Plan, formatFen, meetsShare, parsePlan, parseTopic, saleHash,
  shanghaiDate, shanghaiDayStartUtc, shareBp, topics, uuidv7, yuanToFen,
} from '../../shared/src/index.js'

describe('money', () => {
  it('parses and formats yuan without floats', () => {
    expect(yuanToFen('12.5')).toBe(1250)
    expect(yuanToFen('0.07')).toBe(7)
    expect(yuanToFen('3')).toBe(300)
    expect(() => yuanToFen('1.234')).toThrow(RangeError)
    expect(formatFen(123450)).toBe('¥1,234.50')
  })
  it('decides the 50% boundary in integers: 49.99% fails, 50.00% passes', () => {
    expect(meetsShare(4999, 10000, 5000)).toBe(false)
    expect(meetsShare(5000, 10000, 5000)).toBe(true)
    // 1 fen short of half of an odd amount
    expect(meetsShare(500_000_000, 1_000_000_001, 5000)).toBe(false)
    expect(shareBp(4999, 10000)).toBe(4999)
    expect(shareBp(1, 0)).toBe(0)
  })
})

describe('time', () => {
  it('maps UTC instants to the Asia/Shanghai calendar date', () => {
    expect(shanghaiDate('2020-09-30T15:59:59.999Z')).toBe('2020-09-30')
    expect(shanghaiDate('2020-09-30T16:00:00.000Z')).toBe('2020-10-01')
    expect(shanghaiDayStartUtc('2020-10-01').toISOString()).toBe('2020-09-30T16:00:00.000Z')
  })

  it('gives the same date as the plain formula for instants asked in any order, around day boundaries (its one-day cache)', () => {
    const plain = (ms: number) => new Date(ms + 8 * 3600_000).toISOString().slice(0, 10)
    const boundary = Date.parse('2020-09-30T16:00:00.000Z')
    const near = fc.oneof(
      fc.integer({ min: -2, max: 2 }).chain((d) => fc.integer({ min: -3, max: 3 }).map((e) => boundary + d * 86_400_000 + e)),
      fc.integer({ min: -8.64e15 + 8 * 3600_000, max: 8.64e15 - 8 * 3600_000 }),
      fc.constantFrom(8.64e15 - 8 * 3600_000, -8.64e15, 0, -1),
    )
    fc.assert(
      fc.property(fc.array(near, { minLength: 1, maxLength: 20 }), (instants) => {
        for (const ms of instants) expect(shanghaiDate(ms)).toBe(plain(ms))
      }),
      { numRuns: 2000 },
    )
    // Past Date's range it still throws, even right after the last valid day was asked.
    expect(shanghaiDate(8.64e15 - 8 * 3600_000)).toBe(plain(8.64e15 - 8 * 3600_000))
    expect(() => shanghaiDate(8.64e15 - 8 * 3600_000 + 1)).toThrow(RangeError)
    expect(() => shanghaiDate(Number.NaN)).toThrow(RangeError)
  })
})

describe('ids', () => {
  it('mints strictly increasing RFC 9562 v7 ids', () => {
    const ids = Array.from({ length: 5000 }, () => uuidv7(1_700_000_000_000))
    expect(new Set(ids).size).toBe(ids.length)
    expect([...ids].sort()).toEqual(ids)
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    // The random part is fresh for every id (drawn from a pool refilled every 256 ids).
    expect(new Set(ids.map((id) => id.slice(19))).size).toBe(ids.length)
  })
})

describe('topics', () => {
  it('round-trips every topic through the parser and rejects foreign ones', () => {
    expect(parseTopic(topics.sales('C1'))).toEqual({ cabinetId: 'C1', direction: 'up', kind: 'sales' })
    expect(parseTopic(topics.replies('C1'))).toEqual({ cabinetId: 'C1', direction: 'down', kind: 'replies' })
    expect(parseTopic('cabinets/C1/up/other')).toBeNull()
    expect(parseTopic('cabinets/+/up/sales')).toBeNull()
    expect(parseTopic('$SYS/broker/uptime')).toBeNull()
  })
})

describe('hash chain', () => {
  const base = { saleId: '01890000-0000-7000-8000-000000000001', seq: 1, soldAt: '2020-09-01T01:00:00.000Z', recordedAt: '2020-09-01T01:00:00.000Z', payment: 'wechat', totalFen: 1200, lines: [{ sku: 'A', qty: 2, unitPriceFen: 600 }], prevHash: GENESIS_HASH }
  it('changes when any covered field changes', () => {
    const h = saleHash('C1', base)
    expect(h).toMatch(/^[0-9a-f]{64}$/)
    expect(saleHash('C2', base)).not.toBe(h)
    expect(saleHash('C1', { ...base, totalFen: 1201 })).not.toBe(h)
    expect(saleHash('C1', { ...base, lines: [{ sku: 'A', qty: 1, unitPriceFen: 1200 }] })).not.toBe(h)
    expect(saleHash('C1', { ...base, prevHash: 'f'.repeat(64) })).not.toBe(h)
    expect(saleHash('C1', { ...base })).toBe(h)
  })
})

describe('plans', () => {
  it('bundles chuzhou-2020 with 8 counties summing to 2,700 and both milestones', () => {
    const p = BUNDLED_PLANS['chuzhou-2020']!
    expect(p.counties).toHaveLength(8)
    expect(p.counties.reduce((s, c) => s + c.quota, 0)).toBe(2700)
    expect(p.counties.find((c) => c.code === '341125')).toEqual({ code: '341125', name: '定远县', quota: 415 })
    expect(p.milestones.map((m) => m.date)).toEqual(['2020-09-30', '2020-12-31'])
    expect(p.policy.minCertifiedShareBp.cabinet).toBe(5000)
  })
  it('refuses a plan whose quotas do not add up, saying by how much', () => {
    const raw = structuredClone(BUNDLED_PLANS['chuzhou-2020']!) as Plan
    raw.counties[0]!.quota += 1
    expect(() => parsePlan(raw, 'test.json')).toThrow(PlanInvalidError)
    expect(() => parsePlan(raw, 'test.json')).toThrow(/sum to 2701/)
  })
})
