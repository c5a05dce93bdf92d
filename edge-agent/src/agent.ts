// createAgent wires the ledger, outbox, MQTT link and (optionally) the local
// HTTP API into one handle. A sale is recorded whether or not the broker is
// reachable; sync catches up on its own.
import { EventEmitter } from 'node:events'
import type { Duplex } from 'node:stream'
import { pino, type Logger } from 'pino'
import { z } from 'zod'
import {
  AppError, PostSaleRequest, isAppError,
  type AgentStatus, type CatalogItem, type CatalogMsg, type DownCommandMsg, type HeartbeatMsg, type SaleLine,
} from '../../shared/src/edge.js'
import { startApi, type Api } from './api/index.js'
import type { AgentConfig } from './config.js'
import { openLedger, type Ledger } from './ledger/index.js'
import { batchSigner, Outbox } from './outbox/index.js'
import { Stock, StockReporter } from './stock/index.js'
import { createRemoteCommands, Link, type BrokerAddress } from './sync/index.js'
import { createTelemetry, type Telemetry } from './telemetry/index.js'
import { AGENT_VERSION } from './version.js'

export interface AgentDeps {
  /** Root or parent logger; the agent logs through a child bound to its cabinet id. */
  logger?: Logger
  /** Wall clock in ms; recordedAt, heartbeats and ids use it. */
  now?: () => number
  /** Opens the stream to the attempt's broker instead of dialing it (the simulator's network gate). */
  dial?: (server: BrokerAddress) => Duplex
}

export interface SellResult {
  saleId: string
  seq: number
  /** false when a sale with the client-supplied saleId already existed (nothing recorded twice). */
  created: boolean
}

export interface SyncHaltDetail {
  code: string
  expectedSeq: number | null
  lastSeq: number
}

/** Events an agent emits, for simulators and tests. */
export interface AgentEvents {
  /** Subscribed and announced online; batches flow. */
  connected: []
  disconnected: []
  /** A new sale is durable. */
  sale: [SellResult]
  /** lastAckedSeq moved forward (durably). */
  acked: [lastAckedSeq: number]
  /** A newer catalog was applied. */
  catalog: [version: number]
  /** The server holds more sales than this ledger; sync stopped until restart or a resync command. */
  halted: [SyncHaltDetail]
  /**
   * A remote `restart` was done and reported: the process should close the
   * agent and exit with this code (main.ts), which its supervisor restarts on.
   */
  restart: [exitCode: number]
  /** A remote command was handled (id, kind, outcome). */
  command: [{ commandId: string; kind: string; state: string }]
}

/** Exit code after a remote restart: EX_TEMPFAIL (75), non-zero so systemd's Restart=on-failure starts the agent again. */
export const RESTART_EXIT_CODE = 75

export interface Agent extends EventEmitter<AgentEvents> {
  readonly cabinetId: string
  /** The local API's port, null when the config has apiPort null (no HTTP). */
  readonly apiPort: number | null
  /** Validates and durably records a paid sale. Throws AppError: VALIDATION_FAILED (400), LEDGER_WRITE_FAILED (507/503). */
  sell(body: PostSaleRequest): SellResult
  /** salesLocked: a remote `lock` holds; the controller must stop vending (sales that still come are recorded). */
  status(): AgentStatus & { isSyncHalted: boolean; isSalesLocked: boolean; salesLocked: boolean }
  /** The catalog with the prices sales take (a remote price override wins over the catalog's). */
  catalog(): { version: number | null; items: CatalogItem[] }
  /** Remote-command state: sales locked, price overrides, planogram. */
  commandState(): { isSalesLocked: boolean; priceOverrides: Record<string, number>; planogram: ReturnType<Ledger['planogram']> }
  /**
   * Publishes a heartbeat now instead of at the next interval (the server's sync
   * watermark moves with it). False when not connected: nothing was sent.
   */
  sendHeartbeat(): boolean
  /** The controller's readings (issue 16 §4), as POST /telemetry takes them. Throws AppError VALIDATION_FAILED (400). */
  reportTelemetry(input: unknown): { published: boolean }
  /** This agent's telemetry: its instance id and the message it would send now. */
  readonly telemetry: Pick<Telemetry, 'agentInstanceId' | 'message' | 'publishNow'>
  /**
   * Tells the agent its uplink is back (e.g. the modem reports carrier): it
   * connects at once instead of waiting out the reconnect backoff.
   */
  retryNow(): void
  /** Stops timers and the API, says offline, ends MQTT, closes the ledger. Idempotent. */
  close(): Promise<void>
}

