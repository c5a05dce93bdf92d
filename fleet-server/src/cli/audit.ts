// `fleetctl audit verify FILE` (issue 16 §2): checks an audit export offline —
// no server, no token — with the same pure functions the tests call
// (shared/src/audit). Exit 0 when it passes, 1 when it does not.
import { readFile } from 'node:fs/promises'
import { auditVerdictZh, verifyAuditExport } from '../../../shared/src/index.js'

export async function auditVerify(file: string, asJson: boolean, io: { out(line: string): void; err(line: string): void }): Promise<number> {
  let doc: unknown
  try {
    doc = JSON.parse(await readFile(file, 'utf8'))
  } catch (err) {
    io.err(`错误：无法读取 ${file}：${(err as Error).message}`)
    io.out('销售记录核验：不通过（文件无法读取或不是 JSON）')
    return 1
  }
  const verdict = verifyAuditExport(doc)
  io.out(asJson ? JSON.stringify(verdict, null, 2) : auditVerdictZh(verdict))
  return verdict.ok ? 0 : 1
}
