// Messages between the simulator's main process and its worker processes.
import type { VenueType } from '../../../shared/src/index.js'
import type { AgentStock } from './stock.js'

export interface SimCabinet {
  cabinetId: string
  password: string
  countyCode: string
  venueType: VenueType
  /**
   * Set once it was enrolled by bootstrap code: its agent then runs on the
   * credentials.json and signing key that enrollment wrote into its directory.
   */
  enrolled?: { keyPath: string; code: string; at: string }
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
  /** --stock: agents get their local API (port 0) for stock and restocks; sales name their slot; low slots get restocked. */
  stock?: boolean
  /** --telemetry: each agent reports a reading every intervalMs of virtual time (see readingIntervalMs). */
  telemetry?: { intervalMs: number } | null
}

export type ToWorker =
  | { type: 'spec'; spec: WorkerSpec; startWallMs: number | null; isReleased: boolean }
  /** Trade is over and every worker has recorded all its sales: every outage lifts now, fleet-wide. */
  | { type: 'release' }
  | { type: 'go'; startWallMs: number }
  /**
   * Trade is over and drained: let idle virtual time pass until every cabinet's
   * own clock reads at least untilMs (the end of the forwarding periods the
   * server still holds as incompletely synced), then heartbeat once.
   */
  | { type: 'settle'; untilMs: number }
  /** --stock, after the drain: every agent's ledger stock, answered by `stockSnapshot`. */
  | { type: 'stockSnapshot' }
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
  /** Since the release, every agent of this worker has connected (timed by the main process on receipt). */
  | { type: 'connectedAll' }
  /** Since the release, every agent of this worker has all its sales acknowledged by the server. */
  | { type: 'drained' }
  /** Answer to settle: the virtual clock now (without skew) and the heartbeats that went out. */
  | { type: 'settled'; vnowMs: number; heartbeats: number; disconnected: number }
  | { type: 'latency'; samplesMs: number[] }
  | { type: 'report'; cabinets: CabinetReport[]; rssMiB: number }
  /** An agent handled a remote command (or a resend of one); lastSeq: its ledger's last sale then. */
  | { type: 'command'; cabinetId: string; commandId: string; kind: string; state: string; lastSeq: number }
  /** --stock: the operator's dashboard is to restock this cabinet (fill every slot to par). */
  | { type: 'restock'; cabinetId: string; restockId: string }
  /** --stock: a slot reached 0, or staff restocked low slots at the cabinet (the operator's restocks are counted as sent). */
  | { type: 'stockEvent'; cabinetId: string; event: 'out' | 'restockLocal' }
  | { type: 'stockSnapshot'; cabinets: AgentStock[] }
  /** --telemetry: readings published since the last of these. */
  | { type: 'readings'; n: number }
