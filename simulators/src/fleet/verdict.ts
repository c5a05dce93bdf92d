// The verdict of a simulated run: every agent's ledger against what the fleet
// server says it stored, read back through its HTTP API. A sale is missing when
// a ledger holds it and the server does not; duplicated when the server holds
// more than the ledgers ever recorded (or a sale id twice).
import { shanghaiDate } from '../../../shared/src/index.js'
import type { SentCommand } from './commands.js'
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
  forwarding: ForwardingVerdict | { status: number }
}

/**
 * The server's forwarding queue after one evaluation-and-send pass, fleet-wide
 * (cabinet-periods: report batches; corrections are counted apart). Reconciled
 * when every period the pass judged is accounted for exactly once:
 * sent + pending + held + failed = judged.
 */
export interface ForwardingVerdict {
  sent: number
  pending: number
  held: number
  failed: number
  /** Held periods by reason: INCOMPLETE_SYNC, NOT_COMPLIANT, CHAIN_BROKEN. */
  heldByReason: Record<string, number>
  /** Periods the last pass judged (ended ones). */
  judged: number | null
  periods: number | null
  isReconciled: boolean
  platformConfigured: boolean | null
  corrections: { sent: number; pending: number; failed: number } | null
  status: number
  runStatus: number
}

interface ForwardingGet {
  sent?: number
  pending?: number
  held?: Array<{ reason?: string }>
  failed?: unknown[] | number
  periods?: number
  platformConfigured?: boolean
  corrections?: { sent?: number; pending?: number; failed?: unknown[] }
}

/** With a platform configured, a pass answers after at most 10 s; deliveries then go on in the background. */
const FORWARDING_SETTLE_MS = 60_000

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
  const forwarding = await forwardingVerdict(http)
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
    forwarding,
  }
}

async function forwardingVerdict(http: Http): Promise<Verdict['forwarding']> {
  // One evaluation-and-send pass now, so the figures cover this run (it also runs on its own schedule).
  const run = await http.call<{ judged?: number }>('POST', '/api/v1/forwarding/run')
  let fwd = await http.call<ForwardingGet>('GET', '/api/v1/forwarding')
  // Deliveries the pass started may still be going on: wait while the queue keeps shrinking.
  const deadline = Date.now() + FORWARDING_SETTLE_MS
  let pending = Number(fwd.body.pending ?? 0)
  let movedAt = Date.now()
  while (fwd.status === 200 && fwd.body.platformConfigured === true && pending > 0 && Date.now() < deadline && Date.now() - movedAt < 10_000) {
    await new Promise((r) => setTimeout(r, 500))
    fwd = await http.call<ForwardingGet>('GET', '/api/v1/forwarding')
    const next = Number(fwd.body.pending ?? 0)
    if (next < pending) movedAt = Date.now()
    pending = next
  }
  if (fwd.status !== 200) return { status: fwd.status }
  const b = fwd.body
  const count = (x: unknown[] | number | undefined): number => (Array.isArray(x) ? x.length : Number(x ?? 0))
  const held = Array.isArray(b.held) ? b.held : []
  const heldByReason: Record<string, number> = {}
  for (const h of held) heldByReason[String(h.reason)] = (heldByReason[String(h.reason)] ?? 0) + 1
  const sent = Number(b.sent ?? 0)
  pending = Number(b.pending ?? 0)
  const failed = count(b.failed)
  const judged = run.status === 200 && typeof run.body.judged === 'number' ? run.body.judged : null
  return {
    sent,
    pending,
    held: held.length,
    failed,
    heldByReason,
    judged,
    periods: typeof b.periods === 'number' ? b.periods : null,
    isReconciled: judged !== null && sent + pending + held.length + failed === judged,
    platformConfigured: typeof b.platformConfigured === 'boolean' ? b.platformConfigured : null,
    corrections: b.corrections ? { sent: Number(b.corrections.sent ?? 0), pending: Number(b.corrections.pending ?? 0), failed: count(b.corrections.failed) } : null,
    status: 200,
    runStatus: run.status,
  }
}

/**
 * The remote commands of a run, each read back from the server after the
 * drain: every one must end done, or expired when its cabinet was offline
 * past its expiry; and after a done price change, the cabinet's later sales
 * of that SKU (the server's stored lines) carry the new price.
 */
export interface CommandVerdict {
  sent: number
  done: number
  expired: number
  failed: number
  pending: number
  delivered: number
  /** Refused by the server when sent (status other than 201). */
  sendFailed: number
  /** Planned into an outage, and of those planned to expire before it ended. */
  intoOutage: number
  shortExpiry: number
  /** Expired although the cabinet was not offline at the expiry. */
  unjustifiedExpiry: number
  prices: {
    done: number
    /** Done price changes whose boundary (the ledger's last seq when applied) the worker reported. */
    checked: number
    /** Sale lines of a changed SKU sold after a change, and those not at the new price. */
    lines: number
    wrong: number
  }
  problems: Array<{ commandId: string | null; cabinetId: string; kind: string; problem: string }>
  isOk: boolean
}

export interface CommandJudgeOptions {
  /** The cabinet's uplink (or its worker) was down at this wall-clock instant, give or take a reconnect. */
  isOfflineAt: (cabinetId: string, wallMs: number) => boolean
  /** commandId → the agent's lastSeq when it applied the command (its later sales are the ones after). */
  boundaries: ReadonlyMap<string, number>
  /** How long to wait for the last commands to reach an end state. */
  timeoutMs: number
}

