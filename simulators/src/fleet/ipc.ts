// Messages between the simulator's main process and its worker processes.
import type { VenueType } from '../../../shared/src/index.js'

export interface SimCabinet {
  cabinetId: string
  password: string
  countyCode: string
  venueType: VenueType
}

export interface WorkerSpec {
  workerIndex: number
  cabinets: SimCabinet[]
  mqttUrl: string
  dataDir: string
  seed: string
  /** Virtual start of trade (UTC ms) and its length. */
  startMs: number
  days: number
  /** Virtual ms per real ms. */
  speed: number
  certifiedMean: number
  outageRate: number
  clockSkewRate: number
  /** City-wide outages, virtual [from, to) in UTC ms. */
  cityOutages: Array<[number, number]>
  /** Steady mode instead of the day model: sales per cabinet per real hour, for this many real seconds. */
  steady: { perCabinetPerHour: number; seconds: number } | null
  /** Ledger lastSeq of each cabinet when the run began (known after the first start; a restarted worker gets them back). */
  baseSeqs: Record<string, number> | null
  logLevel: string
}

export type ToWorker =
  | { type: 'spec'; spec: WorkerSpec; startWallMs: number | null; isReleased: boolean }
  /** Trade is over and every worker has recorded all its sales: every outage lifts now, fleet-wide. */
  | { type: 'release' }
  | { type: 'go'; startWallMs: number }
  | { type: 'stop' }

export interface CabinetReport {
  cabinetId: string
  baseSeq: number
  lastSeq: number
  lastAckedSeq: number
  isHalted: boolean
  /** The certified share of sales amount this cabinet was drawn to trend to. */
  certifiedShare: number
  clockSkewMs: number
}

export interface Progress {
  sold: number
  acked: number
  online: number
  connected: number
  /** Virtual ms reached. */
  vnowMs: number
  /** True once trade is over and every ledger is acknowledged. */
  isDrained: boolean
  /** Trade time is over and every planned sale is in a ledger. */
  isTradeDone: boolean
}

export type FromWorker =
  | { type: 'ready'; baseSeqs: Record<string, number> }
  | ({ type: 'progress' } & Progress)
  | { type: 'reconnect'; atWallMs: number }
  | { type: 'connectedAll'; atWallMs: number }
  | { type: 'drained'; atWallMs: number }
  | { type: 'latency'; samplesMs: number[] }
  | { type: 'report'; cabinets: CabinetReport[]; rssMiB: number }
