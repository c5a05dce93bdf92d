// Remote commands (issue 16 §5): what the server sends a cabinet on
// cabinets/{id}/down/commands and what the cabinet reports back. A command
// carries its cabinet's id (the agent refuses another's), an expiry (the agent
// refuses a late one) and an id the agent de-duplicates on: the server resends
// undelivered commands on every reconnect, so delivery is at least once.
// Results travel up as an `events` message of kind `command` (no new up topic:
// the broker ACLs and the NATS permissions already allow it).
import { z } from 'zod'
import { CabinetId, Uuid } from '../domain/ids.js'
import { Fen } from '../domain/money.js'
import { IsoUtc } from '../domain/time.js'
import { CommandMsg } from './catalog.js'
import { Sku } from './sale.js'

export const COMMAND_KINDS = ['price', 'planogram', 'catalog-refresh', 'sync', 'restart', 'lock', 'unlock', 'restock'] as const
export const CommandKind = z.enum(COMMAND_KINDS)
export type CommandKind = z.infer<typeof CommandKind>

export const COMMAND_STATES = ['pending', 'delivered', 'done', 'failed', 'expired'] as const
export const CommandState = z.enum(COMMAND_STATES)
export type CommandState = z.infer<typeof CommandState>

/** Default and longest expiry, s: a day covers an overnight outage; a month bounds what waits in the table. */
export const COMMAND_DEFAULT_EXPIRY_S = 24 * 3600
export const COMMAND_MAX_EXPIRY_S = 30 * 24 * 3600
/** Slots in one planogram: a large cabinet has a few hundred. */
export const MAX_PLANOGRAM_SLOTS = 500

export const PriceParams = z.strictObject({ sku: Sku, priceFen: Fen })
export type PriceParams = z.infer<typeof PriceParams>

export const PlanogramSlot = z
  .strictObject({
    slot: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/, '货道编号须为 1–32 位字母、数字或 _ . -'),
    sku: Sku,
    capacity: z.number().int().min(1).max(10_000),
    /** Restock up to this level (标准库存). */
    par: z.number().int().min(0).max(10_000),
  })
  .refine((s) => s.par <= s.capacity, { message: '标准库存（par）不能大于容量（capacity）', path: ['par'] })
export type PlanogramSlot = z.infer<typeof PlanogramSlot>

export const PlanogramParams = z.strictObject({
  slots: z
    .array(PlanogramSlot)
    .max(MAX_PLANOGRAM_SLOTS)
    .refine((slots) => new Set(slots.map((s) => s.slot)).size === slots.length, { message: '货道编号不能重复' }),
})
export type PlanogramParams = z.infer<typeof PlanogramParams>

/** A slot id (货道编号). */
export const SlotId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/, '货道编号须为 1–32 位字母、数字或 _ . -')
/** A restock's id: client-given, so a retried restock is applied once. */
export const RestockId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, '补货编号须为 1–64 位字母、数字或 _ . : -')
/** Units put into one slot by one restock. */
export const RestockLine = z.strictObject({ slot: SlotId, qty: z.number().int().min(1).max(10_000) })
export type RestockLine = z.infer<typeof RestockLine>
const RestockLines = z
  .array(RestockLine)
  .min(1)
  .max(MAX_PLANOGRAM_SLOTS)
  .refine((lines) => new Set(lines.map((l) => l.slot)).size === lines.length, { message: '货道编号不能重复' })

/** A restock (issue 16 §3): units added to named slots, or every slot filled to its par. */
export const RestockBody = z.union([
  z.strictObject({ restockId: RestockId.optional(), slots: RestockLines }),
  z.strictObject({ restockId: RestockId.optional(), fill: z.literal(true) }),
])
export type RestockBody = z.infer<typeof RestockBody>
/** The `restock` command's params: the same, with the id the server chose (a resend applies once). */
export const RestockParams = z.union([
  z.strictObject({ restockId: RestockId, slots: RestockLines }),
  z.strictObject({ restockId: RestockId, fill: z.literal(true) }),
])
export type RestockParams = z.infer<typeof RestockParams>

/** Kinds without parameters take none (an empty object or nothing). */
const NoParams = z.strictObject({}).optional()

/** A command by kind, with the parameters that kind takes. */
export const RemoteCommand = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('price'), params: PriceParams }),
  z.strictObject({ kind: z.literal('planogram'), params: PlanogramParams }),
  z.strictObject({ kind: z.literal('catalog-refresh'), params: NoParams }),
  z.strictObject({ kind: z.literal('sync'), params: NoParams }),
  z.strictObject({ kind: z.literal('restart'), params: NoParams }),
  z.strictObject({ kind: z.literal('lock'), params: NoParams }),
  z.strictObject({ kind: z.literal('unlock'), params: NoParams }),
  z.strictObject({ kind: z.literal('restock'), params: RestockParams }),
])
export type RemoteCommand = z.infer<typeof RemoteCommand>

/** cabinets/{id}/down/commands: one operator's command. */
export const RemoteCommandMsg = z.strictObject({
  v: z.literal(1),
  type: z.literal('remote-command'),
  commandId: Uuid,
  /** The cabinet it is for; the agent ignores a command for another. */
  cabinetId: CabinetId,
  issuedAt: IsoUtc,
  /** Not applied after this instant (agent clock); the server reports it expired. */
  expiresAt: IsoUtc,
  command: RemoteCommand,
})
export type RemoteCommandMsg = z.infer<typeof RemoteCommandMsg>

/** Everything the commands topic carries: the server's own (ping, resync) and operators' commands. */
export const DownCommandMsg = z.discriminatedUnion('type', [CommandMsg, RemoteCommandMsg])
export type DownCommandMsg = z.infer<typeof DownCommandMsg>

/** What a cabinet reports of a command: received, then done or failed. */
export const COMMAND_REPORT_STATES = ['delivered', 'done', 'failed'] as const
export const CommandReportState = z.enum(COMMAND_REPORT_STATES)
export type CommandReportState = z.infer<typeof CommandReportState>

/** A result's values: flat, like every event's detail. */
export const CommandResultValue = z.union([z.string().max(500), z.number(), z.boolean(), z.null()])
export const CommandResult = z.record(z.string().max(64), CommandResultValue)
export type CommandResult = z.infer<typeof CommandResult>

/**
 * The `detail` of an events message of kind `command`: the command, the state
 * reached and (done/failed) its result; a failure's result holds `code` and
 * `message`. Fields other than commandId, commandKind and state are the result.
 */
export const CommandReport = z.looseObject({
  commandId: Uuid,
  commandKind: CommandKind,
  state: CommandReportState,
})
export type CommandReport = z.infer<typeof CommandReport>

/** Splits an event detail into the report and its result (the remaining fields). */
export function parseCommandReport(detail: Record<string, unknown>): { report: CommandReport; result: CommandResult } | null {
  const r = CommandReport.safeParse(detail)
  if (!r.success) return null
  const { commandId: _id, commandKind: _kind, state: _state, ...rest } = r.data
  const result = CommandResult.safeParse(rest)
  return result.success ? { report: r.data, result: result.data } : null
}
