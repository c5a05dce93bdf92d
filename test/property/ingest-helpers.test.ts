// The ingest's hand-tuned helpers held to plain reference versions: aggregate()
// (looked up by parts, not by joined keys) against the joined-key fold it
// replaced, uuidv7Ms() (read by char code) against the RFC 9562 pattern, and
// isoUtcMs() against Date.parse().
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { aggregate, createAggregator, lazyAggregate, type AggregatedSale, type TickAggregates } from '../../fleet-server/src/sales/aggregate.js'
import { uuidv7Ms } from '../../fleet-server/src/sales/clock-skew.js'
import { isoUtcMs } from '../../fleet-server/src/sales/ingest.js'
import { isUpTopicOf, topics } from '../../shared/src/index.js'
import { fcParams } from '../helpers/arbitraries.js'

type Batch = { cabinetId: string; sales: AggregatedSale[] }

/** The aggregation as first written: one map lookup per joined key. */
function reference(batches: readonly Batch[]): TickAggregates {
  const cabinets: TickAggregates['cabinets'] = new Map()
  const days: TickAggregates['days'] = new Map()
  const skus: TickAggregates['skus'] = new Map()
  for (const b of batches) {
    let c = cabinets.get(b.cabinetId)
    if (!c) {
      c = { cabinetId: b.cabinetId, count: 0, amountFen: 0, skewedCount: 0, lastSeq: 0, lastHash: '', lastSaleAt: '', lastSaleAtMs: Number.NEGATIVE_INFINITY }
      cabinets.set(b.cabinetId, c)
    }
    for (const s of b.sales) {
      c.count++
      c.amountFen += s.totalFen
      if (s.skewFlag !== 0) c.skewedCount++
      c.lastSeq = s.seq
      c.lastHash = s.hash
      if (s.soldAtMs > c.lastSaleAtMs) {
        c.lastSaleAtMs = s.soldAtMs
        c.lastSaleAt = new Date(s.soldAtMs).toISOString()
      }
      const dayKey = `${b.cabinetId}\u0000${s.soldOn}`
      const d = days.get(dayKey) ?? { cabinetId: b.cabinetId, day: s.soldOn, count: 0, amountFen: 0 }
      days.set(dayKey, d)
      d.count++
      d.amountFen += s.totalFen
      for (const l of s.lines) {
        const skuKey = `${dayKey}\u0000${l.sku}`
        const k = skus.get(skuKey) ?? { cabinetId: b.cabinetId, day: s.soldOn, sku: l.sku, qty: 0, amountFen: 0 }
        skus.set(skuKey, k)
        k.qty += l.qty
        k.amountFen += l.qty * l.unitPriceFen
      }
    }
  }
  return { cabinets, days, skus }
}

const sale: fc.Arbitrary<AggregatedSale> = fc
  .record({
    seq: fc.integer({ min: 1, max: 1_000_000 }),
    ms: fc.integer({ min: Date.parse('2020-09-01T00:00:00Z'), max: Date.parse('2020-09-04T00:00:00Z') }),
    hash: fc.constantFrom('a'.repeat(64), 'b'.repeat(64), 'c'.repeat(64)),
    skewFlag: fc.constantFrom(0, 0, 1, 2),
    lines: fc.array(fc.record({ sku: fc.constantFrom('SKU-1', 'SKU-2', 'SKU-3:x', 'S'), qty: fc.integer({ min: 1, max: 5 }), unitPriceFen: fc.integer({ min: 0, max: 5000 }) }), { minLength: 1, maxLength: 4 }),
  })
  .map(({ seq, ms, hash, skewFlag, lines }) => {
    const soldAt = new Date(ms).toISOString()
    return { seq, soldAt, soldAtMs: ms, soldOn: soldAt.slice(0, 10), hash, skewFlag, lines, totalFen: lines.reduce((t, l) => t + l.qty * l.unitPriceFen, 0) }
  })
const batches: fc.Arbitrary<Batch[]> = fc.array(fc.record({ cabinetId: fc.constantFrom('341125-00001', '341125-00002', '341102-00001'), sales: fc.array(sale, { minLength: 1, maxLength: 5 }) }), { maxLength: 12 })

const UUIDV7 = /^([0-9a-f]{8})-([0-9a-f]{4})-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i
const referenceMs = (id: string): number | null => {
  const m = UUIDV7.exec(id)
  return m ? Number.parseInt(m[1]! + m[2]!, 16) : null
}
const HEXISH = [...'0123456789abcdefABCDEF-7gG8 ']
const uuidLike: fc.Arbitrary<string> = fc.oneof(
  fc.uuid({ version: [1, 4, 7] }),
  fc.uuid({ version: 7 }).map((u) => u.toUpperCase()),
  // A UUIDv7 with one character replaced: every position and a hostile character.
  fc.tuple(fc.uuid({ version: 7 }), fc.integer({ min: 0, max: 35 }), fc.constantFrom(...HEXISH)).map(([u, i, c]) => u.slice(0, i) + c + u.slice(i + 1)),
  fc.tuple(fc.uuid({ version: 7 }), fc.constantFrom('', 'x', '0')).map(([u, extra]) => u + extra),
  fc.string({ minLength: 36, maxLength: 36, unit: fc.constantFrom(...HEXISH) }),
)

