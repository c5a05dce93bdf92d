import { z } from 'zod'
import { CabinetId, Uuid } from '../domain/ids.js'
import { IsoUtc } from '../domain/time.js'

/** cabinets/{id}/up/heartbeat: liveness plus the outbox lag the metrics report. */
export const HeartbeatMsg = z.strictObject({
  v: z.literal(1),
  type: z.literal('heartbeat'),
  cabinetId: CabinetId,
  sentAt: IsoUtc,
  lastSeq: z.number().int().min(0),
  lastAckedSeq: z.number().int().min(0),
  pending: z.number().int().min(0),
  /** Age of the oldest unacknowledged sale, 0 when none. */
  oldestPendingAgeS: z.number().min(0),
  catalogVersion: z.number().int().min(0).nullable(),
  uptimeS: z.number().min(0),
  agentVersion: z.string().max(64),
})
export type HeartbeatMsg = z.infer<typeof HeartbeatMsg>

/** cabinets/{id}/up/presence, retained; the "offline" one is the MQTT last will. */
export const PresenceMsg = z.strictObject({
  v: z.literal(1),
  type: z.literal('presence'),
  cabinetId: CabinetId,
  state: z.enum(['online', 'offline']),
  at: IsoUtc.optional(),
})
export type PresenceMsg = z.infer<typeof PresenceMsg>

/** cabinets/{id}/up/events: things a cabinet reports that are not sales. */
export const EventMsg = z.strictObject({
  v: z.literal(1),
  type: z.literal('event'),
  cabinetId: CabinetId,
  eventId: Uuid,
  at: IsoUtc,
  kind: z.enum(['started', 'door_open', 'fault', 'restock', 'clock_skew', 'ledger_error', 'sync_rejected', 'command']),
  detail: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).default({}),
})
export type EventMsg = z.infer<typeof EventMsg>
