// The ingest hot-path histogram must read, at /metrics, exactly as the
// prom-client Histogram it replaced: same lines for the same observations.
import fc from 'fast-check'
import { Histogram, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { LATENCY_BUCKETS_S } from '../../fleet-server/src/metrics/index.js'
import { createHotHistogram } from '../../fleet-server/src/metrics/histogram.js'

describe('hot histogram', () => {
  it('scrapes exactly like a prom-client Histogram, bucket bounds included', async () => {
    const value = fc.oneof(fc.constantFrom(0, ...LATENCY_BUCKETS_S, 5000), fc.double({ min: 0, max: 5000, noNaN: true }))
    await fc.assert(
      fc.asyncProperty(fc.array(value, { maxLength: 200 }), async (values) => {
        const ours = new Registry()
        const theirs = new Registry()
        const spec = { name: 'fleet_test_seconds', help: 'A test histogram', buckets: LATENCY_BUCKETS_S }
        const hot = createHotHistogram({ ...spec, registers: [ours] })
        const reference = new Histogram({ ...spec, registers: [theirs] })
        for (const v of values) {
          hot.observe(v)
          reference.observe(v)
        }
        expect(await ours.metrics()).toBe(await theirs.metrics())
      }),
      { numRuns: 50 },
    )
  })

  it('refuses a value that is not a finite number, as prom-client does', () => {
    const hot = createHotHistogram({ name: 'fleet_test_seconds', help: 'h', buckets: [1], registers: [new Registry()] })
    expect(() => hot.observe(Number.NaN)).toThrow(TypeError)
  })
})