/** The same figures, keys and key order. */
function expectSameAggregates(got: TickAggregates, want: TickAggregates): void {
  expect([...got.cabinets.entries()]).toEqual([...want.cabinets.entries()])
  expect([...got.days.entries()]).toEqual([...want.days.entries()])
  expect([...got.skus.entries()]).toEqual([...want.skus.entries()])
}

describe('ingest helpers', () => {
  it('aggregate() gives the same figures, keys and key order as the joined-key fold', () => {
    fc.assert(
      fc.property(batches, (bs) => {
        expectSameAggregates(aggregate(bs), reference(bs))
      }),
      fcParams(300),
    )
  })

  it('an aggregator given the batches a tick at a time (the sales fold) ends with what aggregate() gives for all of them', () => {
    fc.assert(
      fc.property(batches, fc.array(fc.nat(), { maxLength: 4 }), (bs, cuts) => {
        const a = createAggregator()
        let from = 0
        for (const cut of [...cuts.map((c) => c % (bs.length + 1)), bs.length].sort((x, y) => x - y)) {
          a.add(bs.slice(from, cut))
          from = cut
        }
        expectSameAggregates(a.result(), reference(bs))
      }),
      fcParams(300),
    )
  })

  it('lazyAggregate() gives what aggregate() gives, from getters every such object shares', () => {
    fc.assert(
      fc.property(batches, (bs) => {
        const got = lazyAggregate(bs)
        expectSameAggregates(got, reference(bs))
        expect(got.days).toBe(got.days) // computed once
      }),
      fcParams(100),
    )
    // One per ingest tick: getters of its own (an object literal's) kept each
    // tick's sales from dying young (aggregate.ts LazyAggregates).
    const a = lazyAggregate([])
    const shared = Object.getPrototypeOf(a) as object
    expect(Object.getPrototypeOf(lazyAggregate([]))).toBe(shared)
    for (const key of ['cabinets', 'days', 'skus']) {
      expect(Object.getOwnPropertyDescriptor(a, key)).toBeUndefined()
      expect(Object.getOwnPropertyDescriptor(shared, key)?.get).toBeTypeOf('function')
    }
  })

  it('uuidv7Ms() reads exactly the ids the RFC 9562 pattern accepts, and the same milliseconds', () => {
    fc.assert(
      fc.property(uuidLike, (id) => {
        expect(uuidv7Ms(id)).toBe(referenceMs(id))
      }),
      fcParams(3000),
    )
    expect(uuidv7Ms('01890a5d-ac96-774b-bcce-b302099a8057')).toBe(0x01890a5dac96)
    expect(uuidv7Ms('01890A5D-AC96-774B-BCCE-B302099A8057')).toBe(0x01890a5dac96)
    expect(uuidv7Ms('01890a5d-ac96-474b-bcce-b302099a8057')).toBeNull()
  })
})

describe('isoUtcMs', () => {
  // Strings of the schema's pattern (z.iso.datetime({ offset: false })), every fraction length.
  const iso = fc
    .tuple(fc.date({ min: new Date('0000-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true }), fc.constantFrom('', '.', '.1', '.12', '.1234', '.123456789'))
    .map(([date, frac]) => {
      const s = date.toISOString() // YYYY-MM-DDTHH:MM:SS.sssZ
      if (frac === '.') return s // the usual 3 digits
      return `${s.slice(0, 19)}${frac}Z`
    })
  it('is Date.parse() on every string of the schema pattern', () => {
    fc.assert(
      fc.property(iso, (s) => {
        expect(isoUtcMs(s)).toBe(Date.parse(s))
      }),
      fcParams(5000),
    )
    for (const s of ['2020-02-29T23:59:59.999Z', '0050-06-01T12:00:00.000Z', '0099-12-31T23:59:59Z', '2020-10-01T00:00:00Z', '1970-01-01T00:00:00.000Z']) expect(isoUtcMs(s)).toBe(Date.parse(s))
  })
})

describe('isUpTopicOf', () => {
  it('is topic.startsWith(topics.upPrefix(id)) for any topic and id', () => {
    const part = fc.constantFrom('cabinets', 'cabinet', 'cabinetsX', '341125-00001', '341125-0000', '341125-00001x', 'up', 'down', '', '+', '#', 'sales', 'a/b')
    const topic = fc.array(part, { minLength: 0, maxLength: 5 }).map((ps) => ps.join('/'))
    fc.assert(
      fc.property(topic, fc.constantFrom('341125-00001', '341125-0000', 'up', '', 'cabinets'), fc.boolean(), (t, id, suffix) => {
        const tt = suffix ? `${t}/` : t
        expect(isUpTopicOf(tt, id)).toBe(tt.startsWith(topics.upPrefix(id)))
      }),
      fcParams(5000),
    )
    expect(isUpTopicOf('cabinets/341125-00001/up/sales', '341125-00001')).toBe(true)
    expect(isUpTopicOf('cabinets/341125-00001/down/replies', '341125-00001')).toBe(false)
    expect(isUpTopicOf('cabinets/341125-000012/up/sales', '341125-00001')).toBe(false)
  })
})
