// The verdict of a simulated run: every agent's ledger against what the fleet
// server says it stored, read back through its HTTP API. A sale is missing when
// a ledger holds it and the server does not; duplicated when the server holds
// more than the ledgers ever recorded (or a sale id twice).
import { shanghaiDate } from '../../../shared/src/index.js'
import type { CabinetReport, SimCabinet } from './ipc.js'
import { cabinetProfile, plannedSales } from './model.js'
import { pool, type Http } from './provision.js'

export interface Verdict {
  /** No sale missing or duplicated, nothing halted, every cabinet readable. */
  isOk: boolean
  cabinets: number
  sales: {
    generated: number
    acknowledged: number
    stored: number
    duplicates: number
    missing: number
    /** Sale ids compared one by one (small runs), or only counts and chain heads. */
    checkedBy: 'sale-ids' | 'counts'
  }
  cabinetsWithProblems: Array<{ cabinetId: string; ledgerLastSeq: number; serverCount: number | null; serverLastSeq: number | null; problem: string }>
  haltedAgents: number
  /** Cabinets drawn below a 50% certified share, and what the server's compliance view says (null when the endpoint does not exist yet). */
  compliance: { drawnBelowHalf: number; nonCompliant: number | null; judged: number | null; status: number }
  forwarding: { sent: number; pending: number; held: number; failed: number; status: number; runStatus: number } | { status: number }
}

interface CabinetGet {
  sales?: { count: number; lastSeq: number }
}

export interface JudgeOptions {
  seed: string
  startMs: number
  days: number
  verifyIds: boolean
  certifiedMean: number
  clockSkewRate: number
  cabinets: SimCabinet[]
}

const PAGE = 1000

export async function judge(http: Http, reports: CabinetReport[], o: JudgeOptions): Promise<Verdict> {
  const byId = new Map(o.cabinets.map((c) => [c.cabinetId, c]))
  let generated = 0
  let acknowledged = 0
  let stored = 0
  let duplicates = 0
  let missing = 0
  const problems: Verdict['cabinetsWithProblems'] = []

  await pool(reports, 16, async (rep) => {
    generated += rep.lastSeq - rep.baseSeq
    acknowledged += rep.lastAckedSeq - rep.baseSeq
    const g = await http.call<CabinetGet>('GET', `/api/v1/cabinets/${rep.cabinetId}`)
    if (g.status !== 200 || !g.body.sales) {
      missing += rep.lastSeq - rep.baseSeq
      problems.push({ cabinetId: rep.cabinetId, ledgerLastSeq: rep.lastSeq, serverCount: null, serverLastSeq: null, problem: `GET cabinet: ${g.status}` })
      return
    }
    const { count, lastSeq } = g.body.sales
    let miss = Math.max(0, rep.lastSeq - count)
    let dup = Math.max(0, count - rep.lastSeq)
    const notes: string[] = []
    if (lastSeq !== rep.lastSeq) notes.push(`server lastSeq ${lastSeq} ≠ ledger lastSeq ${rep.lastSeq}`)
    if (o.verifyIds) {
      // The schedule is a pure function of the seed: the ids this run sold are its first (lastSeq − baseSeq) sales.
      const sim = byId.get(rep.cabinetId)!
      const profile = cabinetProfile(rep.cabinetId, sim.venueType, { seed: o.seed, certifiedMean: o.certifiedMean, clockSkewRate: o.clockSkewRate })
      const expected = plannedSales(o.seed, rep.cabinetId, profile, o.startMs, o.days, rep.lastSeq - rep.baseSeq).map((s) => s.body.saleId)
      const onServer: string[] = []
      for (let after = rep.baseSeq; ;) {
        const page = await http.call<{ sales: Array<{ saleId: string; seq: number }>; nextAfterSeq: number | null }>('GET', `/api/v1/cabinets/${rep.cabinetId}/sales?afterSeq=${after}&limit=${PAGE}`)
        if (page.status !== 200) {
          notes.push(`GET sales: ${page.status}`)
          break
        }
        onServer.push(...page.body.sales.map((s) => s.saleId))
        if (page.body.nextAfterSeq === null) break
        after = page.body.nextAfterSeq
      }
      const seen = new Set<string>()
      let repeated = 0
      for (const id of onServer) {
        if (seen.has(id)) repeated++
        seen.add(id)
      }
      const want = new Set(expected)
      const absent = expected.filter((id) => !seen.has(id)).length
      const unexpected = [...seen].filter((id) => !want.has(id)).length
      miss = Math.max(miss, absent)
      dup = Math.max(dup, repeated + unexpected)
      if (onServer.join() !== expected.join() && absent + unexpected + repeated === 0) notes.push('sale order differs from the schedule')
    }
    missing += miss
    duplicates += dup
    stored += Math.max(0, Math.min(count, rep.lastSeq) - rep.baseSeq)
    if (miss > 0) notes.push(`${miss} missing`)
    if (dup > 0) notes.push(`${dup} duplicated`)
    if (rep.isHalted) notes.push('agent sync halted')
    if (notes.length > 0 && problems.length < 20) {
      problems.push({ cabinetId: rep.cabinetId, ledgerLastSeq: rep.lastSeq, serverCount: count, serverLastSeq: lastSeq, problem: notes.join('; ') })
    }
  })

  const from = shanghaiDate(o.startMs)
  const to = shanghaiDate(o.startMs + o.days * 86_400_000 - 1)
  const ours = new Set(reports.map((r) => r.cabinetId))
  const comp = await http.call<{ cabinets?: Array<{ cabinetId: string; compliant: boolean }> }>('GET', `/api/v1/compliance?from=${from}&to=${to}`)
  const judged = comp.status === 200 && Array.isArray(comp.body.cabinets) ? comp.body.cabinets.filter((c) => ours.has(c.cabinetId)) : null
  // One evaluation-and-send pass now, so the figures cover this run (it also runs on its own schedule).
  const fwdRun = await http.call('POST', '/api/v1/forwarding/run')
  const fwd = await http.call<{ sent?: number; pending?: number; held?: unknown[]; failed?: number }>('GET', '/api/v1/forwarding')
  const haltedAgents = reports.filter((r) => r.isHalted).length

  return {
    isOk: missing === 0 && duplicates === 0 && haltedAgents === 0 && problems.length === 0,
    cabinets: reports.length,
    sales: { generated, acknowledged, stored, duplicates, missing, checkedBy: o.verifyIds ? 'sale-ids' : 'counts' },
    cabinetsWithProblems: problems,
    haltedAgents,
    compliance: {
      drawnBelowHalf: reports.filter((r) => r.certifiedShare < 0.5).length,
      nonCompliant: judged ? judged.filter((c) => !c.compliant).length : null,
      judged: judged ? judged.length : null,
      status: comp.status,
    },
    forwarding:
      fwd.status === 200
        ? { sent: Number(fwd.body.sent ?? 0), pending: Number(fwd.body.pending ?? 0), held: Array.isArray(fwd.body.held) ? fwd.body.held.length : 0, failed: Number(fwd.body.failed ?? 0), status: 200, runStatus: fwdRun.status }
        : { status: fwd.status },
  }
}
