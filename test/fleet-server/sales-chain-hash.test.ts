// The sale hash is protocol (v1): agents and the server must agree byte for
// byte, whichever SHA-256 call computes it. Vectors pinned from the
// createHash() chain the server used before the one-shot crypto.hash().
import { describe, expect, it } from 'vitest'
import { GENESIS_HASH, saleHash } from '../../shared/src/index.js'

describe('sale hash v1', () => {
  const base = { saleId: '01890000-0000-7000-8000-000000000001', seq: 1, soldAt: '2020-09-01T01:00:00.000Z', recordedAt: '2020-09-01T01:00:00.000Z', payment: 'wechat', totalFen: 1200, lines: [{ sku: 'A', qty: 2, unitPriceFen: 600 }], prevHash: GENESIS_HASH }

  it('matches the pinned vectors, UTF-8 text included', () => {
    expect(saleHash('C1', base)).toBe('04a0d3f592ab856fcf44157d2000a73753ebbffdd61ab410cee76e1bed08c3c0')
    expect(saleHash('定远-1', { ...base, lines: [{ sku: '米-5KG', qty: 1, unitPriceFen: 1200 }] })).toBe('e9b21dc47ead48d2582f26544daadfc009fb0f850ae5571ba2d70155923476a2')
  })
})
