// A transport-level cap on MQTT packet size. Neither aedes nor mqtt-packet has
// one: the parser buffers whatever Remaining Length a fixed header declares (up
// to 256 MiB, MQTT-3.1.1 §2.2.3), so one client could make the broker hold a
// quarter gigabyte. This watches the fixed headers as aedes reads the socket
// and destroys the socket as soon as a header declares more than the cap,
// before the body is buffered. The cap may change over the connection's life:
// the connection guard gives a small one until login succeeds.
import type { Socket } from 'node:net'

/**
 * Watches `socket` (already handed to aedes) and calls `onTooLarge` then
 * destroys the socket when a packet's Remaining Length exceeds `maxBytes`, or
 * when the Remaining Length encoding is malformed (more than 4 bytes, §2.2.3).
 * A function `maxBytes` is asked afresh at each packet's fixed header.
 */
export function guardPacketSize(socket: Socket, maxBytes: number | (() => number), onTooLarge: (declaredBytes: number) => void): void {
  const capNow = typeof maxBytes === 'number' ? () => maxBytes : maxBytes
  // 0: next byte is a fixed header's first byte; 1: inside the Remaining
  // Length varint; 2: skipping `remaining` bytes of variable header + payload.
  let state = 0
  let length = 0
  let multiplier = 1
  let lengthBytes = 0
  let remaining = 0
  // aedes reads with socket.read() on 'readable'; a 'data' listener added after
  // that sees every chunk read() returns, without switching to flowing mode
  // ('readable' takes precedence, Node stream docs).
  const onData = (chunk: Buffer): void => {
    let i = 0
    while (i < chunk.length) {
      if (state === 2) {
        const take = Math.min(remaining, chunk.length - i)
        i += take
        remaining -= take
        if (remaining === 0) state = 0
        continue
      }
      if (state === 0) {
        i++
        state = 1
        length = 0
        multiplier = 1
        lengthBytes = 0
        continue
      }
      const b = chunk[i++]!
      length += (b & 0x7f) * multiplier
      multiplier *= 128
      lengthBytes++
      if (b & 0x80) {
        if (lengthBytes === 4) return cut(Number.POSITIVE_INFINITY)
        continue
      }
      if (length > capNow()) return cut(length)
      remaining = length
      state = remaining > 0 ? 2 : 0
    }
  }
  const cut = (declared: number): void => {
    socket.off('data', onData)
    onTooLarge(declared)
    socket.destroy()
  }
  socket.on('data', onData)
}