const FINAL = new Set(['done', 'expired', 'failed'])

export async function judgeCommands(http: Http, sent: readonly SentCommand[], o: CommandJudgeOptions): Promise<CommandVerdict> {
  const problems: CommandVerdict['problems'] = []
  const problem = (c: SentCommand, text: string): void => {
    if (problems.length < 20) problems.push({ commandId: c.commandId, cabinetId: c.cabinetId, kind: c.body.kind, problem: text })
  }
  const views = new Map<string, { state: string; expiresAt: string }>()
  const ids = sent.filter((c) => c.commandId !== null)
  const deadline = Date.now() + o.timeoutMs
  for (;;) {
    const open = ids.filter((c) => !FINAL.has(views.get(c.commandId!)?.state ?? ''))
    if (open.length === 0) break
    await pool(open, 16, async (c) => {
      const g = await http.call<{ state?: string; expiresAt?: string }>('GET', `/api/v1/commands/${c.commandId}`)
      if (g.status === 200 && g.body.state && g.body.expiresAt) views.set(c.commandId!, { state: g.body.state, expiresAt: g.body.expiresAt })
    })
    if (Date.now() >= deadline) break
    await new Promise((r) => setTimeout(r, 500))
  }
  const count = (state: string): number => ids.filter((c) => views.get(c.commandId!)?.state === state).length
  let unjustifiedExpiry = 0
  for (const c of sent) {
    if (c.commandId === null) {
      problem(c, `not sent: HTTP ${c.status}`)
      continue
    }
    const v = views.get(c.commandId)
    if (!v) problem(c, 'GET command never answered 200')
    else if (v.state === 'expired' && !o.isOfflineAt(c.cabinetId, Date.parse(v.expiresAt))) {
      unjustifiedExpiry++
      problem(c, `expired at ${v.expiresAt} while the cabinet was online`)
    } else if (!FINAL.has(v.state) || v.state === 'failed') problem(c, `ended ${v.state}`)
  }
  const prices = await checkPrices(http, ids.filter((c) => c.body.kind === 'price' && views.get(c.commandId!)?.state === 'done'), o.boundaries, (c, text) => problem(c, text))
  const verdict: Omit<CommandVerdict, 'isOk'> = {
    sent: sent.length,
    done: count('done'),
    expired: count('expired'),
    failed: count('failed'),
    pending: count('pending'),
    delivered: count('delivered'),
    sendFailed: sent.filter((c) => c.commandId === null).length,
    intoOutage: sent.filter((c) => c.isIntoOutage).length,
    shortExpiry: sent.filter((c) => c.body.expiresInS !== undefined).length,
    unjustifiedExpiry,
    prices,
    problems,
  }
  const isOk = verdict.done + verdict.expired === verdict.sent && unjustifiedExpiry === 0 && prices.wrong === 0
  return { ...verdict, isOk }
}

/**
 * For each cabinet with done price changes: its sales on the server after the
 * earliest change, each line of a changed SKU against the latest change
 * applied before that sale.
 */
async function checkPrices(
  http: Http,
  done: readonly SentCommand[],
  boundaries: ReadonlyMap<string, number>,
  problem: (c: SentCommand, text: string) => void,
): Promise<CommandVerdict['prices']> {
  const byCabinet = new Map<string, Array<{ c: SentCommand; sku: string; priceFen: number; afterSeq: number }>>()
  let checked = 0
  for (const c of done) {
    if (c.body.kind !== 'price') continue
    const afterSeq = boundaries.get(c.commandId!)
    if (afterSeq === undefined) continue // the worker died before telling: nothing to hold the sales against
    checked++
    const list = byCabinet.get(c.cabinetId) ?? []
    list.push({ c, ...c.body.params, afterSeq })
    byCabinet.set(c.cabinetId, list)
  }
  let lines = 0
  let wrong = 0
  await pool([...byCabinet], 4, async ([cabinetId, changes]) => {
    changes.sort((a, b) => a.afterSeq - b.afterSeq)
    for (let after = changes[0]!.afterSeq; ;) {
      const page = await http.call<{ sales: Array<{ seq: number; lines: Array<{ sku: string; unitPriceFen: number }> }>; nextAfterSeq: number | null }>('GET', `/api/v1/cabinets/${cabinetId}/sales?afterSeq=${after}&limit=${PAGE}`)
      if (page.status !== 200) {
        problem(changes[0]!.c, `GET sales: ${page.status}`)
        wrong++
        return
      }
      for (const sale of page.body.sales) {
        for (const line of sale.lines) {
          const change = changes.findLast((x) => x.sku === line.sku && x.afterSeq < sale.seq)
          if (!change) continue
          lines++
          if (line.unitPriceFen !== change.priceFen) {
            wrong++
            problem(change.c, `sale seq ${sale.seq}: ${line.sku} at ${line.unitPriceFen} fen, not ${change.priceFen}`)
          }
        }
      }
      if (page.body.nextAfterSeq === null) break
      after = page.body.nextAfterSeq
    }
  })
  return { done: done.length, checked, lines, wrong }
}
