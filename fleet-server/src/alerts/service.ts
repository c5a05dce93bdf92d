// Alerts: evaluated from the sources on a schedule (and on demand), stored,
// listed within the caller's scope, acknowledged by a user. An acknowledged
// alert stays open until its condition clears.
import type { Logger } from 'pino'
import { AppError, uuidv7, type AlertList, type AlertView, type EvaluateAlertsReply, type ListAlertsQuery } from '../../../shared/src/index.js'
import { assertMayChangeCabinet, canSeeCabinet, cabinetScope, isCityWide, type Principal } from '../access/index.js'
import type { AlertSource } from './sources.js'
import type { AlertRow, AlertStore, AlertTransition } from './store.js'
import type { Tx } from '../db/database.js'

/**
 * Hears every alert raised or cleared, inside the transaction writing it
 * (notifications write their outbox there: issue 16 §6). A throw rolls the
 * evaluation of that source back; it is retried at the next evaluation.
 */
export interface AlertListener {
  transitions(tx: Tx, transitions: readonly AlertTransition[]): Promise<void>
}

export interface AlertService {
  evaluate(): Promise<EvaluateAlertsReply>
  list(by: Principal, q: ListAlertsQuery): Promise<AlertList>
  ack(by: Principal, alertId: string): Promise<AlertView>
  /** Adds a source later (e.g. compliance, once the catalog domain is up). */
  addSource(source: AlertSource): void
  close(): void
}

export interface AlertServiceDeps {
  readonly store: AlertStore
  readonly sources: readonly AlertSource[]
  readonly now: () => Date
  readonly log: Logger
  /** Evaluation interval; 0 = only on demand. */
  readonly everyMs: number
  /**
   * Whether this process runs the interval's evaluations (db/leader.ts: with
   * replicas on one PostgreSQL, one of them); always when absent. An
   * evaluation asked for through the API runs regardless.
   */
  readonly isLeader?: () => Promise<boolean>
  /** Told of raises and clears in their transaction (see {@link AlertListener}). */
  readonly listeners?: readonly AlertListener[]
}

const alertNotFound = (alertId: string) => new AppError('ALERT_NOT_FOUND', `alert ${alertId} not found`, 404, { alertId }, `“${alertId}”`)

const view = ({ operator: _operator, ...a }: AlertRow): AlertView => a

/**
 * Whether `by` may see the alert: the rule GET /alerts filters by (city-wide
 * roles all; a county its county's; an operator its cabinets'). Notifications
 * judge their deliveries by it too.
 */
export function alertVisibleTo(by: Principal, a: Pick<AlertRow, 'countyCode' | 'cabinetId' | 'operator'>): boolean {
  if (isCityWide(by)) return true
  if (by.role === 'county') return a.countyCode !== null && a.countyCode === by.countyCode
  return a.cabinetId !== null && a.countyCode !== null && canSeeCabinet(by, { countyCode: a.countyCode, operator: a.operator })
}

export function createAlertService({ store, sources: initial, now, log, everyMs, isLeader, listeners = [] }: AlertServiceDeps): AlertService {
  const sources = [...initial]
  const written =
    listeners.length === 0
      ? undefined
      : async (tx: Tx, t: readonly AlertTransition[]) => {
          for (const l of listeners) await l.transitions(tx, t)
        }
  let running: Promise<EvaluateAlertsReply> | null = null

  async function evaluateOnce(): Promise<EvaluateAlertsReply> {
    let raised = 0
    let cleared = 0
    // Sources answer synchronously under their promises: without a yield per
    // source (and per county of a partitioned one) the whole evaluation held
    // the event loop as one block (0.65 s at 20,000 cabinets).
    const yieldTurn = () => new Promise<void>((resolve) => setImmediate(resolve))
    for (const source of sources) {
      try {
        const at = now()
        const newId = () => uuidv7(at.getTime())
        let r = { raised: 0, cleared: 0 }
        const counties = source.partitions?.()
        if (counties) {
          for (const county of counties) {
            const p = await store.apply(source.kind, await source.evaluate(at, county), at.toISOString(), newId, county, written)
            r = { raised: r.raised + p.raised, cleared: r.cleared + p.cleared }
            await yieldTurn()
          }
          r.cleared += await store.clearOutside(source.kind, counties, at.toISOString(), written)
        } else {
          r = await store.apply(source.kind, await source.evaluate(at), at.toISOString(), newId, undefined, written)
        }
        raised += r.raised
        cleared += r.cleared
        if (r.raised || r.cleared) log.info({ kind: source.kind, raised: r.raised, cleared: r.cleared }, 'alerts evaluated')
      } catch (err) {
        // One broken source must not stop the others.
        log.error({ err, kind: source.kind }, 'alert source failed')
      }
      await yieldTurn()
    }
    return { raised, cleared, open: await store.openCount() }
  }

  async function scheduled(): Promise<void> {
    if (isLeader && !(await isLeader())) return
    await evaluate()
  }

  const timer = everyMs > 0 ? setInterval(() => void scheduled().catch((err: unknown) => log.error({ err }, 'scheduled alert evaluation failed')), everyMs) : null
  timer?.unref()

  function evaluate(): Promise<EvaluateAlertsReply> {
    // Concurrent callers share one pass.
    running ??= evaluateOnce().finally(() => (running = null))
    return running
  }

  return {
    evaluate,
    addSource: (s) => void sources.push(s),
    async list(by, q) {
      const scope = cabinetScope(by)
      if (scope.countyCode && q.county && q.county !== scope.countyCode) return { alerts: [], total: 0 }
      const { alerts, total } = await store.list({
        countyCode: scope.countyCode ?? q.county ?? null,
        operator: scope.operator ?? null,
        cabinetOnly: by.role === 'operator',
        state: q.state,
        kind: q.kind ?? null,
        limit: q.limit,
      })
      return { alerts: alerts.map(view), total }
    },
    async ack(by, alertId) {
      const a = await store.get(alertId)
      if (!a || !alertVisibleTo(by, a)) throw alertNotFound(alertId)
      assertMayChangeCabinet(by)
      await store.ack(alertId, by.username, now().toISOString())
      log.info({ alertId, kind: a.kind, by: by.username }, 'alert acknowledged')
      return view((await store.get(alertId))!)
    },
    close() {
      if (timer) clearInterval(timer)
    },
  }
}
