// Issue 16 §2: the offline verification of an audit export, called directly
// (fleetctl audit verify runs the same function; test/fleet-server/signed-sales.test.ts
// drives it through npm on a real export).
import { generateKeyPairSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { auditVerdictZh, GENESIS_HASH, signBatch, verifyAuditExport, type AuditExport, type Sale } from '../../shared/src/index.js'
import { aChain, rehash } from '../helpers/sales.js'

const CAB = '341126-00001'

/** 2 unsigned sales (before enrollment), then batches of 3 and 2 signed. */
function anExport(): { doc: AuditExport; sales: Sale[] } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const sales = aChain(CAB, 7, { soldAt: (i) => `2026-12-0${i + 1}T02:00:00.000Z` })
  const sig = (batchId: string, from: number, to: number) => ({ batchId, firstSeq: from, lastSeq: to, sig: signBatch(privateKey, CAB, batchId, sales.slice(from - 1, to).map((s) => s.hash)) })
  return {
    sales,
    doc: {
      v: 1,
      kind: 'fupin-fleet-audit-export',
      cabinetId: CAB,
      month: '2026-12',
      generatedAt: '2026-12-31T00:00:00.000Z',
      publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      enrolledAt: '2026-12-02T12:00:00.000Z',
      entryHash: GENESIS_HASH,
      records: sales,
      signatures: [sig('0193a0b4-0000-7000-8000-000000000001', 3, 5), sig('0193a0b4-0000-7000-8000-000000000002', 6, 7)],
    },
  }
}

describe('audit export verification', () => {
  it('passes an intact export, reporting the sales before enrollment as unsigned', () => {
    const v = verifyAuditExport(anExport().doc)
    expect(v).toMatchObject({ ok: true, records: 7, signed: 5, unsigned: 2, unsignedRanges: [[1, 2]], failure: null })
    expect(auditVerdictZh(v)).toMatch(/^专柜 341126-00001 2026-12 销售记录核验：通过/)
    expect(auditVerdictZh(v)).toContain('未签名')
  })

  it('fails an altered amount at its seq, even re-hashed (the chain and the signature catch it)', () => {
    const { doc } = anExport()
    doc.records[3] = { ...doc.records[3]!, totalFen: doc.records[3]!.totalFen + 1, lines: [{ ...doc.records[3]!.lines[0]!, unitPriceFen: doc.records[3]!.lines[0]!.unitPriceFen + 1 }, ...doc.records[3]!.lines.slice(1)] }
    expect(verifyAuditExport(doc)).toMatchObject({ ok: false, failure: { seq: 4 } })
    doc.records[3] = rehash(CAB, doc.records[3]!)
    const v = verifyAuditExport(doc)
    expect(v.ok).toBe(false)
    expect(v.failure!.seq).toBe(3) // the batch 3–5 signature no longer holds (and seq 5's link is broken)
    expect(auditVerdictZh(v)).toContain('不通过')
  })

  it('fails an altered signature, a dropped record, a wrong entry hash and a missing key', () => {
    const a = anExport().doc
    a.signatures[1]!.sig = a.signatures[0]!.sig
    expect(verifyAuditExport(a)).toMatchObject({ ok: false, failure: { seq: 6 } })
    const b = anExport().doc
    b.records.splice(4, 1)
    expect(verifyAuditExport(b)).toMatchObject({ ok: false, failure: { seq: 3 } })
    const c = anExport().doc
    c.entryHash = 'a'.repeat(64)
    expect(verifyAuditExport(c)).toMatchObject({ ok: false, failure: { seq: 1 } })
    const d = anExport().doc
    d.publicKey = null
    expect(verifyAuditExport(d).ok).toBe(false)
    expect(verifyAuditExport({ v: 1 })).toMatchObject({ ok: false, failure: { seq: null } })
  })
})
