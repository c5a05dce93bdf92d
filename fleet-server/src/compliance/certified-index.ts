// The days each sku is certified on, in memory: sku → sorted, disjoint,
// inclusive day ranges (overlapping certificates merged), loaded from the
// certified_spans view. Ingest judges each sku line with it (one Map lookup);
// a catalog change compares a sku's ranges before and after to find exactly
// the days whose certified status flipped. It mirrors the committed
// certificates table: a change reads a sku's new ranges inside its
// transaction but the index takes them only once that transaction committed
// (store.ts, through the 'certified' notice), so a rollback leaves nothing to undo.
import { certifiedSpans } from '../certification/reads.js'
import type { Executor } from '../db/database.js'
import { addDays } from './periods.js'

/** [from, to], inclusive Asia/Shanghai dates. */
export type DayRange = readonly [from: string, to: string]

/** Days whose certified status changed: +1 became certified, −1 stopped being. */
export interface Flip {
  readonly from: string
  readonly to: string
  readonly sign: 1 | -1
}

/** Sorts and merges ranges that overlap or touch (2020-01-31 and 2020-02-01 are one range). */
export function mergeRanges(ranges: readonly DayRange[]): DayRange[] {
  const sorted = ranges.filter(([a, b]) => a <= b).sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))
  const out: Array<[string, string]> = []
  for (const [a, b] of sorted) {
    const last = out.at(-1)
    if (last && a <= addDays(last[1], 1)) {
      if (b > last[1]) last[1] = b
    } else {
      out.push([a, b])
    }
  }
  return out
}

/** Whether a sorted, disjoint list covers `day` (binary search). */
export function covers(ranges: readonly DayRange[], day: string): boolean {
  let lo = 0
  let hi = ranges.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    const r = ranges[mid]!
    if (day < r[0]) hi = mid - 1
    else if (day > r[1]) lo = mid + 1
    else return true
  }
  return false
}

/** The days covered by exactly one of `before` and `after`, as maximal runs with their direction. */
export function flips(before: readonly DayRange[], after: readonly DayRange[]): Flip[] {
  // Coverage can only change at a range's first day or the day after its last.
  const points = new Set<string>()
  for (const [a, b] of [...before, ...after]) {
    points.add(a)
    points.add(addDays(b, 1))
  }
  const sorted = [...points].sort()
  const out: Flip[] = []
  for (let i = 0; i < sorted.length - 1; i++) {
    const from = sorted[i]!
    const was = covers(before, from)
    const is = covers(after, from)
    if (was === is) continue
    const sign = is ? 1 : -1
    const to = addDays(sorted[i + 1]!, -1)
    const last = out.at(-1)
    if (last && last.sign === sign && addDays(last.to, 1) === from) out[out.length - 1] = { from: last.from, to, sign }
    else out.push({ from, to, sign })
  }
  return out
}

export interface CertifiedIndex {
  isCertified(sku: string, day: string): boolean
  ranges(sku: string): readonly DayRange[]
  /** One sku's merged ranges as `ex` sees them (inside a change's transaction: with the change); the index is not touched. */
  read(ex: Executor, sku: string): Promise<DayRange[]>
  /** Takes committed ranges of some skus (an empty list: the sku has none). */
  set(ranges: ReadonlyMap<string, readonly DayRange[]>): void
  /** Re-reads every sku (at start, and when a change notice was missed). */
  reloadAll(ex: Executor): Promise<void>
}

const NONE: readonly DayRange[] = []

export function createCertifiedIndex(): CertifiedIndex {
  let bySku = new Map<string, readonly DayRange[]>()

  return {
    isCertified(sku, day) {
      const r = bySku.get(sku)
      return r !== undefined && covers(r, day)
    },
    ranges: (sku) => bySku.get(sku) ?? NONE,
    async read(ex, sku) {
      return mergeRanges((await certifiedSpans(ex, sku)).map((r): DayRange => [r.dayFrom, r.dayTo]))
    },
    set(ranges) {
      for (const [sku, after] of ranges) {
        if (after.length === 0) bySku.delete(sku)
        else bySku.set(sku, after)
      }
    },
    async reloadAll(ex) {
      const raw = new Map<string, DayRange[]>()
      for (const r of await certifiedSpans(ex)) {
        let list = raw.get(r.sku)
        if (!list) raw.set(r.sku, (list = []))
        list.push([r.dayFrom, r.dayTo])
      }
      const next = new Map<string, readonly DayRange[]>()
      for (const [sku, list] of raw) next.set(sku, mergeRanges(list))
      bySku = next
    },
  }
}
