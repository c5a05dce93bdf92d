// The ingest's two decoders must agree on everything a cabinet can send: the
// hand-written fast path (fast-decode.ts) and the zod schema it shortcuts.
// Driven directly, without a broker, so it can take many runs.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeMessage, GENESIS_HASH, SaleBatchMsg } from '../../shared/src/index.js'
import { decodeSaleBatch, isPlainSaleBatch } from '../../fleet-server/src/sales/fast-decode.js'
import { fcParams, mutated, salePayload, validSaleBatch } from '../helpers/arbitraries.js'
import { recordTrustCounts } from '../helpers/trust-counts.js'

const RUNS = Number(process.env.PROP_DECODE_RUNS ?? 1000)
const CABINET = '341125-00001'
const HEAD = { seq: 7, hash: GENESIS_HASH.replace(/^0/, 'a') }

describe('sale batch decoding, fast path against the schema', () => {
  it('decides every payload exactly as decodeMessage(SaleBatchMsg) does: same data, or same code and message', () => {
    fc.assert(
      fc.property(salePayload(CABINET, HEAD), (payload) => {
        expect(decodeSaleBatch(payload)).toEqual(decodeMessage(SaleBatchMsg, payload))
      }),
      fcParams(RUNS),
    )
    recordTrustCounts('property', { decodeRuns: RUNS, hostileInputs: RUNS })
  })

  it('takes a value on the fast path only when the schema returns it unchanged', () => {
    const values = validSaleBatch(CABINET, HEAD).chain((b) => fc.oneof(fc.constant<unknown>(b), mutated(b)))
    fc.assert(
      fc.property(values, (raw) => {
        // Through JSON, as a payload arrives: own __proto__ keys stay own keys.
        const value = JSON.parse(JSON.stringify(raw) ?? 'null') as unknown
        if (!isPlainSaleBatch(value)) return
        const parsed = SaleBatchMsg.safeParse(value)
        expect(parsed.success).toBe(true)
        expect(parsed.data).toStrictEqual(value)
      }),
      fcParams(RUNS),
    )
  })
})
