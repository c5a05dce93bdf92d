// The cabinet's local HTTP API on 127.0.0.1, on bare node:http to keep a
// simulator's thousands of agents small. Never crashes on bad input: every
// failure becomes {"error":{"code","message"}} with a status.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Logger } from 'pino'
import { z } from 'zod'
import { AppError, isAppError, RestockBody, type AgentStatus, type CatalogItem, type ErrorCode } from '../../../shared/src/edge.js'

/** Largest POST /sales body: 100 lines of about 60 bytes fit ten times over. */
export const MAX_BODY_BYTES = 64 * 1024

export interface ApiDeps {
  /** Validates and records; throws AppError (VALIDATION_FAILED, LEDGER_WRITE_FAILED). */
  sell(input: unknown): { saleId: string; seq: number; created: boolean }
  status(): AgentStatus
  catalog(): { version: number | null; items: CatalogItem[] }
  /** Remote-command state (issue 16): sales locked, price overrides, planogram. */
  commandState(): unknown
  /** Stock by slot (issue 16 §3): GET /stock, POST /restock (throws AppError VALIDATION_FAILED). */
  stock?: { slots(): unknown; restock(body: RestockBody): { restockId: string; created: boolean; added: Record<string, number> } }
  /** The controller's readings (issue 16 §4); throws AppError VALIDATION_FAILED. */
  telemetry(input: unknown): { published: boolean }
  log: Logger
}

export interface Api {
  readonly port: number
  close(): Promise<void>
}

export async function startApi(port: number, deps: ApiDeps): Promise<Api> {
  const server = createServer((req, res) => handle(req, res, deps))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  server.on('error', (err) => deps.log.error({ err }, 'local api server error'))
  const actualPort = (server.address() as AddressInfo).port
  deps.log.info({ port: actualPort }, 'local api listening')
  return { port: actualPort, close: () => closeServer(server) }
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve())
    // Keep-alive sockets would hold close() open; a cabinet's controller reconnects.
    server.closeAllConnections()
  })
}

function handle(req: IncomingMessage, res: ServerResponse, deps: ApiDeps): void {
  try {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/'
    if (req.method === 'POST' && path === '/sales') return postJson(req, res, deps, (json) => {
      const r = deps.sell(json)
      return [r.created ? 201 : 200, { saleId: r.saleId, seq: r.seq }]
    }, 'internal error; the sale may not have been recorded')
    if (req.method === 'POST' && path === '/telemetry') {
      return postJson(req, res, deps, (json) => [202, deps.telemetry(json)], 'internal error; the reading was not taken', '请求内容不符合要求：不是有效的 JSON')
    }
    if (req.method === 'POST' && path === '/restock' && deps.stock) {
      const stock = deps.stock
      return postJson(req, res, deps, (json) => {
        const parsed = RestockBody.safeParse(json)
        if (!parsed.success) throw new AppError('VALIDATION_FAILED', z.prettifyError(parsed.error), 400)
        const r = stock.restock(parsed.data)
        return [r.created ? 201 : 200, r]
      }, 'internal error; the restock may not have been recorded')
    }
    req.resume() // no other route reads a body; drain it so the socket stays usable
    if (req.method === 'GET' && path === '/status') return send(res, 200, deps.status())
    if (req.method === 'GET' && path === '/healthz') return send(res, 200, { status: 'ok' })
    if (req.method === 'GET' && path === '/catalog') return send(res, 200, deps.catalog())
    if (req.method === 'GET' && path === '/commands/state') return send(res, 200, deps.commandState())
    if (req.method === 'GET' && path === '/stock' && deps.stock) return send(res, 200, deps.stock.slots())
    sendError(res, 404, 'NOT_FOUND', `no route ${String(req.method)} ${path.slice(0, 200)}; try POST /sales, POST /telemetry, GET /status, GET /catalog, GET /stock, POST /restock, GET /commands/state or GET /healthz`)
  } catch (err) {
    deps.log.error({ err }, 'local api request failed')
    if (!res.headersSent) sendError(res, 500, 'INTERNAL', 'internal error')
  }
}

/** Reads a JSON body (at most MAX_BODY_BYTES) and answers with what `take` returns, or its AppError. */
function postJson(req: IncomingMessage, res: ServerResponse, deps: ApiDeps, take: (json: unknown) => [number, unknown], internal: string, badJsonZh?: string): void {
  const declared = Number(req.headers['content-length'])
  if (declared > MAX_BODY_BYTES) return tooLarge(req, res)
  const chunks: Buffer[] = []
  let size = 0
  let isDone = false
  req.on('data', (chunk: Buffer) => {
    if (isDone) return
    size += chunk.length
    if (size > MAX_BODY_BYTES) {
      isDone = true
      tooLarge(req, res)
      return
    }
    chunks.push(chunk)
  })
  req.on('error', () => {
    isDone = true // client went away; nothing to answer
  })
  req.on('end', () => {
    if (isDone) return
    isDone = true
    let json: unknown
    try {
      json = JSON.parse(Buffer.concat(chunks, size).toString('utf8'))
    } catch (err) {
      return sendError(res, 400, 'VALIDATION_FAILED', badJsonZh ?? `body is not valid JSON: ${(err as Error).message}`)
    }
    try {
      const [status, body] = take(json)
      send(res, status, body)
    } catch (err) {
      // Chinese specifics, when the error has them, for the controller's screen (a locked cabinet).
      if (isAppError(err)) return sendError(res, err.statusCode, err.code, err.zh ? err.messageZh : err.message)
      deps.log.error({ err, path: req.url }, 'local api request failed')
      sendError(res, 500, 'INTERNAL', internal)
    }
  })
}

function tooLarge(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('connection', 'close')
  sendError(res, 413, 'PAYLOAD_TOO_LARGE', `body exceeds ${MAX_BODY_BYTES} bytes`)
  req.resume() // discard the rest; the connection closes after the answer
}

function sendError(res: ServerResponse, status: number, code: ErrorCode, message: string): void {
  send(res, status, { error: { code, message } })
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) })
  res.end(json)
}
