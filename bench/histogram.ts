// Percentiles from a Prometheus histogram scraped from a running fleet server:
// two scrapes around a measured window, subtracted, give that window's
// distribution. A percentile read this way is the upper bound of the bucket it
// falls in, so it never flatters the figure.

export type Buckets = Map<number, number> // upper bound (s) → cumulative count

export async function scrapeHistogram(httpUrl: string, name: string): Promise<Buckets> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text()
  const buckets: Buckets = new Map()
  const prefix = `${name}_bucket{le="`
  for (const line of text.split('\n')) {
    if (!line.startsWith(prefix)) continue
    const end = line.indexOf('"', prefix.length)
    const le = line.slice(prefix.length, end)
    buckets.set(le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), Number(line.slice(line.lastIndexOf(' ') + 1)))
  }
  if (buckets.size === 0) throw new Error(`metric ${name} not found at ${httpUrl}/metrics`)
  return buckets
}

export function subtract(after: Buckets, before: Buckets): Buckets {
  const d: Buckets = new Map()
  for (const [le, n] of after) d.set(le, n - (before.get(le) ?? 0))
  return d
}

export interface HistogramSummary {
  readonly samples: number
  /** Upper bounds of the buckets holding the 50th and 99th percentile, ms (null: in +Inf). */
  readonly p50AtMostMs: number | null
  readonly p99AtMostMs: number | null
}

export function summarize(b: Buckets): HistogramSummary {
  const bounds = [...b.keys()].sort((x, y) => x - y)
  const total = b.get(Number.POSITIVE_INFINITY) ?? 0
  const at = (q: number): number | null => {
    const rank = Math.ceil(q * total)
    for (const le of bounds) if (b.get(le)! >= rank) return Number.isFinite(le) ? +(le * 1000).toFixed(1) : null
    return null
  }
  return { samples: total, p50AtMostMs: total > 0 ? at(0.5) : null, p99AtMostMs: total > 0 ? at(0.99) : null }
}
