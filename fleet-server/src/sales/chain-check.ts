// The per-batch rules of docs/protocol.md "The sale path", step 3, in order
// for every sale: total, hash, continuity within the batch; then against the
// cabinet's committed chain: replay (skip) or tamper, and gap. Pure apart from
// the lookup of an old committed hash, which only a replay of an older seq needs.
import { lineTotalFen, saleHash, type RejectCode, type Sale } from '../../../shared/src/index.js'
import type { ChainHead } from './types.js'

export type BatchVerdict =
  | { readonly ok: true; readonly newSales: readonly Sale[]; readonly head: ChainHead; readonly replayed: number }
  | {
      readonly ok: false
      readonly code: RejectCode
      readonly message: string
      readonly expectedSeq?: number
    }

/** Hash of the committed sale `seq` of this cabinet (null when there is none). */
export type HashLookup = (seq: number) => Promise<string | null>

/**
 * The verdict on a batch. Synchronous unless a sale of the batch replays a seq
 * below the head (only then is an old hash looked up): the common batch, which
 * starts at head + 1, then costs its caller no await — a microtask turn and a
 * suspended tick per one-sale message.
 */
export function checkBatch(cabinetId: string, sales: readonly Sale[], head: ChainHead, hashAt: HashLookup): BatchVerdict | Promise<BatchVerdict> {
  const v = judge(cabinetId, sales, head, notLookedUp)
  return v === NEEDS_LOOKUP ? lookUpThenJudge(cabinetId, sales, head, hashAt) : v
}

/** judge()'s answer when a sale replays a seq below the head whose hash it was not given. */
const NEEDS_LOOKUP = Symbol('needs lookup')
/** A committed hash: null when the server holds none, undefined when not looked up. */
type KnownHash = (seq: number) => string | null | undefined
const notLookedUp: KnownHash = () => undefined

/** Looks up the hashes of the seqs the batch replays below the head, then judges it with them. */
async function lookUpThenJudge(cabinetId: string, sales: readonly Sale[], head: ChainHead, hashAt: HashLookup): Promise<BatchVerdict> {
  const hashes = new Map<number, string | null>()
  for (const s of sales) if (s.seq < head.seq && !hashes.has(s.seq)) hashes.set(s.seq, await hashAt(s.seq))
  return judge(cabinetId, sales, head, (seq) => hashes.get(seq)) as BatchVerdict
}

function judge(cabinetId: string, sales: readonly Sale[], head: ChainHead, known: KnownHash): BatchVerdict | typeof NEEDS_LOOKUP {
  const newSales: Sale[] = []
  let replayed = 0
  let prev: Sale | undefined
  for (const s of sales) {
    const broken = saleFault(cabinetId, s, prev)
    if (broken) return broken
    if (s.seq <= head.seq) {
      // At-least-once delivery: a sale we already have. Same hash = the same
      // sale again (skip); a different one = the cabinet rewrote its history.
      const stored = s.seq === head.seq ? head.hash : known(s.seq)
      if (stored === undefined) return NEEDS_LOOKUP
      // Only a database edited behind the server's back gets here; rejecting
      // this batch keeps one bad chain from failing every tick it lands in.
      if (stored === null) {
        return { ok: false, code: 'SALE_CHAIN_BROKEN', message: `the server holds no sale with seq ${s.seq} although it committed up to seq ${head.seq}; an operator must look` }
      }
      if (stored !== s.hash) return tampered(s)
      replayed++
    } else {
      if (newSales.length === 0) {
        const off = offHead(s, head)
        if (off) return off
      }
      newSales.push(s)
    }
    prev = s
  }
  return verdict(newSales, head, replayed)
}

/** The batch's own faults at sale `s`: continuity with the previous sale, total, hash. */
function saleFault(cabinetId: string, s: Sale, prev: Sale | undefined): BatchVerdict | null {
  if (prev && s.seq !== prev.seq + 1) {
    return { ok: false, code: 'BAD_MESSAGE', message: `sales in a batch must have consecutive seq: seq ${s.seq} follows seq ${prev.seq}` }
  }
  const sum = lineTotalFen(s.lines)
  if (sum !== s.totalFen) {
    return { ok: false, code: 'SALE_TOTAL_MISMATCH', message: `sale seq ${s.seq}: totalFen is ${s.totalFen} but its lines sum to ${sum}` }
  }
  if (saleHash(cabinetId, s) !== s.hash) {
    return { ok: false, code: 'SALE_CHAIN_BROKEN', message: `sale seq ${s.seq}: hash does not match the sale's content` }
  }
  if (prev && s.prevHash !== prev.hash) {
    return { ok: false, code: 'SALE_CHAIN_BROKEN', message: `sale seq ${s.seq}: prevHash is not the hash of seq ${prev.seq}` }
  }
  return null
}

/** The first new sale must follow the head: seq and hash. */
function offHead(s: Sale, head: ChainHead): BatchVerdict | null {
  if (s.seq !== head.seq + 1) {
    return { ok: false, code: 'SALE_SEQ_GAP', message: `sale seq ${s.seq} does not follow the committed seq ${head.seq}; send from seq ${head.seq + 1}`, expectedSeq: head.seq + 1 }
  }
  if (s.prevHash !== head.hash) {
    return { ok: false, code: 'SALE_CHAIN_BROKEN', message: `sale seq ${s.seq}: prevHash does not match the committed hash of seq ${head.seq}` }
  }
  return null
}

const tampered = (s: Sale): BatchVerdict => ({ ok: false, code: 'SALE_TAMPERED', message: `sale seq ${s.seq} differs from the sale committed with that seq` })

function verdict(newSales: Sale[], head: ChainHead, replayed: number): BatchVerdict {
  const last = newSales.at(-1)
  return { ok: true, newSales, head: last ? { seq: last.seq, hash: last.hash } : head, replayed }
}
