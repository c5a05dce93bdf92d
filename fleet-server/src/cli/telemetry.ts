// fleetctl cabinets telemetry ID (issue 16 §4, §7): the cabinet's 运行状态 in
// Chinese, from GET /api/v1/cabinets/:id/telemetry.
import { beijingZh, labelZh, type TelemetryReply } from '../../../shared/src/index.js'

const fmt = (v: number | null | undefined, unit: string) => (v === null || v === undefined ? '—' : `${v}${unit}`)

function ageZh(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)} 秒`
  if (seconds < 7200) return `${Math.round(seconds / 60)} 分钟`
  return `${(seconds / 3600).toFixed(1)} 小时`
}

/** The 运行状态 lines, then one line per hour with readings (Beijing time). */
export function telemetryZh(r: TelemetryReply): string {
  const l = r.latest
  if (!l) return `专柜 ${r.cabinetId} 尚未上报运行状态`
  const lines = [
    `专柜 ${r.cabinetId} 运行状态（上报于 ${beijingZh(l.receivedAt)}，北京时间）`,
    `  温度      ${fmt(l.temperatureC, ' °C')}${l.chilled ? '（冷藏柜）' : ''}`,
    `  柜门      ${l.doorOpen ? `打开（自 ${beijingZh(l.doorOpenSince)}）` : '关闭'}`,
    `  故障      ${l.faults.length === 0 ? '无' : l.faults.map((f) => `${labelZh('faultModule', f.module)}（${f.code}，自 ${beijingZh(f.since)}）`).join('、')}`,
    `  存储      已用 ${fmt(l.diskUsedPct, '%')}，账本 ${(l.ledgerBytes / 1_048_576).toFixed(1)} MB`,
    `  待上传    ${l.outboxPending} 笔${l.outboxPending > 0 ? `，最早一笔已 ${ageZh(l.outboxOldestAgeS)}` : ''}`,
    `  程序版本  ${l.agentVersion}`,
  ]
  const hours = r.hourly.filter((h) => h.readings > 0)
  if (hours.length > 0) {
    lines.push('', `近 ${r.hours} 小时（每小时：最低/平均/最高温度，开门分钟数，最多故障数）`)
    for (const h of hours) {
      lines.push(`  ${beijingZh(`${h.hour}:00:00.000Z`)}  ${fmt(h.tempMinC, '')}/${fmt(h.tempAvgC, '')}/${fmt(h.tempMaxC, '')} °C  开门 ${h.doorOpenMinutes} 分钟  故障 ${h.faultCount}`)
    }
  }
  return lines.join('\n')
}
