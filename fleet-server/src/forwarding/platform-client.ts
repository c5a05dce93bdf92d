// One bounded POST to the national platform: node:http(s) with explicit
// timers for each phase (connect incl. TLS, headers, body), the answer capped
// in bytes, redirects never followed (a 3xx is returned as it is). A system we
// do not control must not be able to hold a sender, or our memory, for long.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import type { Socket } from 'node:net'

export interface AnswerLimits {
  /** TCP connect plus TLS handshake, ms. */
  readonly connectTimeoutMs: number
  /** From the request written to the status line and headers, ms. */
  readonly headersTimeoutMs: number
  /** From the headers to the answer's last byte, ms. */
  readonly bodyTimeoutMs: number
  /** The whole exchange, ms: a last bound over the three phases. */
  readonly timeoutMs: number
  /** Answer bytes read at most; past it the connection is dropped. */
  readonly maxAnswerBytes: number
}

export interface PlatformAnswer {
  readonly status: number
  readonly headers: IncomingMessage['headers']
  readonly body: string
}

/** Which bound an attempt ran into; part of the message shown in GET /forwarding. */
export class AnswerBoundError extends Error {
  constructor(readonly bound: 'connect' | 'headers' | 'body' | 'total' | 'size', message: string) {
    super(message)
    this.name = 'AnswerBoundError'
  }
}

export interface PlatformClient {
  post(body: string, headers: Record<string, string>, signal: AbortSignal): Promise<PlatformAnswer>
  close(): void
}

export function createPlatformClient(url: string, limits: AnswerLimits): PlatformClient {
  const target = new URL(url)
  const isHttps = target.protocol === 'https:'
  // Keep-alive: a steady queue reuses connections (a reused socket skips the connect phase).
  const agent = isHttps ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true })
  const send = isHttps ? httpsRequest : httpRequest

  function post(body: string, headers: Record<string, string>, signal: AbortSignal): Promise<PlatformAnswer> {
    return new Promise<PlatformAnswer>((resolve, reject) => {
      const timers = new Set<NodeJS.Timeout>()
      let settled = false
      const finish = (err: Error | null, answer?: PlatformAnswer) => {
        if (settled) return
        settled = true
        for (const t of timers) clearTimeout(t)
        signal.removeEventListener('abort', onAbort)
        if (err) {
          req.destroy(err)
          reject(err)
        } else resolve(answer!)
      }
      const bound = (ms: number, kind: AnswerBoundError['bound'], what: string) => {
        const t = setTimeout(() => finish(new AnswerBoundError(kind, `${what} within ${ms} ms`)), ms)
        timers.add(t)
        return t
      }
      const onAbort = () => finish(signal.reason instanceof Error ? signal.reason : new Error('request aborted'))

      const req = send(target, {
        method: 'POST',
        agent,
        headers: { ...headers, 'content-length': Buffer.byteLength(body) },
      })
      bound(limits.timeoutMs, 'total', 'no complete answer')
      let headersTimer: NodeJS.Timeout | undefined
      req.on('error', (err) => finish(err))
      req.on('socket', (socket: Socket) => {
        const connected = () => {
          clearTimeout(connecting)
          headersTimer = bound(limits.headersTimeoutMs, 'headers', 'no answer headers')
        }
        const connecting = bound(limits.connectTimeoutMs, 'connect', 'no connection')
        const ready = isHttps ? 'secureConnect' : 'connect'
        // A reused keep-alive socket is connected (and its TLS established) already.
        if (socket.connecting) socket.once(ready, connected)
        else connected()
      })
      req.on('response', (res) => {
        clearTimeout(headersTimer)
        bound(limits.bodyTimeoutMs, 'body', 'answer body not complete')
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (c: Buffer) => {
          size += c.length
          if (size > limits.maxAnswerBytes) {
            finish(new AnswerBoundError('size', `answer exceeds ${limits.maxAnswerBytes} bytes`))
            return
          }
          chunks.push(c)
        })
        res.on('end', () => finish(null, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }))
        res.on('error', (err) => finish(err))
        res.on('close', () => {
          if (!res.complete) finish(new Error('answer cut off'))
        })
      })
      if (signal.aborted) return onAbort()
      signal.addEventListener('abort', onAbort)
      req.end(body)
    })
  }

  return { post, close: () => agent.destroy() }
}
