// Telemetry (issue 16 §4): readings a cabinet reports on
// cabinets/{id}/up/telemetry every interval and at once on a door or fault
// change. A reading, not a record: QoS 0, never in the sales ledger; the
// server keeps what its alert rules need. `agentInstanceId` is random per
// agent process start, so two agents running on one cabinet's credentials
// show up as two ids reporting within a window (the `two_agents` alert).
import { z } from 'zod'
import { CabinetId, Uuid } from '../domain/ids.js'
import { IsoUtc } from '../domain/time.js'

export const FAULT_MODULES = ['payment', 'vending', 'cooling', 'other'] as const
export const FaultModule = z.enum(FAULT_MODULES)
export type FaultModule = z.infer<typeof FaultModule>

/** A device fault as the controller names it: the module and its own code. */
export const DeviceFault = z.strictObject({
  module: FaultModule,
  code: z.string().trim().min(1, '故障代码不能为空').max(64, '故障代码最长 64 个字符'),
})
export type DeviceFault = z.infer<typeof DeviceFault>

/** Temperatures a cabinet's sensor can plausibly read, °C. */
const TemperatureC = z.number().min(-50, '温度不能低于 -50 °C').max(100, '温度不能高于 100 °C')

/** The controller's POST /telemetry on the agent's local API: what changed or was read. */
export const PostTelemetryRequest = z.strictObject({
  temperatureC: TemperatureC.optional(),
  doorOpen: z.boolean().optional(),
  faults: z
    .array(DeviceFault.extend({ active: z.boolean() }))
    .max(32, '一次最多报告 32 个故障')
    .optional(),
})
export type PostTelemetryRequest = z.infer<typeof PostTelemetryRequest>

export const TelemetryMsg = z.strictObject({
  v: z.literal(1),
  type: z.literal('telemetry'),
  cabinetId: CabinetId,
  sentAt: IsoUtc,
  agentInstanceId: Uuid,
  agentVersion: z.string().max(64),
  /** The cabinet keeps chilled goods (agent config --chilled): the temperature rule applies. */
  chilled: z.boolean(),
  /** Null until the controller reported one. */
  temperatureC: TemperatureC.nullable(),
  doorOpen: z.boolean(),
  /** When the door was seen opening (the cabinet's clock); null while closed. */
  doorOpenSince: IsoUtc.nullable(),
  /** The faults active now. */
  faults: z.array(DeviceFault).max(32),
  /** Of the file system holding the ledger; null when it cannot be read. */
  diskUsedPct: z.number().min(0).max(100).nullable(),
  outboxPending: z.number().int().min(0),
  /** Age of the oldest unacknowledged sale, 0 when none. */
  outboxOldestAgeS: z.number().min(0),
  ledgerBytes: z.number().int().min(0),
})
export type TelemetryMsg = z.infer<typeof TelemetryMsg>
