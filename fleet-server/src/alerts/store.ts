// SQL for alerts. One open row per (kind, subject), kept by a partial unique
// index; evaluation upserts the conditions that hold and clears the rest.
import type { AlertKind, AlertView } from '../../../shared/src/index.js'
import type { Db } from '../db/index.js'

export interface AlertCondition {
  readonly kind: AlertKind
  /** What the alert is about, unique within the kind: a cabinet id, a county code, a certificate number … */
  readonly subject: string
  readonly severity: 'warning' | 'critical'
  readonly countyCode: string | null
  readonly cabinetId: string | null
  readonly operator: string | null
  /** zh-CN, for the dashboard. */
  readonly message: string
  readonly detail: Record<string, unknown>
}

export interface AlertFilter {
  readonly countyCode: string | null
  readonly operator: string | null
  /** Operators see only alerts about their cabinets. */
  readonly cabinetOnly: boolean
  readonly state: 'open' | 'unacked' | 'all'
  readonly kind: AlertKind | null
  readonly limit: number
}

export interface AlertRow extends AlertView {
  readonly operator: string | null
}

export interface AlertStore {
  /**
   * Applies one source's verdict: open what is new, refresh what holds, clear
   * what no longer does — among all open alerts of the kind, or only those of
   * `countyCode` when given (a partitioned source's verdict for one county).
   */
  apply(kind: AlertKind, conditions: readonly AlertCondition[], nowIso: string, newId: () => string, countyCode?: string): { raised: number; cleared: number }
  /** Clears open alerts of the kind in none of these counties (after a partitioned source's last county). */
  clearOutside(kind: AlertKind, countyCodes: readonly string[], nowIso: string): number
  list(f: AlertFilter): { alerts: AlertRow[]; total: number }
  get(alertId: string): AlertRow | null
  ack(alertId: string, by: string, nowIso: string): void
  openCount(): number
}

interface DbAlert {
  alert_id: string
  kind: AlertKind
  subject: string
  severity: 'warning' | 'critical'
  county_code: string | null
  cabinet_id: string | null
  operator: string | null
  message: string
  detail: string
  raised_at: string
  cleared_at: string | null
  acked_at: string | null
  acked_by: string | null
}

const toRow = (r: DbAlert): AlertRow => ({
  alertId: r.alert_id,
  kind: r.kind,
  subject: r.subject,
  severity: r.severity,
  countyCode: r.county_code,
  cabinetId: r.cabinet_id,
  operator: r.operator,
  message: r.message,
  detail: JSON.parse(r.detail) as Record<string, unknown>,
  raisedAt: r.raised_at,
  clearedAt: r.cleared_at,
  ackedAt: r.acked_at,
  ackedBy: r.acked_by,
})

