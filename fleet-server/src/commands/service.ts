// Remote commands (issue 16 §5): who may send one (admin, the cabinet's
// county, its operator; auditors read; anyone else is told it does not exist),
// when it goes out (at once, and again on every reconnect while it is pending
// and unexpired: delivery must not rest on the broker queueing it — on NATS a
// cabinet's subscriptions are QoS 0), and what the cabinet reported. Expiry is
// judged lazily: on every read and on every reconnect.
import type { Logger } from 'pino'
import {
  COMMAND_DEFAULT_EXPIRY_S, PresenceMsg, decodeMessage, parseCommandReport, quoteZh, topics, uuidv7,
  type CommandList, type CommandView, type EventMsg, type PostCommandBody, type PostCommandReply, type RemoteCommandMsg,
} from '../../../shared/src/index.js'
import { assertMayChangeCabinet, canSeeCabinet, isCityWide, notFound, type Principal } from '../access/index.js'
import { cabinetNotFound, cabinetRetired, commandNotFound } from './errors.js'
import type { CommandRow, CommandStore } from './store.js'

export interface CommandService {
  send(by: Principal, cabinetId: string, body: PostCommandBody): Promise<PostCommandReply>
  get(by: Principal, commandId: string): Promise<CommandView>
  list(by: Principal, cabinetId: string, limit: number): Promise<CommandList>
  /** The cabinet is online and subscribed (its presence said so): resend what has no outcome yet. */
  resend(cabinetId: string): Promise<number>
  /** A cabinet event; those of kind `command` move the command's state. */
  event(cabinetId: string, event: EventMsg): Promise<void>
  /** Marks every pending command past its expiry as expired. */
  expireDue(): Promise<number>
}

export interface CommandServiceDeps {
  readonly store: CommandStore
  /** Publishes on the cabinet's down topic (QoS 1; a lost one is resent on reconnect). */
  readonly publish: (topic: string, payload: Buffer) => void
  readonly now: () => Date
  readonly log: Logger
}

export function createCommandService({ store, publish, now, log }: CommandServiceDeps): CommandService {
  const send = (row: CommandRow): void => {
    const msg: RemoteCommandMsg = {
      v: 1,
      type: 'remote-command',
      commandId: row.commandId,
      cabinetId: row.cabinetId,
      issuedAt: row.issuedAt,
      expiresAt: row.expiresAt,
      command: { kind: row.kind, params: row.params } as RemoteCommandMsg['command'],
    }
    publish(topics.commands(row.cabinetId), Buffer.from(JSON.stringify(msg)))
  }

  const visibleTarget = async (by: Principal, cabinetId: string) => {
    const target = await store.target(cabinetId)
    if (target && canSeeCabinet(by, target)) return target
    // As the cabinets' routes answer: scoped callers get the same for "absent" and "not yours".
    throw isCityWide(by) ? cabinetNotFound(cabinetId) : notFound(`cabinet ${cabinetId}`, `专柜 ${quoteZh(cabinetId)}`)
  }

  const view = (r: CommandRow): CommandView => ({
    commandId: r.commandId,
    cabinetId: r.cabinetId,
    kind: r.kind,
    params: r.params,
    state: r.state,
    ...(r.result !== null && { result: r.result }),
    sentBy: r.sentBy,
    sentRole: r.sentRole,
    issuedAt: r.issuedAt,
    expiresAt: r.expiresAt,
    deliveredAt: r.deliveredAt,
    completedAt: r.completedAt,
    expiredAt: r.expiredAt,
  })

  /** The row as of now: a pending one past its expiry is expired (and stored so). */
  const current = async (r: CommandRow): Promise<CommandRow> => {
    const at = now().toISOString()
    if (r.state !== 'pending' || r.expiresAt > at) return r
    await store.expire(at, r.cabinetId)
    return (await store.get(r.commandId)) ?? r
  }

  return {
    async send(by, cabinetId, body) {
      const target = await visibleTarget(by, cabinetId)
      assertMayChangeCabinet(by)
      if (target.status === 'retired') throw cabinetRetired(cabinetId)
      const at = now()
      const expiresAt = new Date(at.getTime() + (body.expiresInS ?? COMMAND_DEFAULT_EXPIRY_S) * 1000)
      const row: CommandRow = {
        commandId: uuidv7(at.getTime()),
        cabinetId,
        kind: body.kind,
        params: body.params ?? {},
        state: 'pending',
        result: null,
        sentBy: by.username,
        sentRole: by.role,
        issuedAt: at.toISOString(),
        expiresAt: expiresAt.toISOString(),
        deliveredAt: null,
        completedAt: null,
        expiredAt: null,
      }
      await store.insert(row)
      log.info({ commandId: row.commandId, cabinetId, kind: row.kind, sentBy: by.username, expiresAt: row.expiresAt }, 'command sent')
      // Published whether or not the cabinet looks online: an offline one gets
      // it when it reconnects (resend), a live one now.
      send(row)
      return { commandId: row.commandId, state: row.state, expiresAt: row.expiresAt }
    },

    async get(by, commandId) {
      const r = await store.get(commandId)
      if (!r) throw commandNotFound(commandId)
      const target = await store.target(r.cabinetId)
      if (!target || !canSeeCabinet(by, target)) throw commandNotFound(commandId)
      return view(await current(r))
    },

    async list(by, cabinetId, limit) {
      await visibleTarget(by, cabinetId)
      await store.expire(now().toISOString(), cabinetId)
      return { commands: (await store.list(cabinetId, limit)).map(view) }
    },

    async resend(cabinetId) {
      const at = now().toISOString()
      const expired = await store.expire(at, cabinetId)
      if (expired > 0) log.info({ cabinetId, expired }, 'commands expired before the cabinet came back')
      const rows = await store.unfinished(cabinetId, at)
      for (const r of rows) send(r)
      if (rows.length > 0) log.info({ cabinetId, commands: rows.length }, 'commands without an outcome resent')
      return rows.length
    },

    async event(cabinetId, e) {
      if (e.kind !== 'command') return
      const parsed = parseCommandReport(e.detail)
      if (!parsed) {
        log.warn({ cabinetId, eventId: e.eventId }, 'command report ignored: malformed detail')
        return
      }
      const { report, result } = parsed
      const at = now().toISOString()
      // The cabinet id in the condition: a cabinet reports only its own commands.
      const moved = report.state === 'delivered'
        ? await store.delivered(report.commandId, cabinetId, at)
        : await store.completed(report.commandId, cabinetId, report.state, result, at)
      if (moved) log.info({ cabinetId, commandId: report.commandId, kind: report.commandKind, state: report.state }, 'command report')
      else log.debug({ cabinetId, commandId: report.commandId, state: report.state }, 'command report changed nothing (a resend, or not this cabinet’s)')
    },

    expireDue: () => store.expire(now().toISOString()),
  }
}

/** True for a cabinet's retained presence saying it is online (and subscribed). */
export function isOnlinePresence(cabinetId: string, payload: Buffer): boolean {
  const d = decodeMessage(PresenceMsg, payload)
  return d.ok && d.data.cabinetId === cabinetId && d.data.state === 'online'
}