/** Opens the ledger, starts the local API (when configured) and starts connecting in the background. */
export async function createAgent(config: AgentConfig, deps: AgentDeps = {}): Promise<Agent> {
  const log = (deps.logger ?? pino({ level: config.logLevel })).child({ cabinetId: config.cabinetId })
  const now = deps.now ?? Date.now
  const ledger = openLedger({ dataDir: config.dataDir, cabinetId: config.cabinetId, maxPages: config.ledgerMaxPages })
  const agent = new EdgeAgent(config, ledger, log, now, deps.dial)
  try {
    await agent.start()
  } catch (err) {
    await agent.close()
    throw err
  }
  return agent
}

class EdgeAgent extends EventEmitter<AgentEvents> implements Agent {
  readonly cabinetId: string
  private api: Api | null = null
  private readonly outbox: Outbox
  private readonly link: Link
  readonly telemetry: Telemetry
  private readonly startedAtMs: number
  private isClosing = false
  private hasAnnouncedStart = false
  /** A remote catalog-refresh asked for the retained catalog: apply it even at the same version. */
  private isCatalogReapply = false
  private readonly remoteCommand: (msg: Extract<DownCommandMsg, { type: 'remote-command' }>) => void
  private closed: Promise<void> | null = null
  private readonly stock: Stock
  private readonly stockReporter: StockReporter

  constructor(
    private readonly config: AgentConfig,
    private readonly ledger: Ledger,
    private readonly log: Logger,
    private readonly now: () => number,
    dial: ((server: BrokerAddress) => Duplex) | undefined,
  ) {
    super()
    this.cabinetId = config.cabinetId
    this.startedAtMs = now()
    this.link = new Link(
      {
        cabinetId: config.cabinetId, servers: config.servers, ca: config.ca, username: config.username, password: config.password,
        heartbeatIntervalMs: config.heartbeatIntervalMs, backoffMinMs: config.backoffMinMs, backoffMaxMs: config.backoffMaxMs,
        ...(dial && { dial }),
      },
      {
        connected: () => this.onConnected(),
        disconnected: () => this.onDisconnected(),
        reply: (msg) => this.outbox.onReply(msg),
        catalog: (msg) => this.onCatalog(msg),
        command: (msg) => this.onCommand(msg),
        heartbeat: () => this.heartbeat(),
      },
      log.child({ component: 'sync' }),
      now,
    )
    this.outbox = new Outbox(
      ledger,
      this.link,
      {
        cabinetId: config.cabinetId, batchMaxSales: config.batchMaxSales, ackTimeoutMs: config.ackTimeoutMs, backoffMinMs: config.backoffMinMs, backoffMaxMs: config.backoffMaxMs,
        // Issue 16 §2: an enrolled board signs every batch with the key it registered.
        ...(config.signingKey && { sign: batchSigner(config.signingKey) }),
      },
      log.child({ component: 'outbox' }),
      { acked: (seq) => this.emit('acked', seq), halted: (detail) => this.emit('halted', detail) },
      now,
    )
    // Issue 16 §3: stock by slot, decremented in each sale's transaction, reported on up/stock.
    this.stockReporter = new StockReporter({ cabinetId: config.cabinetId, stock: () => this.stock, publish: (p) => this.link.publishStock(p), now })
    this.stock = new Stock(ledger.sqlite, now, () => this.stockReporter.changed())
    ledger.onSale((lines, slots) => this.stock.onSale(lines, slots))
    this.remoteCommand = createRemoteCommands({
      cabinetId: config.cabinetId,
      ledger,
      stock: this.stock,
      publishEvent: (kind, detail) => this.link.publishEvent(kind, detail),
      syncNow: () => {
        // A rewind to where we are: clears any backoff (and a halt: a person asked) and sends now.
        this.outbox.resync(this.ledger.lastAckedSeq + 1)
        this.link.publishHeartbeat()
        return this.ledger.pending
      },
      refreshCatalog: () => {
        if (!this.link.requestCatalog()) return false
        this.isCatalogReapply = true
        return true
      },
      restart: () => this.emit('restart', RESTART_EXIT_CODE),
      now,
      log: log.child({ component: 'commands' }),
    })
    this.telemetry = createTelemetry({
      cabinetId: config.cabinetId,
      dataDir: config.dataDir,
      chilled: config.chilled,
      intervalMs: config.telemetryIntervalMs,
      publish: (payload) => this.link.publishTelemetry(payload),
      outbox: () => {
        const hb = this.heartbeat()
        return { pending: hb.pending, oldestPendingAgeS: hb.oldestPendingAgeS }
      },
      now,
      log: log.child({ component: 'telemetry' }),
    })
  }

