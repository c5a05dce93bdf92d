// Issue 16 §2: the auditor's export of one cabinet's month. The records are
// the stored sales with exactly the fields their chain hash covers; the range
// runs from the month's first sale to its last (Asia/Shanghai soldAt) in seq
// order, widened to the whole batches whose signatures cover them, so every
// signature in the file can be checked from the file alone (shared/src/audit).
import { AppError, AuditMonth, GENESIS_HASH, type AuditExport } from '../../../shared/src/index.js'
import type { SalesStore } from '../sales/store.js'

export interface AuditExportDeps {
  readonly sales: Pick<SalesStore, 'seqRangeSold' | 'signaturesCovering' | 'list'>
  readonly keyOf: (cabinetId: string) => Promise<{ readonly publicKey: string; readonly enrolledAt: string } | null>
  readonly now: () => Date
}

export async function buildAuditExport(deps: AuditExportDeps, cabinetId: string, month: string): Promise<AuditExport> {
  if (!AuditMonth.safeParse(month).success) throw new AppError('AUDIT_MONTH_INVALID', `month ${month} is not YYYY-MM`, 400, { month }, `“${month}”`)
  const key = await deps.keyOf(cabinetId)
  const range = await deps.sales.seqRangeSold(cabinetId, `${month}-01`, `${month}-31`)
  let records: AuditExport['records'] = []
  let signatures: AuditExport['signatures'] = []
  if (range) {
    signatures = await deps.sales.signaturesCovering(cabinetId, range.first, range.last)
    let from = range.first
    let to = range.last
    for (const s of signatures) {
      from = Math.min(from, s.firstSeq)
      to = Math.max(to, s.lastSeq)
    }
    records = (await deps.sales.list(cabinetId, from - 1, to - from + 1)).map((s) => ({
      saleId: s.saleId,
      seq: s.seq,
      soldAt: s.soldAt,
      recordedAt: s.recordedAt,
      payment: s.payment,
      lines: s.lines.map((l) => ({ sku: l.sku, qty: l.qty, unitPriceFen: l.unitPriceFen })),
      totalFen: s.totalFen,
      prevHash: s.prevHash,
      hash: s.hash,
    }))
  }
  return {
    v: 1,
    kind: 'fupin-fleet-audit-export',
    cabinetId,
    month,
    generatedAt: deps.now().toISOString(),
    publicKey: key?.publicKey ?? null,
    enrolledAt: key?.enrolledAt ?? null,
    entryHash: records[0]?.prevHash ?? GENESIS_HASH,
    records,
    signatures,
  }
}
