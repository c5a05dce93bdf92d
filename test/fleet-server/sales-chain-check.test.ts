// chain-check.ts on its own: the verdicts, and that the common batch (starting
// at head + 1) is judged synchronously, so ingest awaits nothing for it.
import { describe, expect, it } from 'vitest'
import { GENESIS_HASH } from '../../shared/src/index.js'
import { checkBatch, type HashLookup } from '../../fleet-server/src/sales/chain-check.js'
import { aChain, aLine, rehash } from '../helpers/sales.js'

const CABINET = '341125-00001'
const sales = aChain(CABINET, 6)
const headAt = (seq: number) => ({ seq, hash: seq === 0 ? GENESIS_HASH : sales[seq - 1]!.hash })
const stored: HashLookup = (seq) => Promise.resolve(sales[seq - 1]?.hash ?? null)
const noLookup: HashLookup = () => Promise.reject(new Error('no lookup expected'))

describe('sale chain check', () => {
  it('judges a batch that starts at head + 1 synchronously', () => {
    const v = checkBatch(CABINET, sales.slice(2, 4), headAt(2), noLookup)
    expect(v).not.toBeInstanceOf(Promise)
    expect(v).toEqual({ ok: true, newSales: sales.slice(2, 4), head: headAt(4), replayed: 0 })
  })

  it('judges a replay of the head itself, and rejections, synchronously', () => {
    expect(checkBatch(CABINET, sales.slice(3, 5), headAt(4), noLookup)).toEqual({ ok: true, newSales: [sales[4]], head: headAt(5), replayed: 1 })
    expect(checkBatch(CABINET, sales.slice(4, 5), headAt(2), noLookup)).toMatchObject({ ok: false, code: 'SALE_SEQ_GAP', expectedSeq: 3 })
    const forgedTotal = rehash(CABINET, { ...sales[2]!, totalFen: sales[2]!.totalFen + 1 })
    expect(checkBatch(CABINET, [forgedTotal], headAt(2), noLookup)).toMatchObject({ ok: false, code: 'SALE_TOTAL_MISMATCH' })
  })

  it('looks up older hashes for a batch that replays below the head, with the same verdicts', async () => {
    const v = checkBatch(CABINET, sales.slice(1, 5), headAt(4), stored)
    expect(v).toBeInstanceOf(Promise)
    expect(await v).toEqual({ ok: true, newSales: [sales[4]], head: headAt(5), replayed: 3 })
    const forked = aChain(CABINET, 2, { fromSeq: 2, prevHash: sales[0]!.hash, lines: () => [aLine({ unitPriceFen: 1 })] })
    expect(await checkBatch(CABINET, forked, headAt(4), stored)).toMatchObject({ ok: false, code: 'SALE_TAMPERED' })
    expect(await checkBatch(CABINET, sales.slice(1, 2), headAt(4), () => Promise.resolve(null))).toMatchObject({ ok: false, code: 'SALE_CHAIN_BROKEN' })
  })
})
