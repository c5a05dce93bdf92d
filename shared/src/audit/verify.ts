// Offline verification of an audit export (export.ts): recompute every sale
// hash, check the chain links, check every batch signature. Pure: the
// fleetctl verifier and the tests call it on the parsed document.
import { createPublicKey, type KeyObject } from 'node:crypto'
import { saleHash } from '../domain/chain.js'
import { lineTotalFen } from '../messages/sale.js'
import { verifyBatch } from '../messages/signature.js'
import { AuditExport } from './export.js'

export interface AuditFailure {
  /** The first bad record's seq (null when the document itself is unreadable). */
  readonly seq: number | null
  readonly reasonZh: string
}

export interface AuditVerdict {
  readonly ok: boolean
  readonly cabinetId: string | null
  readonly month: string | null
  readonly records: number
  /** Records covered by a valid signature. */
  readonly signed: number
  /** Records no signature covers (committed before the cabinet enrolled, or by a keyless cabinet). */
  readonly unsigned: number
  readonly unsignedRanges: ReadonlyArray<readonly [number, number]>
  readonly failure: AuditFailure | null
}

const fail = (doc: AuditExport | null, failure: AuditFailure, records = 0): AuditVerdict => ({
  ok: false, cabinetId: doc?.cabinetId ?? null, month: doc?.month ?? null, records, signed: 0, unsigned: 0, unsignedRanges: [], failure,
})

/** Verifies a parsed JSON document; never throws. */
export function verifyAuditExport(input: unknown): AuditVerdict {
  const parsed = AuditExport.safeParse(input)
  if (!parsed.success) return fail(null, { seq: null, reasonZh: `文件格式不符：${parsed.error.issues[0]?.path.join('.') ?? ''} ${parsed.error.issues[0]?.message ?? ''}`.trim() })
  const doc = parsed.data
  const { records } = doc
  const issues: AuditFailure[] = []
  const bySeq = new Map<number, number>()
  for (const [i, r] of records.entries()) {
    bySeq.set(r.seq, i)
    if (i === 0) {
      if (r.prevHash !== doc.entryHash) issues.push({ seq: r.seq, reasonZh: '第一条记录的前序哈希与文件给出的链入口哈希不一致' })
    } else {
      const before = records[i - 1]!
      if (r.seq !== before.seq + 1) issues.push({ seq: r.seq, reasonZh: `序号不连续（前一条为 ${before.seq}）` })
      else if (r.prevHash !== before.hash) issues.push({ seq: r.seq, reasonZh: '前序哈希与上一条记录的哈希不一致（链断裂）' })
    }
    if (saleHash(doc.cabinetId, r) !== r.hash) issues.push({ seq: r.seq, reasonZh: '按记录内容重算的哈希与记录的哈希不一致（记录内容被改动）' })
    else if (lineTotalFen(r.lines) !== r.totalFen) issues.push({ seq: r.seq, reasonZh: '销售总额与明细不符' })
  }

  let key: KeyObject | null = null
  if (doc.publicKey !== null) {
    try {
      key = createPublicKey(doc.publicKey)
      if (key.asymmetricKeyType !== 'ed25519') throw new Error('not ed25519')
    } catch {
      return fail(doc, { seq: null, reasonZh: '文件中的公钥不是有效的 Ed25519 公钥' }, records.length)
    }
  } else if (doc.signatures.length > 0) {
    return fail(doc, { seq: null, reasonZh: '文件中有批次签名但没有公钥' }, records.length)
  }

  const covered = new Set<number>()
  for (const s of doc.signatures) {
    const hashes: string[] = []
    for (let seq = s.firstSeq; seq <= s.lastSeq; seq++) {
      const i = bySeq.get(seq)
      if (i === undefined) break
      hashes.push(records[i]!.hash)
    }
    if (s.lastSeq < s.firstSeq || hashes.length !== s.lastSeq - s.firstSeq + 1) {
      issues.push({ seq: s.firstSeq, reasonZh: `批次 ${s.batchId} 的签名覆盖第 ${s.firstSeq}–${s.lastSeq} 笔，文件中缺少其中的记录` })
      continue
    }
    if (!verifyBatch(key!, doc.cabinetId, s.batchId, hashes, s.sig)) {
      issues.push({ seq: s.firstSeq, reasonZh: `批次 ${s.batchId}（第 ${s.firstSeq}–${s.lastSeq} 笔）的签名校验失败` })
      continue
    }
    for (let seq = s.firstSeq; seq <= s.lastSeq; seq++) covered.add(seq)
  }

  const unsignedRanges: Array<[number, number]> = []
  for (const r of records) {
    if (covered.has(r.seq)) continue
    const last = unsignedRanges.at(-1)
    if (last && last[1] === r.seq - 1) last[1] = r.seq
    else unsignedRanges.push([r.seq, r.seq])
  }
  const unsigned = unsignedRanges.reduce((n, [a, b]) => n + b - a + 1, 0)
  issues.sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0))
  return {
    ok: issues.length === 0,
    cabinetId: doc.cabinetId,
    month: doc.month,
    records: records.length,
    signed: records.length - unsigned,
    unsigned,
    unsignedRanges,
    failure: issues[0] ?? null,
  }
}

/** The verdict as the verifier prints it (zh-CN). */
export function auditVerdictZh(v: AuditVerdict): string {
  const head = v.cabinetId ? `专柜 ${v.cabinetId} ${v.month ?? ''} 销售记录核验` : '销售记录核验'
  const lines = [`${head}：${v.ok ? '通过' : '不通过'}`]
  if (v.failure) lines.push(v.failure.seq === null ? `原因：${v.failure.reasonZh}` : `第一条有问题的记录：第 ${v.failure.seq} 笔；原因：${v.failure.reasonZh}`)
  lines.push(`记录 ${v.records} 笔，其中已签名 ${v.signed} 笔，未签名 ${v.unsigned} 笔`)
  if (v.unsigned > 0) {
    const ranges = v.unsignedRanges.map(([a, b]) => (a === b ? `${a}` : `${a}–${b}`)).join('、')
    lines.push(`未签名（专柜登记签名密钥之前或未登记密钥时入库的销售，只核验哈希链）：第 ${ranges} 笔`)
  }
  return lines.join('\n')
}
