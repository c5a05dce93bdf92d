// decodeMessage: a reject reply echoes the batchId only when the reply schema
// takes it, so the reply to a bad message is itself a valid ReplyMsg (found by
// test/property/mqtt-handlers.test.ts: a nil-like id passed a looser pattern).
import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { decodeMessage, ReplyMsg, SaleBatchMsg } from '../../shared/src/index.js'

const reject = (batchId: string) => {
  const d = decodeMessage(SaleBatchMsg, Buffer.from(JSON.stringify({ v: 1, type: 'sales', batchId })))
  if (d.ok) throw new Error('expected a reject')
  return { v: 1, type: 'reply', status: 'rejected', code: d.code, message: d.message, ...(d.batchId && { batchId: d.batchId }) }
}

describe('decodeMessage', () => {
  it('echoes a valid batchId in a reject, and leaves out one the reply schema would refuse', () => {
    const id = randomUUID()
    expect(reject(id)).toMatchObject({ batchId: id })
    const nilLike = reject('00000000-0000-0000-0000-000000000001')
    expect(nilLike).not.toHaveProperty('batchId')
    expect(ReplyMsg.safeParse(nilLike).success).toBe(true)
  })
})
