// A replica that starts while the NATS cluster is still forming (issue 14):
// CI saw 2.9.10 refuse the sales stream with "no suitable peers for placement,
// insufficient storage" right after the nodes came up, before the meta leader
// had heard of its peers' storage. Setup waits that out; real errors still fail at once.
import { JetStreamApiError } from '@nats-io/jetstream'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { isClusterForming, untilClusterFormed } from '../../../fleet-server/src/broker/nats.js'

const log = pino({ level: 'silent' })
const apiError = (err_code: number, code: number, description: string) => new JetStreamApiError({ err_code, code, description })
const noPeers = () => apiError(10005, 500, 'no suitable peers for placement, insufficient storage')

describe('JetStream setup while the cluster forms', () => {
  it('tells forming-cluster answers from real refusals', () => {
    expect(isClusterForming(noPeers())).toBe(true)
    expect(isClusterForming(apiError(10008, 503, 'JetStream system temporarily unavailable'))).toBe(true)
    expect(isClusterForming(Object.assign(new Error('timeout'), { name: 'TimeoutError' }))).toBe(true)
    expect(isClusterForming(apiError(10058, 400, 'stream name already in use with a different configuration'))).toBe(false)
    expect(isClusterForming(apiError(10065, 400, 'subjects overlap with an existing stream'))).toBe(false)
    expect(isClusterForming(new TypeError('bad config'))).toBe(false)
  })

  it('tries again until the placement succeeds', async () => {
    let calls = 0
    const result = await untilClusterFormed(async () => {
      if (++calls < 3) throw noPeers()
      return 'created'
    }, log)
    expect(result).toBe('created')
    expect(calls).toBe(3)
  })

  it('fails at once on a real refusal, and after the wait on a cluster that never forms', async () => {
    let calls = 0
    const overlap = apiError(10065, 400, 'subjects overlap with an existing stream')
    await expect(untilClusterFormed(async () => { calls++; throw overlap }, log)).rejects.toBe(overlap)
    expect(calls).toBe(1)
    await expect(untilClusterFormed(async () => { throw noPeers() }, log, 600)).rejects.toThrow(/no suitable peers/)
  })
})
