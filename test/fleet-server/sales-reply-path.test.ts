// The committed reply's hot path: a template instead of JSON.stringify, and
// the embedded broker's direct write of a connection's replies in one buffer.
// Both must put on the wire exactly the bytes the general path would.
import { connect as tcpConnect, type Socket } from 'node:net'
import fc from 'fast-check'
import mqttPacket from 'mqtt-packet'
import { describe, expect, it, onTestFinished } from 'vitest'
import { encodeMessage, topics } from '../../shared/src/index.js'
import { committedReply } from '../../fleet-server/src/sales/ingest.js'
import { provision, startFleet } from '../helpers/fleet.js'
import { aBatch, aChain } from '../helpers/sales.js'

describe('committed reply template', () => {
  it('gives the bytes encodeMessage gives', () => {
    const hex = fc.stringMatching(/^[0-9a-f]{64}$/)
    fc.assert(
      fc.property(fc.uuid(), fc.nat(), hex, (batchId, ackedSeq, ackedHash) => {
        const expected = encodeMessage({ v: 1, type: 'reply', status: 'committed', batchId, ackedSeq, ackedHash })
        expect(committedReply(batchId, ackedSeq, ackedHash).equals(expected)).toBe(true)
      }),
    )
  })
})

describe('direct reply delivery', () => {
  it("writes replies as mqtt-packet's own QoS 0 PUBLISH bytes, in order", async () => {
    const fleet = await startFleet()
    const cab = await provision(fleet)
    const url = new URL(fleet.mqttUrl)
    const sock = await new Promise<Socket>((resolve, reject) => {
      const s = tcpConnect(Number(url.port), url.hostname, () => resolve(s))
      s.once('error', reject)
      onTestFinished(() => void s.destroy())
    })
    const raw: Buffer[] = []
    const packets: mqttPacket.Packet[] = []
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    parser.on('packet', (p) => packets.push(p))
    sock.on('data', (d: Buffer) => {
      raw.push(d)
      parser.parse(d)
    })
    const send = (p: mqttPacket.Packet) => sock.write(mqttPacket.generate(p))
    send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: cab.cabinetId, keepalive: 60, username: cab.mqtt.username, password: Buffer.from(cab.mqtt.password) })
    send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: topics.replies(cab.cabinetId), qos: 1 }] })
    await expect.poll(() => packets.some((p) => p.cmd === 'suback')).toBe(true)

    // Twenty one-sale batches at once: ticks answer several per connection.
    const batches = aChain(cab.cabinetId, 20).map((s) => aBatch(cab.cabinetId, [s]))
    sock.write(Buffer.concat(batches.map((b, i) => mqttPacket.generate({ cmd: 'publish', topic: topics.sales(cab.cabinetId), payload: Buffer.from(JSON.stringify(b)), qos: 1, messageId: 10 + i, retain: false, dup: false }))))
    const replies = () => packets.filter((p): p is mqttPacket.IPublishPacket => p.cmd === 'publish')
    await expect.poll(() => replies().length).toBe(20)

    expect(replies().map((p) => (JSON.parse(p.payload.toString()) as { batchId: string }).batchId)).toEqual(batches.map((b) => b.batchId))
    for (const p of replies()) expect([p.topic, p.qos, p.retain, p.dup]).toEqual([topics.replies(cab.cabinetId), 0, false, false])
    // Every byte received is what mqtt-packet generates for the packets parsed from them.
    expect(Buffer.concat(raw).equals(Buffer.concat(packets.map((p) => mqttPacket.generate(p))))).toBe(true)
  })
})
