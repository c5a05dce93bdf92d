// Alerts of issue 12's sale flags: a sale that reuses an earlier saleId of its
// cabinet (open until an official resolves the flag), and a cabinet whose
// clock is off by more than the limit (open while its latest reading is).
import type { CabinetClockView } from '../../../shared/src/index.js'
import type { AlertSource } from './sources.js'
import type { AlertCondition } from './store.js'

export interface FlaggedSale {
  readonly flagId: number
  readonly cabinetId: string
  readonly countyCode: string
  readonly operator: string | null
  readonly seq: number
  readonly saleId: string
  readonly earlierSeq: number
  readonly soldOn: string
  readonly flaggedAt: string
}

/** One alert per open SALE_ID_REUSED flag; the forwarding of its periods waits on it. */
export function saleIdReusedSource(deps: {
  /** Open flags of one county's cabinets. */
  open: (countyCode: string) => readonly FlaggedSale[] | Promise<readonly FlaggedSale[]>
  counties: () => readonly string[]
}): AlertSource {
  return {
    kind: 'sale_id_reused',
    partitions: deps.counties,
    async evaluate(_now, countyCode) {
      if (countyCode === undefined) return []
      return (await deps.open(countyCode)).map(
        (f): AlertCondition => ({
          kind: 'sale_id_reused',
          subject: `${f.cabinetId}:${f.seq}`,
          severity: 'warning',
          countyCode: f.countyCode,
          cabinetId: f.cabinetId,
          operator: f.operator,
          message: `专柜 ${f.cabinetId} 第 ${f.seq} 笔销售与第 ${f.earlierSeq} 笔使用同一销售编号，已入库但暂停报送，请核实后处理`,
          detail: { flagId: f.flagId, seq: f.seq, saleId: f.saleId, earlierSeq: f.earlierSeq, soldOn: f.soldOn, flaggedAt: f.flaggedAt },
        }),
      )
    },
  }
}

type SkewedClocks = ReadonlyArray<{ readonly cabinetId: string; readonly clock: CabinetClockView }>
type CabinetOwner = { readonly countyCode: string; readonly operator: string | null }

/** Cabinets whose latest clock reading is beyond the limit (liveness.skewedClocks()). */
export function clockSkewSource(deps: {
  skewed: () => SkewedClocks | Promise<SkewedClocks>
  /** County and operator of a cabinet; null for one no longer known. */
  ownerOf: (cabinetId: string) => CabinetOwner | null | Promise<CabinetOwner | null>
}): AlertSource {
  return {
    kind: 'clock_skew',
    async evaluate() {
      const out: AlertCondition[] = []
      for (const { cabinetId, clock } of await deps.skewed()) {
        const owner = await deps.ownerOf(cabinetId)
        if (!owner) continue
        const hours = Math.abs(clock.skewS) / 3600
        const amount = hours >= 1 ? `${hours.toFixed(1)} 小时` : `${Math.round(Math.abs(clock.skewS) / 60)} 分钟`
        out.push({
          kind: 'clock_skew',
          subject: cabinetId,
          // A day or more off puts sales on the wrong date in reports and certification.
          severity: Math.abs(clock.skewS) >= 86_400 ? 'critical' : 'warning',
          countyCode: owner.countyCode,
          cabinetId,
          operator: owner.operator,
          message: `专柜 ${cabinetId} 的时钟${clock.skewS > 0 ? '慢' : '快'}了约 ${amount}，请校准设备时间`,
          detail: { skewS: clock.skewS, source: clock.source, judgedAt: clock.judgedAt },
        })
      }
      return out
    },
  }
}

/** An enrolled cabinet whose sale batches were refused for their signature (sales/ingest.ts). */
export interface SignatureFlagView {
  readonly cabinetId: string
  readonly code: string
  readonly firstAt: string
  readonly lastAt: string
  readonly rejectedCount: number
}

/** How long after its last refused batch a cabinet's signature alert stays open. */
export const SIGNATURE_ALERT_OPEN_MS = 7 * 86_400_000

/**
 * Issue 16 §2: one alert per enrolled cabinet whose batches came without its
 * signature or with a wrong one in the last 7 days — its MQTT login may be in
 * other hands (nothing of those batches was stored).
 */
export function signatureInvalidSource(deps: {
  /** Flags whose last refusal is at or after `since`. */
  flagged: (since: string) => readonly SignatureFlagView[] | Promise<readonly SignatureFlagView[]>
  ownerOf: (cabinetId: string) => CabinetOwner | null | Promise<CabinetOwner | null>
}): AlertSource {
  return {
    kind: 'signature_invalid',
    async evaluate(now) {
      const out: AlertCondition[] = []
      for (const f of await deps.flagged(new Date(now.getTime() - SIGNATURE_ALERT_OPEN_MS).toISOString())) {
        const owner = await deps.ownerOf(f.cabinetId)
        if (!owner) continue
        const what = f.code === 'SIGNATURE_MISSING' ? '未带签名' : '签名校验失败'
        out.push({
          kind: 'signature_invalid',
          subject: f.cabinetId,
          severity: 'critical',
          countyCode: owner.countyCode,
          cabinetId: f.cabinetId,
          operator: owner.operator,
          message: `专柜 ${f.cabinetId} 有销售批次${what}，已拒收 ${f.rejectedCount} 批（未入库）；其登录凭据可能被他人使用，请核查并重新登记`,
          detail: { code: f.code, firstAt: f.firstAt, lastAt: f.lastAt, rejectedCount: f.rejectedCount },
        })
      }
      return out
    },
  }
}
