// The transport-level packet cap on its own, fed chunk boundaries a real
// socket may produce.
import type { Socket } from 'node:net'
import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { guardPacketSize } from '../../fleet-server/src/broker/index.js'

function fakeSocket() {
  const s = new PassThrough() as unknown as Socket & PassThrough
  const cut: number[] = []
  guardPacketSize(s, 1000, (declared) => cut.push(declared))
  return { feed: (...bytes: number[][]) => bytes.forEach((b) => s.emit('data', Buffer.from(b))), cut, s }
}

describe('packet guard', () => {
  it('lets packets up to the cap through, across any chunking', () => {
    const { feed, cut, s } = fakeSocket()
    const body = Array.from({ length: 1000 }, () => 0x41)
    // 1000 = 0xE8 0x07 as a varint; split header, length and body over chunks.
    feed([0x30], [0xe8], [0x07, ...body.slice(0, 10)], body.slice(10), [0xc0, 0x00], [0x30, 0x00])
    expect(cut).toEqual([])
    expect(s.destroyed).toBe(false)
  })

  it('cuts at the header of a packet over the cap, even with its length split over chunks', () => {
    const { feed, cut, s } = fakeSocket()
    feed([0xc0, 0x00, 0x30, 0xe9], [0x07]) // PINGREQ, then PUBLISH declaring 1001 bytes
    expect(cut).toEqual([1001])
    expect(s.destroyed).toBe(true)
  })

  it('cuts a malformed remaining length (a fifth varint byte)', () => {
    const { feed, cut } = fakeSocket()
    feed([0x30, 0x80, 0x80, 0x80, 0x80, 0x01])
    expect(cut).toEqual([Number.POSITIVE_INFINITY])
  })
})

describe('packet guard with a cap that changes', () => {
  it('asks the cap afresh at each packet header (small before login, larger after)', () => {
    const s = new PassThrough() as unknown as Socket & PassThrough
    const cut: number[] = []
    let cap = 100
    guardPacketSize(s, () => cap, (declared) => cut.push(declared))
    s.emit('data', Buffer.from([0x10, 100, ...Array<number>(100).fill(0)])) // a 100-byte CONNECT: at the small cap
    cap = 1000
    s.emit('data', Buffer.from([0x30, 0xe8, 0x07, ...Array<number>(1000).fill(0)])) // 1000 bytes: fine after the change
    expect(cut).toEqual([])
    cap = 100
    s.emit('data', Buffer.from([0x30, 101]))
    expect(cut).toEqual([101])
    expect(s.destroyed).toBe(true)
  })
})
