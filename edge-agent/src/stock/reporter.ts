// Sends the stock report on up/stock: on every (re)connect, and after a change
// at most once per STOCK_REPORT_MIN_INTERVAL_MS (a burst of sales is one
// report). QoS 1 and no retain: the server keeps the newest rev, and the next
// connect sends the current state again, so a lost report is repaired.
import type { StockMsg } from '../../../shared/src/edge.js'
import type { Stock } from './stock.js'

/** 2 s: a vending burst coalesces into one report; the dashboard is seconds behind at worst. */
export const STOCK_REPORT_MIN_INTERVAL_MS = 2_000

export interface StockReporterDeps {
  readonly cabinetId: string
  readonly stock: () => Stock
  /** Publishes when connected; false when not (the next connect sends it). */
  readonly publish: (payload: string) => boolean
  readonly now: () => number
}

export class StockReporter {
  private timer: NodeJS.Timeout | null = null
  private lastSentMs = -Infinity
  private isClosed = false

  constructor(private readonly deps: StockReporterDeps) {}

  /** Stock changed: report soon (coalesced). */
  changed(): void {
    if (this.isClosed || this.timer !== null) return
    const waitMs = Math.max(0, this.lastSentMs + STOCK_REPORT_MIN_INTERVAL_MS - this.deps.now())
    this.timer = setTimeout(() => {
      this.timer = null
      this.sendNow()
    }, waitMs)
    this.timer.unref()
  }

  /** Connected (again): the server may have missed reports while we were away. */
  sendNow(): void {
    if (this.isClosed) return
    const nowMs = this.deps.now()
    const stock = this.deps.stock()
    const msg: StockMsg = { v: 1, type: 'stock', cabinetId: this.deps.cabinetId, sentAt: new Date(nowMs).toISOString(), rev: stock.revision, slots: stock.slots() }
    if (this.deps.publish(JSON.stringify(msg))) this.lastSentMs = nowMs
  }

  close(): void {
    this.isClosed = true
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
  }
}