  get apiPort(): number | null {
    return this.api?.port ?? null
  }

  async start(): Promise<void> {
    if (this.config.apiPort !== null) {
      this.api = await startApi(this.config.apiPort, {
        sell: (input) => this.record(input),
        status: () => this.status(),
        catalog: () => this.catalog(),
        commandState: () => this.commandState(),
        stock: { slots: () => ({ rev: this.stock.revision, slots: this.stock.slots() }), restock: (body) => this.stock.restock(body, 'local') },
        telemetry: (input) => this.reportTelemetry(input),
        log: this.log.child({ component: 'api' }),
      })
    }
    this.link.start()
    this.log.info({ lastSeq: this.ledger.lastSeq, lastAckedSeq: this.ledger.lastAckedSeq, servers: this.config.servers }, 'edge agent started')
  }

  sell(body: PostSaleRequest): SellResult {
    return this.record(body)
  }

  status(): AgentStatus & { isSyncHalted: boolean; isSalesLocked: boolean; salesLocked: boolean } {
    return {
      cabinetId: this.cabinetId,
      connected: this.link.isConnected,
      lastSeq: this.ledger.lastSeq,
      lastAckedSeq: this.ledger.lastAckedSeq,
      pending: this.ledger.pending,
      catalogVersion: this.ledger.catalogVersion,
      isSyncHalted: this.outbox.halted,
      isSalesLocked: this.ledger.isSalesLocked,
      salesLocked: this.ledger.isSalesLocked,
    }
  }

  catalog(): { version: number | null; items: CatalogItem[] } {
    const overrides = this.ledger.priceOverrides()
    const items = this.ledger.catalogItems().map((it) => {
      const priceFen = overrides.get(it.sku)
      return priceFen === undefined ? it : { ...it, priceFen }
    })
    return { version: this.ledger.catalogVersion, items }
  }

  commandState(): { isSalesLocked: boolean; priceOverrides: Record<string, number>; planogram: ReturnType<Ledger['planogram']> } {
    return { isSalesLocked: this.ledger.isSalesLocked, priceOverrides: Object.fromEntries(this.ledger.priceOverrides()), planogram: this.ledger.planogram() }
  }

  sendHeartbeat(): boolean {
    if (this.isClosing || !this.link.isConnected) return false
    this.link.publishHeartbeat()
    return true
  }

  reportTelemetry(input: unknown): { published: boolean } {
    if (this.isClosing) throw new AppError('INTERNAL', 'the agent is shutting down; the reading was not taken', 503)
    return this.telemetry.report(input)
  }

  retryNow(): void {
    if (!this.isClosing) this.link.retryNow()
  }

  close(): Promise<void> {
    this.closed ??= this.shutdown()
    return this.closed
  }

  // The hot path: validate, one durable INSERT, wake the outbox. Never refuses
  // a paid sale for business reasons (unknown SKU, off-catalog price, no network).
  private record(input: unknown): SellResult {
    if (this.isClosing) throw new AppError('LEDGER_WRITE_FAILED', 'the agent is shutting down; the sale was not recorded', 503)
    const parsed = PostSaleRequest.safeParse(input)
    if (!parsed.success) throw new AppError('VALIDATION_FAILED', z.prettifyError(parsed.error), 400)
    const items = this.priced(parsed.data.items)
    let result: SellResult
    try {
      result = this.ledger.record({ ...parsed.data, items, slots: parsed.data.items.map((it) => it.slot) }, this.now())
    } catch (err) {
      if (isAppError(err) && err.code === 'LEDGER_WRITE_FAILED') {
        this.log.error({ err: err.cause ?? err, lastSeq: this.ledger.lastSeq }, 'sale not recorded: ledger write failed')
        this.link.publishEvent('ledger_error', { code: typeof err.details?.sqliteCode === 'string' ? err.details.sqliteCode : null })
      }
      throw err
    }
    if (result.created) {
      // A remote lock tells the controller (GET /status salesLocked) to stop
      // vending; a sale that still arrives was paid, so it is recorded (CONTRACT).
      if (this.ledger.isSalesLocked) this.log.warn({ saleId: result.saleId, seq: result.seq }, 'sale recorded while sales are locked by a remote command')
      this.outbox.notifySale()
      this.emit('sale', result)
    }
    return result
  }

