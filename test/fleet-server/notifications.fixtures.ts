// A real webhook receiver for notification tests (an HTTP server on port 0)
// and the builders the notification tests share.
import { createHmac } from 'node:crypto'
import { createServer, type IncomingMessage } from 'node:http'
import { expect, onTestFinished } from 'vitest'
import type { Fleet } from '../../fleet-server/src/app.js'
import type { FleetDeps } from '../../fleet-server/src/app.js'
import { api } from '../helpers/fleet.js'
import type { Clock } from '../helpers/rollout.js'
import { sqlRow } from '../helpers/test-db.js'
import { fleetWith } from './certification.fixtures.js'

export interface Received {
  readonly path: string
  readonly query: URLSearchParams
  readonly body: Record<string, unknown>
}

export interface Receiver {
  /** e.g. http://127.0.0.1:41234 */
  readonly url: string
  readonly received: Received[]
  /** Requests to `path` (without the query). */
  at(path: string): Received[]
  /** Answers of `path`, in order, before it answers 200 (or `ok`) as usual: e.g. [500, 500]. */
  failFirst(path: string, statuses: number[]): void
  /** What `path` answers with 200 (企业微信/钉钉 answer {"errcode":0,"errmsg":"ok"}). */
  answer(path: string, body: unknown): void
}

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = []
  const failures = new Map<string, number[]>()
  const answers = new Map<string, unknown>()
  const read = async (req: IncomingMessage) => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    return Buffer.concat(chunks).toString('utf8')
  }
  const server = createServer((req, res) => {
    void read(req).then((text) => {
      const u = new URL(req.url ?? '/', 'http://x')
      const queue = failures.get(u.pathname)
      const status = queue?.shift()
      if (status !== undefined) {
        res.writeHead(status).end('failing on purpose')
        return
      }
      received.push({ path: u.pathname, query: u.searchParams, body: JSON.parse(text) as Record<string, unknown> })
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answers.get(u.pathname) ?? { errcode: 0, errmsg: 'ok' }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    at: (path) => received.filter((r) => r.path === path),
    failFirst: (path, statuses) => void failures.set(path, [...statuses]),
    answer: (path, body) => void answers.set(path, body),
  }
}

/** 钉钉's check of a signed URL: sign = base64(HMAC-SHA256(secret, timestamp + "\n" + secret)). */
export function dingtalkSignOk(query: URLSearchParams, secret: string): boolean {
  const timestamp = query.get('timestamp')
  const sign = query.get('sign')
  if (!timestamp || !sign) return false
  return createHmac('sha256', secret).update(`${timestamp}\n${secret}`).digest('base64') === sign
}

/** A fleet on `clock` whose delivery loop looks every 50 ms. */
export function notifyingFleet(clock: Clock, deps: FleetDeps = {}, env: Record<string, string> = {}): Promise<Fleet> {
  return fleetWith({ env, deps: { now: clock.now, ...deps, notifications: { tickMs: 50, ...deps.notifications } } })
}

export async function subscribe(fleet: Fleet, token: string, body: Record<string, unknown>): Promise<string> {
  const r = await api<{ subscription: { subscriptionId: string } }>(fleet, 'POST', '/api/v1/notifications/subscriptions', body, token)
  expect(r.status, JSON.stringify(r.body)).toBe(201)
  return r.body.subscription.subscriptionId
}

/** Waits until no outbox row is pending: what the receiver got by then is all it gets. */
export async function settled(fleet: Fleet): Promise<void> {
  await expect
    .poll(async () => Number((await sqlRow<{ n: number }>(fleet.database, "SELECT COUNT(*) AS n FROM notification_outbox WHERE state = 'pending'"))!.n), { timeout: 15_000, interval: 50 })
    .toBe(0)
}
