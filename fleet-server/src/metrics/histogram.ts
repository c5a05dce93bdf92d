// A histogram for the ingest hot path. prom-client's observe() allocates a
// label object, hashes it and finds the bucket by string key on every call;
// ingest observes two values per one-sale message, so that was measurable.
// This one keeps plain counters (a binary search and three additions per
// observation, nothing allocated) and hands prom-client's registry, at
// scrape time, exactly the values a prom-client Histogram without labels
// would: same names, same bucket lines, same text.
import type { Metric, Registry } from 'prom-client'

export interface HotHistogram {
  observe(value: number): void
}

export function createHotHistogram(opts: { name: string; help: string; buckets: readonly number[]; registers: readonly Registry[] }): HotHistogram {
  const bounds = Float64Array.from(opts.buckets)
  // counts[i]: observations in (bounds[i-1], bounds[i]]; the last slot is above every bound.
  const counts = new Float64Array(bounds.length + 1)
  let sum = 0
  let count = 0

  const metric = {
    name: opts.name,
    help: opts.help,
    type: 'histogram',
    aggregator: 'sum',
    get() {
      const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = []
      let cumulative = 0
      for (let i = 0; i < bounds.length; i++) {
        cumulative += counts[i]!
        values.push({ labels: { le: bounds[i]! }, value: cumulative, metricName: `${opts.name}_bucket` })
      }
      values.push(
        { labels: { le: '+Inf' }, value: count, metricName: `${opts.name}_bucket` },
        { labels: {}, value: sum, metricName: `${opts.name}_sum` },
        { labels: {}, value: count, metricName: `${opts.name}_count` },
      )
      return Promise.resolve({ name: opts.name, help: opts.help, type: 'histogram', values, aggregator: 'sum' })
    },
    reset() {
      counts.fill(0)
      sum = 0
      count = 0
    },
  }
  // The registry reads a metric only through name, type, get() and reset().
  for (const r of opts.registers) r.registerMetric(metric as unknown as Metric)

  return {
    observe(value) {
      if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`)
      // First bound >= value (prom-client's "le" rule).
      let lo = 0
      let hi = bounds.length
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (bounds[mid]! < value) lo = mid + 1
        else hi = mid
      }
      counts[lo] = counts[lo]! + 1
      sum += value
      count++
    },
  }
}
