// Alert sources: each one looks at one kind of trouble and returns the
// conditions that hold now. Compliance and certificate expiry plug in here from
// the catalog domains (AlertSource is the seam).
import { percentBpZh, shanghaiDate, type AlertKind, type RolloutReply } from '../../../shared/src/index.js'
import type { InstalledCabinet } from '../cabinets/index.js'
import type { AlertCondition } from './store.js'

export interface AlertSource {
  readonly kind: AlertKind
  /**
   * Counties to evaluate one at a time, each in its own event-loop turn: a
   * rule over every cabinet of a 20,000-cabinet fleet held the loop ~0.3 s.
   * The conditions evaluate(now, county) returns all carry that countyCode.
   */
  readonly partitions?: () => readonly string[]
  evaluate(now: Date, countyCode?: string): Promise<AlertCondition[]>
}

export const OFFLINE_AFTER_MS = 24 * 3600_000 // 24 h: the dashboard's "offline too long"
const OFFLINE_CRITICAL_MS = 72 * 3600_000 // 3 days: someone must go and look

/** A cabinet the offline rule watches: the cabinets domain's read of its installed cabinets. */
export type WatchedCabinet = InstalledCabinet

/**
 * Installed and operating cabinets not connected for more than 24 h. A cabinet
 * never seen counts from when it entered its status (installed but never
 * switched on is exactly what this alert is for).
 */
export function offlineSource(deps: {
  /** Installed and operating cabinets, of one county when given. */
  cabinets: (countyCode?: string) => Promise<WatchedCabinet[]>
  counties: () => readonly string[]
  isOnline: (cabinetId: string) => boolean | Promise<boolean>
  lastSeenAt: (cabinetId: string) => string | null | Promise<string | null>
}): AlertSource {
  return {
    kind: 'offline',
    partitions: deps.counties,
    async evaluate(now, countyCode) {
      const out: AlertCondition[] = []
      for (const c of await deps.cabinets(countyCode)) {
        if (c.status !== 'installed' && c.status !== 'operating') continue
        if (await deps.isOnline(c.cabinetId)) continue
        const seen = (await deps.lastSeenAt(c.cabinetId)) ?? c.lastSeenAt
        const since = seen && seen > c.statusSince ? seen : c.statusSince
        const offlineMs = now.getTime() - Date.parse(since)
        if (offlineMs <= OFFLINE_AFTER_MS) continue
        const hours = Math.floor(offlineMs / 3600_000)
        out.push({
          kind: 'offline',
          subject: c.cabinetId,
          severity: offlineMs > OFFLINE_CRITICAL_MS ? 'critical' : 'warning',
          countyCode: c.countyCode,
          cabinetId: c.cabinetId,
          operator: c.operator,
          message: seen ? `专柜 ${c.cabinetId} 已离线 ${hours} 小时` : `专柜 ${c.cabinetId} 已${c.status === 'operating' ? '运营' : '安装'} ${hours} 小时，从未上线`,
          detail: { lastSeenAt: seen, offlineSince: since, hours },
        })
      }
      return out
    },
  }
}

/** Counties whose pace will not make their next milestone, or that missed one. */
export function behindScheduleSource(deps: { progress: () => RolloutReply | Promise<RolloutReply> }): AlertSource {
  return {
    kind: 'behind_schedule',
    async evaluate() {
      const r = await deps.progress()
      const out: AlertCondition[] = []
      for (const c of r.counties) {
        const m = c.next
        if (!m || m.onTrack) continue
        const description = r.milestones.find((x) => x.id === m.milestoneId)?.description ?? m.milestoneId
        const projected = m.projectedDate ? `按近 ${r.paceWindowDays} 天进度预计 ${m.projectedDate} 完成` : `近 ${r.paceWindowDays} 天无进展`
        out.push({
          kind: 'behind_schedule',
          subject: `${c.code}:${m.milestoneId}`,
          severity: m.state === 'missed' ? 'critical' : 'warning',
          countyCode: c.code,
          cabinetId: null,
          operator: null,
          message:
            m.state === 'missed'
              ? `${c.name}未按期完成“${description}”（${m.date}），尚差 ${m.remaining} 台；${projected}`
              : `${c.name}落后于“${description}”（${m.date}）进度，尚差 ${m.remaining} 台；${projected}`,
          detail: { milestoneId: m.milestoneId, date: m.date, state: m.state, remaining: m.remaining, pacePerDay: m.pacePerDay, projectedDate: m.projectedDate },
        })
      }
      return out
    },
  }
}

