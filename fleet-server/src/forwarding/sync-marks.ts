// How far a cabinet's sales are known to be complete on the server: the sync
// watermark. A period may be forwarded only once the watermark has passed the
// period's end — a cabinet still holding offline sales of the period is not
// complete yet (held as INCOMPLETE_SYNC; docs/forwarding.md explains it for operators).
//
// The rule. Seqs are gapless and assigned when the agent records a sale, and
// the server commits a gapless prefix 1..committedSeq. So "every sale the
// cabinet recorded before instant T is committed" holds when either
//   (chain)     the last committed sale was recorded at T or later — every sale
//               recorded before it has a lower seq, hence is committed; or
//   (heartbeat) a heartbeat sent at T reported lastSeq ≤ committedSeq — every
//               sale recorded before T has seq ≤ that lastSeq.
// T is capped by the server's receipt time, so a cabinet clock running ahead
// cannot push the mark into the future. The mark only moves forward and is
// stored, so it survives a restart (heartbeats are in memory until a pass).
// Sales recorded after the mark but dated before it (a replay of past trade)
// are late sales: they re-open held periods and correct forwarded ones.
import type { HeartbeatMsg as Heartbeat } from '../../../shared/src/index.js'
import type { Executor, FleetDb } from '../db/database.js'
import { inRange, type CabinetRange } from '../db/index.js'
import type { ChainInfo, ForwardingStore, SyncMark } from './store.js'

interface HeartbeatProof {
  /** min(sentAt, server receipt), ms. */
  readonly atMs: number
  readonly lastSeq: number
  readonly pending: number
}

export type CabinetSync = { mark: SyncMark | null; chain: ChainInfo | null; pending: number | null }

export interface SyncMarks {
  /** Records a heartbeat (decoded once by the message router, its cabinet id checked). */
  heartbeat(cabinetId: string, hb: Heartbeat): void
  /**
   * Advances the watermarks of the cabinets in `range`; returns them with the
   * chain state, and the marks that moved, for save() in the caller's
   * transaction (a pass slice's: one commit for the slice, not two).
   */
  advance(range: CabinetRange): Promise<{ sync: Map<string, CabinetSync>; moved: SyncMark[] }>
  /** Stores marks advance() moved, in `ex`. */
  save(ex: Executor, moved: readonly SyncMark[]): Promise<void>
  /** advance() and save() in a transaction of its own; returns the marks with the chain state. */
  compute(range: CabinetRange): Promise<Map<string, CabinetSync>>
}

export interface SyncMarksDeps {
  readonly db: FleetDb
  readonly store: ForwardingStore
  /** The chain heads of a range of cabinets (the sales domain's forwarding reads). */
  readonly chains: (range: CabinetRange) => Promise<readonly ChainInfo[]>
  readonly now: () => Date
}

const min = (a: number, b: number) => (a < b ? a : b)

export function createSyncMarks({ db, store, chains: chainHeads, now }: SyncMarksDeps): SyncMarks {
  const proofs = new Map<string, HeartbeatProof>()
  const marks: SyncMarks = {
    heartbeat(cabinetId, hb) {
      const sentMs = Date.parse(hb.sentAt)
      proofs.set(cabinetId, { atMs: min(sentMs, now().getTime()), lastSeq: hb.lastSeq, pending: hb.pending })
    },
    async advance(range) {
      const [stored, heads] = await Promise.all([store.syncMarks(range), chainHeads(range)])
      const chains = new Map(heads.map((c) => [c.cabinetId, c]))
      const sync = new Map<string, CabinetSync>()
      const ids = new Set([...stored.keys(), ...chains.keys()])
      for (const id of proofs.keys()) if (inRange(range, id)) ids.add(id)
      const moved: SyncMark[] = []
      for (const id of ids) {
        const chain = chains.get(id) ?? null
        const proof = proofs.get(id)
        let best = stored.get(id) ?? null
        let bestMs = best ? Date.parse(best.syncedThrough) : Number.NEGATIVE_INFINITY
        const consider = (ms: number, source: string) => {
          if (Number.isFinite(ms) && ms > bestMs) {
            bestMs = ms
            best = { cabinetId: id, syncedThrough: new Date(ms).toISOString(), source }
          }
        }
        if (chain?.headRecordedAt && chain.headReceivedAt) {
          consider(min(Date.parse(chain.headRecordedAt), Date.parse(chain.headReceivedAt)), 'chain')
        }
        if (proof && proof.lastSeq <= (chain?.lastSeq ?? 0)) consider(proof.atMs, 'heartbeat')
        if (best && best !== stored.get(id)) moved.push(best)
        sync.set(id, { mark: best, chain, pending: proof?.pending ?? null })
      }
      // In key order: two servers storing the same marks lock them in one order (PostgreSQL).
      moved.sort((a, b) => (a.cabinetId < b.cabinetId ? -1 : a.cabinetId > b.cabinetId ? 1 : 0))
      return { sync, moved }
    },
    async save(ex, moved) {
      if (moved.length > 0) await store.saveSyncMarks(ex, moved, now().toISOString())
    },
    async compute(range) {
      const { sync, moved } = await marks.advance(range)
      if (moved.length > 0) await db.transaction((tx) => marks.save(tx, moved))
      return sync
    },
  }
  return marks
}