export function createSqliteAlertStore(db: Db): AlertStore {
  type Open = { alert_id: string; subject: string; severity: string; county_code: string | null; message: string; detail: string }
  const openOf = db.prepare<[string], Open>('SELECT alert_id, subject, severity, county_code, message, detail FROM alerts WHERE kind = ? AND cleared_at IS NULL')
  const openIn = db.prepare<[string, string], Open>(
    'SELECT alert_id, subject, severity, county_code, message, detail FROM alerts WHERE kind = ? AND county_code = ? AND cleared_at IS NULL',
  )
  const clearOutside = db.prepare<[string, string, string, string]>(
    `UPDATE alerts SET cleared_at = ?, updated_at = ?
     WHERE kind = ? AND cleared_at IS NULL AND (county_code IS NULL OR county_code NOT IN (SELECT value FROM json_each(?)))`,
  )
  const insert = db.prepare(
    `INSERT INTO alerts (alert_id, kind, subject, severity, county_code, cabinet_id, operator, message, detail, raised_at, updated_at)
     VALUES (@alertId, @kind, @subject, @severity, @countyCode, @cabinetId, @operator, @message, @detail, @now, @now)`,
  )
  // The county too: alerts raised before cert_expiring alerts were routed to counties get theirs.
  const refresh = db.prepare<[{ alertId: string; severity: string; countyCode: string | null; message: string; detail: string; now: string }]>(
    'UPDATE alerts SET severity = @severity, county_code = @countyCode, message = @message, detail = @detail, updated_at = @now WHERE alert_id = @alertId',
  )
  const clear = db.prepare<[string, string, string]>('UPDATE alerts SET cleared_at = ?, updated_at = ? WHERE alert_id = ?')
  const where = `WHERE (@countyCode IS NULL OR county_code = @countyCode)
                   AND (@operator IS NULL OR operator = @operator)
                   AND (@cabinetOnly = 0 OR cabinet_id IS NOT NULL)
                   AND (@kind IS NULL OR kind = @kind)
                   AND (@state = 'all' OR (cleared_at IS NULL AND (@state = 'open' OR acked_at IS NULL)))`
  type P = { countyCode: string | null; operator: string | null; cabinetOnly: number; kind: string | null; state: string }
  const list = db.prepare<[P & { limit: number }], DbAlert>(`SELECT * FROM alerts ${where} ORDER BY raised_at DESC, alert_id DESC LIMIT @limit`)
  const count = db.prepare<[P], { n: number }>(`SELECT count(*) AS n FROM alerts ${where}`)
  const get = db.prepare<[string], DbAlert>('SELECT * FROM alerts WHERE alert_id = ?')
  const ack = db.prepare<[string, string, string, string]>('UPDATE alerts SET acked_at = ?, acked_by = ?, updated_at = ? WHERE alert_id = ? AND acked_at IS NULL')
  const openCount = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM alerts WHERE cleared_at IS NULL')

  const apply = db.transaction((kind: AlertKind, conditions: readonly AlertCondition[], now: string, newId: () => string, countyCode?: string) => {
    if (countyCode !== undefined) {
      const stray = conditions.find((c) => c.countyCode !== countyCode)
      // It would be cleared by its own county's turn and raised again by this one, forever.
      if (stray) throw new Error(`alert source ${kind} returned ${stray.subject} of county ${stray.countyCode} when asked for ${countyCode}`)
    }
    const open = new Map((countyCode === undefined ? openOf.all(kind) : openIn.all(kind, countyCode)).map((r) => [r.subject, r]))
    let raised = 0
    let cleared = 0
    for (const c of conditions) {
      const detail = JSON.stringify(c.detail)
      const existing = open.get(c.subject)
      if (existing) {
        // Written only when it changed: at 20,000 cabinets offline during a
        // rollout, rewriting every row each evaluation cost ~0.3 s of the loop.
        const same = existing.severity === c.severity && existing.county_code === c.countyCode && existing.message === c.message && existing.detail === detail
        if (!same) refresh.run({ alertId: existing.alert_id, severity: c.severity, countyCode: c.countyCode, message: c.message, detail, now })
        open.delete(c.subject)
      } else {
        insert.run({ alertId: newId(), kind, subject: c.subject, severity: c.severity, countyCode: c.countyCode, cabinetId: c.cabinetId, operator: c.operator, message: c.message, detail, now })
        raised++
      }
    }
    for (const { alert_id: alertId } of open.values()) {
      clear.run(now, now, alertId)
      cleared++
    }
    return { raised, cleared }
  })

  return {
    apply: (kind, conditions, nowIso, newId, countyCode) => apply(kind, conditions, nowIso, newId, countyCode),
    clearOutside: (kind, countyCodes, nowIso) => clearOutside.run(nowIso, nowIso, kind, JSON.stringify(countyCodes)).changes,
    list(f) {
      const p: P = { countyCode: f.countyCode, operator: f.operator, cabinetOnly: f.cabinetOnly ? 1 : 0, kind: f.kind, state: f.state }
      return { alerts: list.all({ ...p, limit: f.limit }).map(toRow), total: count.get(p)!.n }
    },
    get(alertId) {
      const r = get.get(alertId)
      return r ? toRow(r) : null
    },
    ack(alertId, by, nowIso) {
      ack.run(nowIso, by, nowIso, alertId)
    },
    openCount: () => openCount.get()!.n,
  }
}
