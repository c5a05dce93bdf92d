// Alerts from cabinet telemetry (issue 16 §4), with thresholds from the plan's
// `alertRules`, each read from the latest rows the telemetry intake keeps in
// the database (so the leader of any replica evaluates them), one county at a
// time. A condition holds while the latest reading says so; the next reading
// that says otherwise clears it at the next evaluation. And the tampered
// ledger, from the chain status ingest writes (sales/store.ts).
import type { AlertKind, AlertRules } from '../../../shared/src/index.js'
import { labelZh } from '../../../shared/src/index.js'
import { agentsWithin, type OwnedLatest } from '../telemetry/index.js'
import type { AlertSource } from './sources.js'
import type { AlertCondition } from './store.js'

export interface TelemetrySourceDeps {
  /** Latest rows of one county's installed and operating cabinets. */
  latest: (countyCode: string) => Promise<readonly OwnedLatest[]>
  counties: () => readonly string[]
  rules: () => AlertRules
}

const MIN_MS = 60_000
const minutesSince = (now: Date, since: string) => Math.floor((now.getTime() - Date.parse(since)) / MIN_MS)
const duration = (minutes: number) => (minutes >= 120 ? `${Math.floor(minutes / 60)} 小时` : `${minutes} 分钟`)

type Rule = (l: OwnedLatest, now: Date, rules: AlertRules) => Omit<AlertCondition, 'kind' | 'countyCode' | 'cabinetId' | 'operator'> | null

function telemetryRule(kind: AlertKind, deps: TelemetrySourceDeps, rule: Rule): AlertSource {
  return {
    kind,
    partitions: deps.counties,
    async evaluate(now, countyCode) {
      if (countyCode === undefined) return []
      const rules = deps.rules()
      const out: AlertCondition[] = []
      for (const l of await deps.latest(countyCode)) {
        const c = rule(l, now, rules)
        if (c) out.push({ kind, countyCode: l.countyCode, cabinetId: l.cabinetId, operator: l.operator, ...c })
      }
      return out
    },
  }
}

export function telemetrySources(deps: TelemetrySourceDeps): AlertSource[] {
  return [
    telemetryRule('temperature_high', deps, (l, now, rules) => {
      if (!l.chilled || l.tempAboveSince === null || l.temperatureC === null) return null
      const minutes = minutesSince(now, l.tempAboveSince)
      if (minutes < rules.temperatureHighMinutes) return null
      return {
        subject: l.cabinetId,
        // Chilled goods spoil: someone must go now.
        severity: 'critical',
        message: `专柜 ${l.cabinetId} 冷藏温度 ${l.temperatureC} °C，已超过 ${rules.temperatureHighC} °C 达 ${duration(minutes)}，请尽快检查制冷`,
        detail: { temperatureC: l.temperatureC, limitC: rules.temperatureHighC, aboveSince: l.tempAboveSince, minutes },
      }
    }),
    telemetryRule('door_open', deps, (l, now, rules) => {
      if (!l.doorOpen || l.doorOpenSince === null) return null
      const minutes = minutesSince(now, l.doorOpenSince)
      if (minutes < rules.doorOpenMinutes) return null
      return {
        subject: l.cabinetId,
        severity: minutes >= 60 ? 'critical' : 'warning',
        message: `专柜 ${l.cabinetId} 柜门已打开 ${duration(minutes)}未关闭`,
        detail: { doorOpenSince: l.doorOpenSince, minutes },
      }
    }),
    telemetryRule('device_fault', deps, (l, _now, rules) => {
      const faults = l.faults.filter((f) => rules.faultModules.includes(f.module))
      if (faults.length === 0) return null
      return {
        subject: l.cabinetId,
        // A payment fault stops every sale.
        severity: faults.some((f) => f.module === 'payment') ? 'critical' : 'warning',
        message: `专柜 ${l.cabinetId} 设备故障：${faults.map((f) => `${labelZh('faultModule', f.module)}（${f.code}）`).join('、')}`,
        detail: { faults: faults.map((f) => ({ module: f.module, code: f.code, since: f.since })) },
      }
    }),
    telemetryRule('outbox_stale', deps, (l, now, rules) => {
      if (l.outboxPending === 0) return null
      // The oldest unsent sale kept ageing since the reading.
      const ageS = l.outboxOldestAgeS + Math.max(0, (now.getTime() - Date.parse(l.receivedAt)) / 1000)
      const hours = Math.floor(ageS / 3600)
      if (ageS < rules.outboxStaleHours * 3600) return null
      return {
        subject: l.cabinetId,
        severity: hours >= 72 ? 'critical' : 'warning',
        message: `专柜 ${l.cabinetId} 有 ${l.outboxPending} 笔销售已 ${hours} 小时未上传，请检查网络`,
        detail: { pending: l.outboxPending, oldestAgeS: Math.round(ageS), readingAt: l.receivedAt },
      }
    }),
    telemetryRule('disk_full', deps, (l, _now, rules) => {
      if (l.diskUsedPct === null || l.diskUsedPct <= rules.diskFullPct) return null
      return {
        subject: l.cabinetId,
        // A full disk stops the ledger, and with it every sale.
        severity: l.diskUsedPct >= 98 ? 'critical' : 'warning',
        message: `专柜 ${l.cabinetId} 存储空间已用 ${l.diskUsedPct}%（超过 ${rules.diskFullPct}%），请清理或更换存储`,
        detail: { diskUsedPct: l.diskUsedPct, limitPct: rules.diskFullPct, ledgerBytes: l.ledgerBytes },
      }
    }),
    telemetryRule('two_agents', deps, (l, now, rules) => {
      const ids = agentsWithin(l, now, rules.twoAgentsWindowMinutes * MIN_MS)
      if (ids.length < 2) return null
      return {
        subject: l.cabinetId,
        // Two ledgers selling under one cabinet id: their sales collide.
        severity: 'critical',
        message: `专柜 ${l.cabinetId} 近 ${rules.twoAgentsWindowMinutes} 分钟内有 ${ids.length} 个程序以同一身份上报，可能有设备被复制或重复安装`,
        detail: { agentInstanceIds: ids.sort(), windowMinutes: rules.twoAgentsWindowMinutes },
      }
    }),
  ]
}

export interface TamperedCabinet {
  readonly cabinetId: string
  readonly countyCode: string
  readonly operator: string | null
  readonly tamperedAt: string | null
  readonly tamperedCount: number
}

/**
 * Cabinets whose chain ingest flagged tampered: a batch re-sent a committed
 * seq with a different sale (sales/chain-check.ts). Open while the flag is.
 */
export function ledgerTamperedSource(deps: { tampered: (countyCode: string) => Promise<readonly TamperedCabinet[]>; counties: () => readonly string[] }): AlertSource {
  return {
    kind: 'ledger_tampered',
    partitions: deps.counties,
    async evaluate(_now, countyCode) {
      if (countyCode === undefined) return []
      return (await deps.tampered(countyCode)).map((t): AlertCondition => ({
        kind: 'ledger_tampered',
        subject: t.cabinetId,
        severity: 'critical',
        countyCode: t.countyCode,
        cabinetId: t.cabinetId,
        operator: t.operator,
        message: `专柜 ${t.cabinetId} 上报的销售与已入库的记录不一致（${t.tamperedCount} 次），账本可能被篡改，其数据已暂停报送，请核查`,
        detail: { tamperedAt: t.tamperedAt, tamperedCount: t.tamperedCount },
      }))
    },
  }
}
