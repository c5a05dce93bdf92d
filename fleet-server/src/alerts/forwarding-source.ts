// Forwarding in trouble (issue 12): a batch whose last answer from the
// national platform was a redirect (never followed — a moved or hijacked
// intake needs a person), or that has failed FORWARDING_FAILING_ATTEMPTS
// attempts in a row. Cleared when the batch is delivered.
import type { AlertSource } from './sources.js'
import type { AlertCondition } from './store.js'

/** Failed attempts in a row before an alert: with backoff, 5 attempts are a few seconds to minutes of trouble, not one blip. */
export const FORWARDING_FAILING_ATTEMPTS = 5

export interface TroubledBatch {
  readonly batchKey: string
  readonly kind: 'report' | 'correction'
  readonly cabinetId: string
  readonly periodId: string
  readonly attempts: number
  readonly lastStatus: number | null
  readonly lastError: string | null
  readonly countyCode: string | null
  readonly operator: string | null
}

export function forwardingSource(deps: {
  /** Pending batches whose last answer was a 3xx or with at least `minAttempts` failed attempts. */
  troubled: (minAttempts: number) => Promise<readonly TroubledBatch[]>
}): AlertSource {
  return {
    kind: 'forwarding_failing',
    async evaluate() {
      const out: AlertCondition[] = []
      for (const b of await deps.troubled(FORWARDING_FAILING_ATTEMPTS)) {
        const redirected = b.lastStatus !== null && b.lastStatus >= 300 && b.lastStatus < 400
        out.push({
          kind: 'forwarding_failing',
          subject: b.batchKey,
          severity: redirected ? 'critical' : 'warning',
          countyCode: b.countyCode,
          cabinetId: b.cabinetId,
          operator: b.operator,
          message: redirected
            ? `专柜 ${b.cabinetId} ${b.periodId} 的数据上报被社会扶贫网重定向（${b.lastStatus}），未跟随；请核实平台接收地址`
            : `专柜 ${b.cabinetId} ${b.periodId} 的数据已连续 ${b.attempts} 次上报社会扶贫网失败，仍在重试`,
          detail: { batchKey: b.batchKey, kind: b.kind, period: b.periodId, attempts: b.attempts, lastStatus: b.lastStatus, lastError: b.lastError },
        })
      }
      return out
    },
  }
}