  /** Lines without a price take the cabinet's: a remote override, else the catalog's; a given price is kept. */
  private priced(items: PostSaleRequest['items']): SaleLine[] {
    return items.map((it, i) => {
      if (it.unitPriceFen !== undefined) return { sku: it.sku, qty: it.qty, unitPriceFen: it.unitPriceFen }
      const unitPriceFen = this.ledger.effectivePriceFen(it.sku)
      if (unitPriceFen === null) {
        throw new AppError('VALIDATION_FAILED', `items[${i}].unitPriceFen: required for sku ${it.sku}, which has no price on this cabinet`, 400, { sku: it.sku }, `商品 “${it.sku}” 在本专柜没有价格，须在 items[${i}].unitPriceFen 中给出成交单价`)
      }
      return { sku: it.sku, qty: it.qty, unitPriceFen }
    })
  }

  private onConnected(): void {
    if (!this.hasAnnouncedStart) {
      this.hasAnnouncedStart = true
      this.link.publishEvent('started', { agentVersion: AGENT_VERSION, lastSeq: this.ledger.lastSeq, lastAckedSeq: this.ledger.lastAckedSeq })
    }
    this.emit('connected')
    this.outbox.onConnected()
    this.stockReporter.sendNow()
    // A fresh reading on every (re)connect: the server's view is current at once.
    this.telemetry.publishNow()
  }

  private onDisconnected(): void {
    this.outbox.onDisconnected()
    this.emit('disconnected')
  }

  private onCatalog(msg: CatalogMsg): void {
    if (this.isClosing) return
    const current = this.ledger.catalogVersion
    let applied: boolean
    const isReapply = this.isCatalogReapply
    this.isCatalogReapply = false
    try {
      applied = this.ledger.applyCatalog(msg, isReapply)
    } catch (err) {
      this.log.error({ err, version: msg.version }, 'catalog not applied: ledger write failed')
      return
    }
    if (!applied) {
      this.log.debug({ version: msg.version, current }, 'catalog not newer; ignored')
      return
    }
    this.log.info({ version: msg.version, items: msg.items.length }, 'catalog applied')
    this.emit('catalog', msg.version)
  }

  private onCommand(msg: DownCommandMsg): void {
    if (this.isClosing) return
    if (msg.type === 'remote-command') {
      this.remoteCommand(msg)
      const stored = this.ledger.command(msg.commandId)
      if (stored) this.emit('command', { commandId: msg.commandId, kind: msg.command.kind, state: stored.state })
      return
    }
    const cmd = msg.command
    this.log.info({ commandId: msg.commandId, name: cmd.name }, 'command received')
    switch (cmd.name) {
      case 'ping':
        this.link.publishHeartbeat()
        break
      case 'resync':
        this.outbox.resync(cmd.fromSeq)
        break
    }
  }

  private heartbeat(): HeartbeatMsg {
    const nowMs = this.now()
    const oldest = this.ledger.oldestPendingRecordedAt()
    return {
      v: 1,
      type: 'heartbeat',
      cabinetId: this.cabinetId,
      sentAt: new Date(nowMs).toISOString(),
      lastSeq: this.ledger.lastSeq,
      lastAckedSeq: this.ledger.lastAckedSeq,
      pending: this.ledger.pending,
      oldestPendingAgeS: oldest === null ? 0 : Math.max(0, Math.round((nowMs - Date.parse(oldest)) / 1000)),
      catalogVersion: this.ledger.catalogVersion,
      uptimeS: Math.max(0, Math.round((nowMs - this.startedAtMs) / 1000)),
      agentVersion: AGENT_VERSION,
    }
  }

  private async shutdown(): Promise<void> {
    this.isClosing = true
    this.outbox.close()
    this.stockReporter.close()
    this.telemetry.close()
    try {
      await this.api?.close()
      await this.link.close()
    } finally {
      this.ledger.close()
      this.log.info({ lastSeq: this.ledger.lastSeq, lastAckedSeq: this.ledger.lastAckedSeq }, 'edge agent stopped')
    }
  }
}
