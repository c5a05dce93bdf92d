// The ingest fast path must decide exactly as the zod schema does: same data
// for valid batches, same code and message for every kind of invalid one.
import { describe, expect, it } from 'vitest'
import { decodeMessage, GENESIS_HASH, SaleBatchMsg, saleHash } from '../../shared/src/index.js'
import { decodeSaleBatch, isPlainSaleBatch } from '../../fleet-server/src/sales/fast-decode.js'

function aBatch(n = 2): Record<string, unknown> {
  let prevHash = GENESIS_HASH
  const sales = Array.from({ length: n }, (_, i) => {
    const lines = [{ sku: 'DY-RICE-5KG', qty: 1, unitPriceFen: 4990 }, { sku: 'GEN:WATER_550.1', qty: 2, unitPriceFen: 200 }]
    const sale = { saleId: `0190f5e2-7b3c-7def-8abc-${String(i).padStart(12, '0')}`, seq: i + 1, soldAt: '2020-10-12T02:03:04.567Z', recordedAt: '2020-10-12T02:03:05Z', payment: 'wechat', lines, totalFen: 5390, prevHash, hash: '' }
    sale.hash = saleHash('341125-00001', sale)
    prevHash = sale.hash
    return sale
  })
  return { v: 1, type: 'sales', batchId: '0190f5e2-7b3c-7def-8abc-0123456789ab', cabinetId: '341125-00001', sales }
}

type Mutation = [string, (b: Record<string, unknown>) => unknown]
const sale0 = (b: Record<string, unknown>) => (b.sales as Array<Record<string, unknown>>)[0]!
const line0 = (b: Record<string, unknown>) => (sale0(b).lines as Array<Record<string, unknown>>)[0]!

const MUTATIONS: Mutation[] = [
  ['valid', (b) => b],
  ['valid, one sale', () => aBatch(1)],
  ['valid, 500 sales', () => aBatch(500)],
  ['501 sales', () => aBatch(501)],
  ['no sales', (b) => ({ ...b, sales: [] })],
  ['extra batch key', (b) => ({ ...b, extra: 1 })],
  ['missing cabinetId', ({ cabinetId: _c, ...rest }) => rest],
  ['v 2', (b) => ({ ...b, v: 2 })],
  ['v "1"', (b) => ({ ...b, v: '1' })],
  ['type wrong', (b) => ({ ...b, type: 'sale' })],
  ['bad batchId', (b) => ({ ...b, batchId: 'nope' })],
  ['uuid version 0', (b) => ({ ...b, batchId: '0190f5e2-7b3c-0def-8abc-0123456789ab' })],
  ['nil uuid', (b) => ({ ...b, batchId: '00000000-0000-0000-0000-000000000000' })],
  ['cabinet id with slash', (b) => ({ ...b, cabinetId: 'a/b' })],
  ['sales not array', (b) => ({ ...b, sales: {} })],
  ['sale null', (b) => ({ ...b, sales: [null] })],
  ['extra sale key', (b) => (Object.assign(sale0(b), { note: 'x' }), b)],
  ['missing hash', (b) => (delete sale0(b).hash, b)],
  ['seq 0', (b) => (Object.assign(sale0(b), { seq: 0 }), b)],
  ['seq float', (b) => (Object.assign(sale0(b), { seq: 1.5 }), b)],
  ['seq string', (b) => (Object.assign(sale0(b), { seq: '1' }), b)],
  ['seq unsafe', (b) => (Object.assign(sale0(b), { seq: 2 ** 60 }), b)],
  ['soldAt with offset', (b) => (Object.assign(sale0(b), { soldAt: '2020-10-12T10:03:04+08:00' }), b)],
  ['soldAt Feb 30', (b) => (Object.assign(sale0(b), { soldAt: '2020-02-30T00:00:00Z' }), b)],
  ['soldAt leap day', (b) => (Object.assign(sale0(b), { soldAt: '2020-02-29T00:00:00Z' }), b)],
  ['soldAt no seconds', (b) => (Object.assign(sale0(b), { soldAt: '2020-10-12T02:03Z' }), b)],
  ['payment unknown', (b) => (Object.assign(sale0(b), { payment: 'bitcoin' }), b)],
  ['totalFen negative', (b) => (Object.assign(sale0(b), { totalFen: -1 }), b)],
  ['totalFen -0', (b) => (Object.assign(sale0(b), { totalFen: -0 }), b)],
  ['hash uppercase', (b) => (Object.assign(sale0(b), { hash: 'A'.repeat(64) }), b)],
  ['prevHash short', (b) => (Object.assign(sale0(b), { prevHash: 'a'.repeat(63) }), b)],
  ['no lines', (b) => (Object.assign(sale0(b), { lines: [] }), b)],
  ['101 lines', (b) => (Object.assign(sale0(b), { lines: Array.from({ length: 101 }, () => ({ sku: 'A', qty: 1, unitPriceFen: 1 })) }), b)],
  ['line extra key', (b) => (Object.assign(line0(b), { name: 'x' }), b)],
  ['qty 0', (b) => (Object.assign(line0(b), { qty: 0 }), b)],
  ['qty 10001', (b) => (Object.assign(line0(b), { qty: 10_001 }), b)],
  ['price float', (b) => (Object.assign(line0(b), { unitPriceFen: 1.5 }), b)],
  ['sku with space', (b) => (Object.assign(line0(b), { sku: 'A B' }), b)],
  ['sku too long', (b) => (Object.assign(line0(b), { sku: 'A'.repeat(65) }), b)],
  ['array', () => [aBatch()]],
  ['null', () => null],
  ['__proto__ key', (b) => JSON.parse(JSON.stringify(b).replace('{"v":1', '{"__proto__":{"x":1},"v":1'))],
]

describe('sale batch fast decoder', () => {
  it.each(MUTATIONS)('decides like the schema: %s', (_name, mutate) => {
    const payload = Buffer.from(JSON.stringify(mutate(aBatch())))
    expect(decodeSaleBatch(payload)).toEqual(decodeMessage(SaleBatchMsg, payload))
  })

  it('decides like the schema for payloads that are not JSON or too large', () => {
    for (const payload of [Buffer.from('{"v":1,'), Buffer.from(''), Buffer.alloc(256 * 1024 + 1, 0x20)]) {
      expect(decodeSaleBatch(payload)).toEqual(decodeMessage(SaleBatchMsg, payload))
    }
  })

  it('takes the fast path for a valid batch', () => {
    expect(isPlainSaleBatch(aBatch())).toBe(true)
    expect(SaleBatchMsg.safeParse(aBatch()).success).toBe(true)
  })
})
