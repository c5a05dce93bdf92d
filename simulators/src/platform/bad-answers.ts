// Bad answers the platform stand-in can give on purpose (--bad-answers), so
// forwarding is tested against a platform that misbehaves, not only one that
// is down. Some modes store the batch first and then answer badly (the
// platform took it but the receipt was lost or garbled: the resend must be a
// 409 DUPLICATE, never a second copy); the others never store it.
import type { ServerResponse } from 'node:http'

export const BAD_ANSWER_MODES = [
  'malformed', // 200, a body that is not JSON                       (stored)
  'wrong-key', // 2xx acknowledging another idempotency key          (stored)
  'wrong-count', // 2xx acknowledging the key with the wrong records  (stored)
  'empty', // 204, no body                                           (stored)
  'redirect', // 302 to /redirect-target, which would answer 200     (not stored)
  'huge', // 200, a 50 MiB body that would acknowledge the batch     (stored)
  'slow-headers', // headers after SLOW_MS (then a good receipt)     (not stored)
  'slow-body', // 200 headers at once, the body trickled forever     (stored)
  'hang', // never answers                                           (not stored)
  'conflict-other', // 409 with a code other than DUPLICATE          (not stored)
] as const
export type BadAnswerMode = (typeof BAD_ANSWER_MODES)[number]

/** Modes in which the batch is stored before the bad answer (a lost or garbled receipt). */
export const STORING_MODES: ReadonlySet<BadAnswerMode> = new Set(['malformed', 'wrong-key', 'wrong-count', 'empty', 'huge', 'slow-body'])

export const HUGE_BYTES = 50 * 1024 * 1024 // 50 MiB: far past any sane receipt
/** "Longer than any sane timeout": 10 min. */
export const SLOW_MS = 10 * 60_000
/** slow-body: one byte per this many ms. */
const TRICKLE_MS = 500

export interface Ack {
  readonly accepted: string
  readonly records: number
}

/**
 * Writes the bad answer on the raw response (the route has hijacked it).
 * Timers stop when the client goes away, so a closing test leaves nothing behind.
 */
export function answerBadly(mode: BadAnswerMode, res: ServerResponse, ack: Ack, redirectTo: string): void {
  const json = (status: number, body: unknown) => {
    const text = JSON.stringify(body)
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) })
    res.end(text)
  }
  const onGone = (stop: () => void) => res.once('close', stop)
  switch (mode) {
    case 'malformed':
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('<html><body>OK</body></html>')
      return
    case 'wrong-key':
      return json(202, { accepted: `${ack.accepted}-other`, records: ack.records })
    case 'wrong-count':
      return json(202, { accepted: ack.accepted, records: ack.records + 1 })
    case 'empty':
      res.writeHead(204)
      res.end()
      return
    case 'redirect':
      res.writeHead(302, { location: redirectTo, 'content-length': 0 })
      res.end()
      return
    case 'conflict-other':
      return json(409, { error: { code: 'CONFLICT', message: 'a conflicting batch is being processed (injected)' } })
    case 'huge': {
      // A valid receipt padded to 50 MiB, streamed with backpressure and no
      // content-length (chunked): a reader without a size cap would take it.
      const head = `{"accepted":${JSON.stringify(ack.accepted)},"records":${ack.records},"pad":"`
      const tail = '"}'
      res.writeHead(200, { 'content-type': 'application/json' })
      const chunk = Buffer.alloc(64 * 1024, 'x')
      let left = HUGE_BYTES - head.length - tail.length
      res.write(head)
      const pump = () => {
        while (left > 0 && !res.destroyed) {
          const n = Math.min(left, chunk.length)
          left -= n
          if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void res.once('drain', pump)
        }
        if (!res.destroyed) res.end(tail)
      }
      pump()
      return
    }
    case 'slow-headers': {
      const t = setTimeout(() => json(202, ack), SLOW_MS)
      onGone(() => clearTimeout(t))
      return
    }
    case 'slow-body': {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write(`{"accepted":${JSON.stringify(ack.accepted)},"records":${ack.records}`)
      // JSON whitespace, a byte at a time: never complete.
      const t = setInterval(() => res.write(' '), TRICKLE_MS)
      onGone(() => clearInterval(t))
      return
    }
    case 'hang':
      return
  }
}
