// Builders shared by the catalog, compliance and forwarding tests: valid
// 统一社会信用代码, a fleet on a settable clock, catalog set-up over HTTP, and
// cabinets that send dated sales over real MQTT.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { expect, onTestFinished } from 'vitest'
import { buildFleet, type Fleet, type FleetDeps } from '../../fleet-server/src/app.js'
import { encodeMessage, topics, usccCheckChar, type HeartbeatMsg, type Sale, type SaleLine } from '../../shared/src/index.js'
import { api, connectCabinet, provision, testFleetConfig, type TestCabinet } from '../helpers/fleet.js'
import { aBatch, aChain } from '../helpers/sales.js'

/** A valid 统一社会信用代码 for organisation number n (check character computed). */
export function aUscc(n: number, division = '341125'): string {
  const first17 = `93${division}${String(n).padStart(8, '0')}X`
  return first17 + usccCheckChar(first17)!
}

/** A settable clock: `clock.set('2020-10-05T02:00:00Z')`. */
export function aClock(iso: string) {
  let t = new Date(iso)
  return { now: () => t, set: (s: string) => void (t = new Date(s)) }
}

export interface FleetOpts {
  dataDir?: string
  env?: Record<string, string>
  deps?: FleetDeps
  manualClose?: boolean
}

/** A fleet with forwarding passes only on demand (tests call POST /forwarding/run). */
export async function fleetWith(opts: FleetOpts = {}): Promise<Fleet> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'fleet-cert-')))
  if (!opts.dataDir) onTestFinished(() => rm(dataDir, { recursive: true, force: true }))
  const config = await testFleetConfig(dataDir, opts.env)
  const fleet = await buildFleet(config, {
    logger: pino({ level: 'silent' }),
    ...opts.deps,
    forwarding: { intervalMs: 0, debounceMs: 0, baseBackoffMs: 20, maxBackoffMs: 200, timeoutMs: 2000, ...opts.deps?.forwarding },
  })
  if (!opts.manualClose) onTestFinished(() => fleet.close())
  return fleet
}

export async function ok<T = Record<string, unknown>>(fleet: Fleet, method: 'GET' | 'POST' | 'PATCH', url: string, body?: unknown, status = method === 'POST' && !url.includes('/revoke') && !url.includes('/blacklist') && !url.includes('/run') ? 201 : 200): Promise<T> {
  const r = await api<T>(fleet, method, url, body)
  expect(r.status, `${method} ${url}: ${JSON.stringify(r.body)}`).toBe(status)
  return r.body
}

/** One supplier and products; `certs` maps sku → [validFrom, validTo?]. */
export async function aCatalog(fleet: Fleet, skus: Record<string, { priceFen?: number; cert?: [string, string?]; supplier?: number }>): Promise<void> {
  const suppliers = new Set(Object.values(skus).map((s) => s.supplier ?? 1))
  for (const n of suppliers) await ok(fleet, 'POST', '/api/v1/suppliers', { uscc: aUscc(n), name: `合作社${n}` })
  for (const [sku, s] of Object.entries(skus)) {
    await ok(fleet, 'POST', '/api/v1/products', { sku, name: `商品${sku}`, supplierUscc: aUscc(s.supplier ?? 1), priceFen: s.priceFen ?? 1000 })
    if (s.cert) {
      await ok(fleet, 'POST', '/api/v1/certificates', { sku, certificateNo: `CERT-${sku}`, validFrom: s.cert[0], ...(s.cert[1] && { validTo: s.cert[1] }) })
    }
  }
}

/** A provisioned cabinet on real MQTT that sends sales on given Shanghai dates and heartbeats. */
export interface DatedCabinet {
  readonly cabinetId: string
  readonly mqtt: TestCabinet
  readonly sales: Sale[]
  /** One sale at 12:00 Asia/Shanghai on `day` with these lines; committed before it returns. */
  sell(day: string, lines: SaleLine[]): Promise<Sale>
  /** A heartbeat sent at `sentAt` claiming lastSeq (default: every sale sent so far). */
  heartbeat(sentAt: string, lastSeq?: number): Promise<void>
}

let heartbeats = 0

export async function aDatedCabinet(fleet: Fleet, body: Record<string, unknown> = { countyCode: '341125' }): Promise<DatedCabinet> {
  const cab = await provision(fleet, body)
  const mqtt = await connectCabinet(fleet.mqttUrl, cab)
  const sales: Sale[] = []
  return {
    cabinetId: cab.cabinetId,
    mqtt,
    sales,
    async sell(day, lines) {
      const [s] = aChain(cab.cabinetId, 1, { after: sales, soldAt: () => `${day}T04:00:00.000Z`, lines: () => lines })
      const reply = await mqtt.send(aBatch(cab.cabinetId, [s!]))
      expect(reply.status, JSON.stringify(reply)).toBe('committed')
      sales.push(s!)
      return s!
    },
    async heartbeat(sentAt, lastSeq = sales.length) {
      const hb: HeartbeatMsg = {
        v: 1, type: 'heartbeat', cabinetId: cab.cabinetId, sentAt, lastSeq, lastAckedSeq: Math.min(lastSeq, sales.length),
        pending: Math.max(0, lastSeq - sales.length), oldestPendingAgeS: 0, catalogVersion: null, uptimeS: 1, agentVersion: `test-${++heartbeats}`,
      }
      await mqtt.client.publishAsync(topics.heartbeat(cab.cabinetId), encodeMessage(hb), { qos: 1 })
      // Heartbeats are fire-and-forget; wait until the server has taken this one.
      await expect
        .poll(async () => (await api<{ outbox: { agentVersion: string } | null }>(fleet, 'GET', `/api/v1/cabinets/${cab.cabinetId}`)).body.outbox?.agentVersion)
        .toBe(hb.agentVersion)
    },
  }
}

export const line = (sku: string, amountFen: number, qty = 1): SaleLine => ({ sku, qty, unitPriceFen: amountFen / qty })
