// GET /api/v1/cabinets/:id/telemetry (issue 16 §4): the cabinet's latest
// reading (运行状态) and its hourly series for the last `hours`.
import { z } from 'zod'
import { IsoUtc } from '../domain/time.js'
import { FaultModule } from '../messages/telemetry.js'

export const TelemetryQuery = z.strictObject({
  hours: z.coerce.number().int().min(1).max(24 * 31).default(24),
})
export type TelemetryQuery = z.infer<typeof TelemetryQuery>

export const TelemetryLatestView = z.object({
  receivedAt: IsoUtc,
  sentAt: IsoUtc,
  agentVersion: z.string(),
  agentInstanceId: z.string(),
  chilled: z.boolean(),
  temperatureC: z.number().nullable(),
  doorOpen: z.boolean(),
  doorOpenSince: IsoUtc.nullable(),
  faults: z.array(z.object({ module: FaultModule, code: z.string(), since: IsoUtc })),
  diskUsedPct: z.number().nullable(),
  outboxPending: z.number().int(),
  outboxOldestAgeS: z.number(),
  ledgerBytes: z.number().int(),
})
export type TelemetryLatestView = z.infer<typeof TelemetryLatestView>

export const TelemetryHour = z.object({
  /** UTC hour, 'YYYY-MM-DDTHH'. */
  hour: z.string(),
  readings: z.number().int(),
  tempMinC: z.number().nullable(),
  tempMaxC: z.number().nullable(),
  tempAvgC: z.number().nullable(),
  doorOpenMinutes: z.number().int(),
  diskMaxPct: z.number().nullable(),
  outboxMaxAgeS: z.number(),
  faultCount: z.number().int(),
})
export type TelemetryHour = z.infer<typeof TelemetryHour>

export const TelemetryReply = z.object({
  cabinetId: z.string(),
  latest: TelemetryLatestView.nullable(),
  hours: z.number().int(),
  hourly: z.array(TelemetryHour),
})
export type TelemetryReply = z.infer<typeof TelemetryReply>
