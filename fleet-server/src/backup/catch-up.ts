// After a restore from a backup the server holds fewer sales than it once
// acknowledged. A cabinet with sales still to send learns it from
// SALE_SEQ_GAP and resends; an idle one would not send again until its next
// sale. Its heartbeat (one on every connect) carries lastAckedSeq: ahead of
// the committed head means the server lost acknowledged sales, so it sends the
// cabinet a `resync{fromSeq}` command and the agent resends from there (its
// outbox is the truth until the server has committed and said so).
// Acks follow commits, so on a server that lost nothing the head is never
// behind an ack; a needless resync would only cost replays the server skips.
import type { Logger } from 'pino'
import { topics, uuidv7, type CommandMsg, type HeartbeatMsg } from '../../../shared/src/index.js'

export interface CatchUp {
  /** A heartbeat: checked once per cabinet per connection (and once after a start). */
  heartbeat(cabinetId: string, hb: HeartbeatMsg): void
  /** Connected or disconnected: the next heartbeat is checked again. */
  forget(cabinetId: string): void
}

export function createCatchUp(deps: {
  /** The cabinet's committed chain head seq (0 with none). */
  committedSeq: (cabinetId: string) => Promise<number>
  publish: (topic: string, payload: string) => void
  now: () => Date
  log: Logger
}): CatchUp {
  // Checked since their connection began: a heartbeat costs a decode and a read only once per connection.
  const checked = new Set<string>()
  return {
    heartbeat(cabinetId, hb) {
      if (checked.has(cabinetId)) return
      checked.add(cabinetId)
      if (hb.lastAckedSeq === 0) return
      const acked = hb.lastAckedSeq
      deps.committedSeq(cabinetId).then(
        (head) => {
          if (acked <= head) return
          const at = deps.now()
          const msg: CommandMsg = { v: 1, type: 'command', commandId: uuidv7(at.getTime()), issuedAt: at.toISOString(), command: { name: 'resync', fromSeq: head + 1 } }
          deps.log.warn({ cabinetId, lastAckedSeq: acked, committedSeq: head }, 'cabinet holds acknowledged sales the server lacks (restored from a backup?); asking it to resend')
          deps.publish(topics.commands(cabinetId), JSON.stringify(msg))
        },
        (err: unknown) => {
          checked.delete(cabinetId)
          deps.log.error({ err, cabinetId }, 'cannot read the committed head for a catch-up check')
        },
      )
    },
    forget(cabinetId) {
      checked.delete(cabinetId)
    },
  }
}
