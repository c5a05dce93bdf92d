// HTTP bodies of remote commands (issue 16 §5): send one to a cabinet, read
// its state and result.
import { z } from 'zod'
import { CabinetId, Uuid } from '../domain/ids.js'
import { IsoUtc } from '../domain/time.js'
import {
  COMMAND_MAX_EXPIRY_S, CommandKind, CommandResult, CommandState, PlanogramParams, PriceParams, RestockParams,
} from '../messages/command.js'

/** Seconds until the command expires when not delivered: 1 s to 30 days; 24 h when absent. */
const ExpiresInS = z.number().int().min(1).max(COMMAND_MAX_EXPIRY_S).optional()
const NoParams = z.strictObject({}).optional()

export const PostCommandBody = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('price'), params: PriceParams, expiresInS: ExpiresInS }),
  z.strictObject({ kind: z.literal('planogram'), params: PlanogramParams, expiresInS: ExpiresInS }),
  z.strictObject({ kind: z.literal('catalog-refresh'), params: NoParams, expiresInS: ExpiresInS }),
  z.strictObject({ kind: z.literal('sync'), params: NoParams, expiresInS: ExpiresInS }),
  z.strictObject({ kind: z.literal('restart'), params: NoParams, expiresInS: ExpiresInS }),
  z.strictObject({ kind: z.literal('lock'), params: NoParams, expiresInS: ExpiresInS }),
  z.strictObject({ kind: z.literal('unlock'), params: NoParams, expiresInS: ExpiresInS }),
  z.strictObject({ kind: z.literal('restock'), params: RestockParams, expiresInS: ExpiresInS }),
])
export type PostCommandBody = z.infer<typeof PostCommandBody>

export const PostCommandReply = z.object({ commandId: Uuid, state: CommandState, expiresAt: IsoUtc })
export type PostCommandReply = z.infer<typeof PostCommandReply>

export const CommandIdParams = z.strictObject({ id: Uuid })
export type CommandIdParams = z.infer<typeof CommandIdParams>

export const CommandView = z.object({
  commandId: Uuid,
  cabinetId: CabinetId,
  kind: CommandKind,
  params: z.record(z.string(), z.unknown()),
  state: CommandState,
  /** What the cabinet reported with done/failed (failed: code and message). */
  result: CommandResult.optional(),
  /** Who sent it (username) and in which role. */
  sentBy: z.string(),
  sentRole: z.string(),
  issuedAt: IsoUtc,
  expiresAt: IsoUtc,
  deliveredAt: IsoUtc.nullable(),
  completedAt: IsoUtc.nullable(),
  expiredAt: IsoUtc.nullable(),
})
export type CommandView = z.infer<typeof CommandView>

export const CommandList = z.object({ commands: z.array(CommandView) })
export type CommandList = z.infer<typeof CommandList>

export const ListCommandsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
})
export type ListCommandsQuery = z.infer<typeof ListCommandsQuery>
