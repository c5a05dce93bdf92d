// The outbox is every ledger sale with seq > lastAckedSeq. It keeps one batch in
// flight at a time and clears sales only on the server's `committed` reply (the
// broker's PUBACK says nothing about storage); everything else means resend.
import type { Logger } from 'pino'
import { MAX_MESSAGE_BYTES, uuidv7, type EventMsg, type ReplyMsg } from '../../../shared/src/edge.js'
import { backoffMs } from '../backoff.js'
import type { Ledger } from '../ledger/index.js'
import { renderBatch, type BatchSigner } from './batch.js'

/** What the outbox needs from the MQTT link. */
export interface OutboxLink {
  /** Publishes a SaleBatchMsg (QoS 1) only when connected; false otherwise. */
  publishBatch(payload: string): boolean
  publishEvent(kind: EventMsg['kind'], detail: EventMsg['detail']): void
}

export interface OutboxOptions {
  cabinetId: string
  batchMaxSales: number
  ackTimeoutMs: number
  backoffMinMs: number
  backoffMaxMs: number
  maxMessageBytes?: number
  /** An enrolled agent's signer: every batch carries its signature. Absent: batches go unsigned. */
  sign?: BatchSigner
}

export interface OutboxHooks {
  acked(lastAckedSeq: number): void
  halted(detail: { code: string; expectedSeq: number | null; lastSeq: number }): void
}

interface InFlight {
  batchId: string
  firstSeq: number
  lastSeq: number
}

export class Outbox {
  private isConnected = false
  private isClosed = false
  /** Set when the server holds more sales than we do; cleared only by a restart or a resync command. */
  private isHalted = false
  private inFlight: InFlight | null = null
  private ackTimer: NodeJS.Timeout | null = null
  /** A pending delayed send (backoff after timeouts or a reject); nothing is sent before it fires. */
  private retryTimer: NodeJS.Timeout | null = null
  private isFlushScheduled = false
  /** Consecutive ack timeouts and rejects; reset by a committed reply. */
  private failures = 0

  constructor(
    private readonly ledger: Ledger,
    private readonly link: OutboxLink,
    private readonly opts: OutboxOptions,
    private readonly log: Logger,
    private readonly hooks: OutboxHooks,
    private readonly now: () => number,
  ) {}

  get halted(): boolean {
    return this.isHalted
  }

  onConnected(): void {
    this.isConnected = true
    this.dropInFlight()
    // Reconnect resends from lastAckedSeq + 1 (protocol.md step 2), unless a
    // reject hold is still running.
    this.sendNext()
  }

  /** The in-flight batch is forgotten; whatever it carried is resent after reconnect. */
  onDisconnected(): void {
    this.isConnected = false
    this.dropInFlight()
  }

  /** A sale was recorded: send it promptly when the link is idle (coalesced per tick). */
  notifySale(): void {
    if (!this.isConnected || this.inFlight !== null || this.isFlushScheduled || this.retryTimer !== null || this.isHalted) return
    this.isFlushScheduled = true
    setImmediate(() => {
      this.isFlushScheduled = false
      this.sendNext()
    })
  }

  onReply(reply: ReplyMsg): void {
    if (this.isClosed) return
    if (reply.status === 'committed') this.onCommitted(reply)
    else this.onRejected(reply)
  }

  /** Server command `resync{fromSeq}`: rewind (never advance) and resend; also lifts a halt, since a person asked. */
  resync(fromSeq: number): void {
    const target = Math.min(this.ledger.lastAckedSeq, fromSeq - 1)
    this.log.info({ fromSeq, lastAckedSeq: this.ledger.lastAckedSeq, target }, 'resync requested')
    this.isHalted = false
    this.failures = 0
    this.dropInFlight()
    this.clearRetry()
    if (!this.moveAcked(target)) return
    this.sendNext()
  }

  close(): void {
    this.isClosed = true
    this.dropInFlight()
    this.clearRetry()
  }

  private onCommitted(reply: Extract<ReplyMsg, { status: 'committed' }>): void {
    const matches = this.inFlight?.batchId === reply.batchId
    const before = this.ledger.lastAckedSeq
    // ackedSeq is cumulative, so a late reply to an earlier batch still counts
    // when it moves the mark forward; otherwise it is stale.
    if (!matches && reply.ackedSeq <= before) {
      this.log.debug({ batchId: reply.batchId, ackedSeq: reply.ackedSeq }, 'stale reply ignored')
      return
    }
    const lastSeq = this.ledger.lastSeq
    if (reply.ackedSeq > lastSeq) this.log.warn({ ackedSeq: reply.ackedSeq, lastSeq }, 'server acknowledged more sales than the ledger holds')
    const next = Math.max(before, Math.min(reply.ackedSeq, lastSeq))
    if (!this.moveAcked(next)) return
    if (next > before) {
      this.log.debug({ batchId: reply.batchId, lastAckedSeq: next }, 'batch committed')
      this.hooks.acked(next)
    }
    if (matches || (this.inFlight !== null && next >= this.inFlight.lastSeq)) {
      this.dropInFlight()
      this.failures = 0
      this.sendNext()
    }
  }

