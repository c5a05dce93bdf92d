// Remote commands on either database (issue 16 §5). A state moves only
// forward and only by a conditional UPDATE (pending → delivered → done |
// failed; pending → expired), so a resent report or a race between a report
// and an expiry cannot move it back.
import type { Selectable } from 'kysely'
import type { CommandKind, CommandResult, CommandState } from '../../../shared/src/index.js'
import type { FleetDb } from '../db/database.js'
import type { CabinetCommandsTable } from '../db/schema.js'

export interface CommandRow {
  readonly commandId: string
  readonly cabinetId: string
  readonly kind: CommandKind
  readonly params: Record<string, unknown>
  readonly state: CommandState
  readonly result: CommandResult | null
  readonly sentBy: string
  readonly sentRole: string
  readonly issuedAt: string
  readonly expiresAt: string
  readonly deliveredAt: string | null
  readonly completedAt: string | null
  readonly expiredAt: string | null
}

/** The cabinet a command goes to, as scope checks need it. */
export interface CommandTarget {
  readonly cabinetId: string
  readonly countyCode: string
  readonly operator: string | null
  readonly status: string
}

export interface CommandStore {
  target(cabinetId: string): Promise<CommandTarget | null>
  insert(row: CommandRow): Promise<void>
  get(commandId: string): Promise<CommandRow | null>
  list(cabinetId: string, limit: number): Promise<CommandRow[]>
  /**
   * The cabinet's commands without an outcome, oldest first: pending ones not
   * expired at `at`, and delivered ones (their done/failed report was lost;
   * the agent answers a resend with the stored outcome).
   */
  unfinished(cabinetId: string, at: string): Promise<CommandRow[]>
  /** Pending → delivered; false when it was not pending. */
  delivered(commandId: string, cabinetId: string, at: string): Promise<boolean>
  /** Pending or delivered → done/failed with the result; false otherwise. */
  completed(commandId: string, cabinetId: string, state: 'done' | 'failed', result: CommandResult, at: string): Promise<boolean>
  /** Pending commands whose expiry is at or before `at` → expired (of one cabinet, or all). Returns how many. */
  expire(at: string, cabinetId?: string): Promise<number>
}

const toRow = (r: Selectable<CabinetCommandsTable>): CommandRow => ({
  commandId: r.command_id,
  cabinetId: r.cabinet_id,
  kind: r.kind as CommandKind,
  params: JSON.parse(r.params) as Record<string, unknown>,
  state: r.state as CommandState,
  result: r.result === null ? null : (JSON.parse(r.result) as CommandResult),
  sentBy: r.sent_by,
  sentRole: r.sent_role,
  issuedAt: r.issued_at,
  expiresAt: r.expires_at,
  deliveredAt: r.delivered_at,
  completedAt: r.completed_at,
  expiredAt: r.expired_at,
})

export function createCommandStore(db: FleetDb): CommandStore {
  const k = db.kysely
  return {
    async target(cabinetId) {
      const r = await k.selectFrom('cabinets').select(['cabinet_id', 'county_code', 'operator', 'status']).where('cabinet_id', '=', cabinetId).executeTakeFirst()
      return r ? { cabinetId: r.cabinet_id, countyCode: r.county_code, operator: r.operator, status: r.status } : null
    },
    async insert(row) {
      await k
        .insertInto('cabinet_commands')
        .values({
          command_id: row.commandId,
          cabinet_id: row.cabinetId,
          kind: row.kind,
          params: JSON.stringify(row.params),
          state: row.state,
          result: row.result === null ? null : JSON.stringify(row.result),
          sent_by: row.sentBy,
          sent_role: row.sentRole,
          issued_at: row.issuedAt,
          expires_at: row.expiresAt,
          delivered_at: row.deliveredAt,
          completed_at: row.completedAt,
          expired_at: row.expiredAt,
        })
        .execute()
    },
    async get(commandId) {
      const r = await k.selectFrom('cabinet_commands').selectAll().where('command_id', '=', commandId).executeTakeFirst()
      return r ? toRow(r) : null
    },
    async list(cabinetId, limit) {
      const rows = await k.selectFrom('cabinet_commands').selectAll().where('cabinet_id', '=', cabinetId).orderBy('issued_at', 'desc').orderBy('command_id', 'desc').limit(limit).execute()
      return rows.map(toRow)
    },
    async unfinished(cabinetId, at) {
      const rows = await k
        .selectFrom('cabinet_commands')
        .selectAll()
        .where('cabinet_id', '=', cabinetId)
        .where((eb) => eb.or([eb('state', '=', 'delivered'), eb.and([eb('state', '=', 'pending'), eb('expires_at', '>', at)])]))
        .orderBy('issued_at')
        .orderBy('command_id')
        .execute()
      return rows.map(toRow)
    },
    async delivered(commandId, cabinetId, at) {
      const r = await k
        .updateTable('cabinet_commands')
        .set({ state: 'delivered', delivered_at: at })
        .where('command_id', '=', commandId)
        .where('cabinet_id', '=', cabinetId)
        .where('state', '=', 'pending')
        .executeTakeFirst()
      return Number(r.numUpdatedRows) === 1
    },
    async completed(commandId, cabinetId, state, result, at) {
      const r = await k
        .updateTable('cabinet_commands')
        .set((eb) => ({ state, result: JSON.stringify(result), completed_at: at, delivered_at: eb.fn.coalesce('delivered_at', eb.val(at)) }))
        .where('command_id', '=', commandId)
        .where('cabinet_id', '=', cabinetId)
        .where('state', 'in', ['pending', 'delivered'])
        .executeTakeFirst()
      return Number(r.numUpdatedRows) === 1
    },
    async expire(at, cabinetId) {
      let q = k
        .updateTable('cabinet_commands')
        // Expired at its expiry, not at when someone looked.
        .set((eb) => ({ state: 'expired', expired_at: eb.ref('expires_at') }))
        .where('state', '=', 'pending')
        .where('expires_at', '<=', at)
      if (cabinetId !== undefined) q = q.where('cabinet_id', '=', cabinetId)
      const r = await q.executeTakeFirst()
      return Number(r.numUpdatedRows)
    },
  }
}