export const CERT_EXPIRY_WARNING_DAYS = 90 // policy 002: re-apply from 3 months before expiry
const CERT_EXPIRY_CRITICAL_DAYS = 30

export interface ExpiringCertificate {
  readonly certificateNo: string
  readonly sku: string
  readonly supplierUscc: string
  readonly validTo: string
  readonly status: string
  readonly revokedFrom: string | null
}

/**
 * Valid certificates whose validity ends within 90 days and that no later
 * certificate of the same product takes over (a renewal clears the alert).
 * City-wide roles see them all; a county sees those of suppliers registered
 * in it (`countyOf`), since its 扶贫部门 certified them and must remind them.
 */
export function certExpiringSource(deps: {
  certificates: (asOf: string) => readonly ExpiringCertificate[] | Promise<readonly ExpiringCertificate[]>
  /** The plan county a supplier is registered in, or null (registered elsewhere). */
  countyOf: (supplierUscc: string) => string | null
}): AlertSource {
  return {
    kind: 'cert_expiring',
    async evaluate(now) {
      const today = shanghaiDate(now)
      const all = await deps.certificates(today)
      const out: AlertCondition[] = []
      for (const c of all) {
        if (c.status !== 'valid') continue
        const daysLeft = Math.round((Date.parse(c.validTo) - Date.parse(today)) / 86_400_000)
        if (daysLeft > CERT_EXPIRY_WARNING_DAYS) continue
        const renewed = all.some((o) => o.sku === c.sku && o.certificateNo !== c.certificateNo && o.validTo > c.validTo && o.status !== 'revoked' && (o.revokedFrom === null || o.revokedFrom > c.validTo))
        if (renewed) continue
        out.push({
          kind: 'cert_expiring',
          subject: c.certificateNo,
          severity: daysLeft <= CERT_EXPIRY_CRITICAL_DAYS ? 'critical' : 'warning',
          countyCode: deps.countyOf(c.supplierUscc),
          cabinetId: null,
          operator: null,
          message: `产品 ${c.sku} 的扶贫产品认定证书 ${c.certificateNo} 将于 ${c.validTo} 到期（剩 ${daysLeft} 天），请提醒供应商重新申请认定`,
          detail: { certificateNo: c.certificateNo, sku: c.sku, supplierUscc: c.supplierUscc, validTo: c.validTo, daysLeft },
        })
      }
      return out
    },
  }
}

export interface CabinetShare {
  readonly cabinetId: string
  readonly countyCode: string
  readonly amountFen: number
  readonly certifiedAmountFen: number
  readonly shareBp: number
  readonly compliant: boolean
}

/**
 * Cabinets with sales this calendar month (Asia/Shanghai) whose certified
 * share is below the plan's threshold — the period forwarding judges by
 * default, so the alert comes before the month's data is held.
 */
export function complianceLowSource(deps: {
  /** This period's figures of every cabinet, or of one county's when given. */
  figures: (from: string, to: string, countyCode?: string) => ComplianceFigures | Promise<ComplianceFigures>
  counties: () => readonly string[]
  operatorOf: (cabinetId: string) => string | null | Promise<string | null>
}): AlertSource {
  return {
    kind: 'compliance_low',
    partitions: deps.counties,
    async evaluate(now, countyCode) {
      const to = shanghaiDate(now)
      const from = `${to.slice(0, 7)}-01`
      const r = await deps.figures(from, to, countyCode)
      const out: AlertCondition[] = []
      for (const c of r.cabinets) {
        if (!(c.amountFen > 0) || c.compliant) continue
        out.push({
          kind: 'compliance_low',
          subject: c.cabinetId,
          severity: c.shareBp < r.thresholdBp / 2 ? 'critical' : 'warning',
          countyCode: c.countyCode,
          cabinetId: c.cabinetId,
          operator: await deps.operatorOf(c.cabinetId),
          message: `专柜 ${c.cabinetId} 本月扶贫产品销售额占比 ${percentBpZh(c.shareBp)}，低于 ${percentBpZh(r.thresholdBp)} 的要求`,
          detail: { from, to, amountFen: c.amountFen, certifiedAmountFen: c.certifiedAmountFen, shareBp: c.shareBp, thresholdBp: r.thresholdBp },
        })
      }
      return out
    },
  }
}

export interface ComplianceFigures {
  readonly thresholdBp: number
  readonly cabinets: readonly CabinetShare[]
}