  private onRejected(reply: Extract<ReplyMsg, { status: 'rejected' }>): void {
    if (reply.batchId !== undefined && reply.batchId !== this.inFlight?.batchId) {
      this.log.debug({ batchId: reply.batchId, code: reply.code }, 'stale reject ignored')
      return
    }
    this.dropInFlight()
    this.failures++
    const lastSeq = this.ledger.lastSeq
    if (reply.code === 'SALE_SEQ_GAP' && reply.expectedSeq !== undefined) {
      if (reply.expectedSeq <= lastSeq + 1) {
        // The server lost sales (e.g. restored from a backup): send them again.
        this.log.warn({ expectedSeq: reply.expectedSeq, lastAckedSeq: this.ledger.lastAckedSeq }, 'server expects an earlier seq; rewinding')
        if (!this.moveAcked(reply.expectedSeq - 1)) return
        this.retryAfter(this.failures <= 1 ? 0 : backoffMs(this.failures - 2, this.opts.backoffMinMs, this.opts.backoffMaxMs))
        return
      }
      // The server has sales this ledger never recorded: resending cannot fix
      // that and must not overwrite anything; a person has to look.
      this.isHalted = true
      const detail = { code: reply.code, expectedSeq: reply.expectedSeq, lastSeq }
      this.log.error(detail, 'server holds more sales than the ledger; sync stopped until restart')
      this.link.publishEvent('sync_rejected', { ...detail, halted: true })
      this.hooks.halted(detail)
      return
    }
    const delay = this.opts.backoffMaxMs + Math.round(Math.random() * (this.opts.backoffMaxMs / 2))
    this.log.warn({ code: reply.code, reason: reply.message.slice(0, 500), retryInMs: delay }, 'batch rejected; retrying after the maximum backoff')
    this.link.publishEvent('sync_rejected', { code: reply.code, message: reply.message.slice(0, 500), lastAckedSeq: this.ledger.lastAckedSeq, lastSeq })
    this.retryAfter(delay)
  }

  private sendNext(): void {
    if (this.isClosed || !this.isConnected || this.isHalted || this.inFlight !== null || this.retryTimer !== null) return
    const fromSeq = this.ledger.lastAckedSeq + 1
    if (fromSeq > this.ledger.lastSeq) return
    let batch
    try {
      const sales = this.ledger.salesFrom(fromSeq, this.opts.batchMaxSales)
      if (sales.length === 0) return
      batch = renderBatch(this.opts.cabinetId, uuidv7(this.now()), sales, this.opts.maxMessageBytes ?? MAX_MESSAGE_BYTES, this.opts.sign)
    } catch (err) {
      this.log.error({ err, fromSeq }, 'cannot read sales from the ledger; will retry')
      this.retryAfter(backoffMs(this.failures++, this.opts.backoffMinMs, this.opts.backoffMaxMs))
      return
    }
    if (!this.link.publishBatch(batch.payload)) return
    this.inFlight = { batchId: batch.batchId, firstSeq: batch.firstSeq, lastSeq: batch.lastSeq }
    this.log.debug({ batchId: batch.batchId, firstSeq: batch.firstSeq, lastSeq: batch.lastSeq, count: batch.count }, 'batch sent')
    this.ackTimer = setTimeout(() => this.onAckTimeout(), this.opts.ackTimeoutMs)
    this.ackTimer.unref()
  }

  private onAckTimeout(): void {
    this.ackTimer = null
    const batchId = this.inFlight?.batchId
    this.inFlight = null
    this.failures++
    // First timeout: resend at once (new batchId); repeated ones back off.
    const delay = this.failures <= 1 ? 0 : backoffMs(this.failures - 2, this.opts.backoffMinMs, this.opts.backoffMaxMs)
    this.log.warn({ batchId, failures: this.failures, retryInMs: delay }, 'no reply within the ack timeout; resending')
    this.retryAfter(delay)
  }

  private retryAfter(delayMs: number): void {
    this.clearRetry()
    if (delayMs <= 0) {
      this.sendNext()
      return
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null
      this.sendNext()
    }, delayMs)
    this.retryTimer.unref()
  }

  /** Durably sets lastAckedSeq; on a ledger error logs and backs off (the sales are simply resent later). */
  private moveAcked(seq: number): boolean {
    try {
      this.ledger.setLastAckedSeq(seq)
      return true
    } catch (err) {
      this.log.error({ err, seq }, 'cannot store lastAckedSeq; will resend')
      this.dropInFlight()
      this.retryAfter(backoffMs(this.failures++, this.opts.backoffMinMs, this.opts.backoffMaxMs))
      return false
    }
  }

  private dropInFlight(): void {
    this.inFlight = null
    if (this.ackTimer !== null) {
      clearTimeout(this.ackTimer)
      this.ackTimer = null
    }
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) {
      clearTimeout(this.retryTimer)
      this.retryTimer = null
    }
  }
}
