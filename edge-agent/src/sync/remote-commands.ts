// Operators' remote commands on the cabinet (issue 16 §5). A command is taken
// only from the cabinet's own down topic (the broker ACL lets nobody else
// publish there but the server) and only when its body names this cabinet;
// one past its expiry (agent clock) is never applied. Every command id is
// stored in the ledger before anything is reported, so a resent command (the
// server resends undelivered ones on each reconnect) is not applied twice: its
// stored outcome is reported again instead (the first report may have been lost).
import type { Logger } from 'pino'
import type { CommandKind, CommandReport, CommandResult, EventMsg, RemoteCommandMsg } from '../../../shared/src/edge.js'
import type { Ledger } from '../ledger/index.js'
import type { Stock } from '../stock/index.js'

/** What the executor needs from the rest of the agent. */
export interface RemoteCommandDeps {
  readonly cabinetId: string
  readonly ledger: Ledger
  /** The slots' stock: a planogram sets it, a restock adds to it (issue 16 §3). */
  readonly stock: Stock
  readonly publishEvent: (kind: EventMsg['kind'], detail: EventMsg['detail']) => void
  /** sync: send what the outbox holds now. Returns the sales still pending. */
  readonly syncNow: () => number
  /** catalog-refresh: ask for the retained catalog again and re-apply it. False when not connected. */
  readonly refreshCatalog: () => boolean
  /** restart: called once `done` is stored and reported; the process exits and its supervisor starts it again. */
  readonly restart: () => void
  readonly now: () => number
  readonly log: Logger
}

type Outcome = { state: 'done' | 'failed'; result: CommandResult }

export function createRemoteCommands(deps: RemoteCommandDeps): (msg: RemoteCommandMsg) => void {
  const { ledger, log } = deps
  const report = (commandId: string, commandKind: CommandKind, state: CommandReport['state'], result: CommandResult = {}): void => {
    deps.publishEvent('command', { ...result, commandId, commandKind, state })
  }

  const apply = (msg: RemoteCommandMsg): Outcome => {
    const c = msg.command
    switch (c.kind) {
      case 'price': {
        const previousFen = ledger.effectivePriceFen(c.params.sku)
        ledger.setPriceOverride(c.params.sku, c.params.priceFen, msg.commandId, deps.now())
        return { state: 'done', result: { sku: c.params.sku, priceFen: c.params.priceFen, previousFen } }
      }
      case 'planogram': {
        // One transaction: the stored planogram and the slots' stock never disagree.
        const slots = c.params.slots
        ledger.sqlite.transaction(() => {
          ledger.setPlanogram(slots)
          deps.stock.applyPlanogram(slots)
        }).immediate()
        return { state: 'done', result: { slots: slots.length } }
      }
      case 'restock': {
        const r = deps.stock.restock(c.params, 'command')
        const units = Object.values(r.added).reduce((a, b) => a + b, 0)
        return { state: 'done', result: { restockId: r.restockId, slots: Object.keys(r.added).length, units, applied: r.created } }
      }
      case 'lock':
      case 'unlock':
        ledger.setSalesLocked(c.kind === 'lock')
        return { state: 'done', result: { salesLocked: c.kind === 'lock' } }
      case 'sync':
        return { state: 'done', result: { pending: deps.syncNow(), lastSeq: ledger.lastSeq, lastAckedSeq: ledger.lastAckedSeq } }
      case 'catalog-refresh':
        return deps.refreshCatalog()
          ? { state: 'done', result: { catalogVersion: ledger.catalogVersion } }
          : { state: 'failed', result: { code: 'NOT_CONNECTED', message: 'not connected to the fleet server' } }
      case 'restart':
        return { state: 'done', result: { restarting: true } }
    }
  }

  return (msg) => {
    const { commandId } = msg
    const kind = msg.command.kind
    if (msg.cabinetId !== deps.cabinetId) {
      log.warn({ commandId, for: msg.cabinetId }, 'remote command for another cabinet ignored')
      return
    }
    const seen = ledger.command(commandId)
    if (seen !== null) {
      // A resend: report what happened the first time, never apply twice.
      if (seen.state === 'done' || seen.state === 'failed' || seen.state === 'delivered') report(commandId, kind, seen.state, seen.result)
      log.debug({ commandId, state: seen.state }, 'remote command already handled; outcome reported again')
      return
    }
    const nowMs = deps.now()
    if (nowMs >= Date.parse(msg.expiresAt)) {
      // Remembered so a later resend is not applied either; the server reports it expired.
      ledger.putCommand(commandId, kind, 'expired', {}, nowMs)
      log.warn({ commandId, kind, expiresAt: msg.expiresAt }, 'remote command arrived after its expiry; not applied')
      return
    }
    ledger.putCommand(commandId, kind, 'delivered', {}, nowMs)
    report(commandId, kind, 'delivered')
    let outcome: Outcome
    try {
      outcome = apply(msg)
    } catch (err) {
      log.error({ err, commandId, kind }, 'remote command failed')
      outcome = { state: 'failed', result: { code: 'APPLY_FAILED', message: (err as Error).message.slice(0, 500) } }
    }
    ledger.putCommand(commandId, kind, outcome.state, outcome.result, deps.now())
    report(commandId, kind, outcome.state, outcome.result)
    log.info({ commandId, kind, state: outcome.state }, 'remote command handled')
    if (kind === 'restart' && outcome.state === 'done') deps.restart()
  }
}
