// Cabinets for a simulated fleet, over the fleet server's HTTP API only:
// spread over the plan's counties by quota, provisioned once and remembered in
// DATA/fleet.json (with their MQTT passwords), reused on the next run.
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { BUNDLED_PLANS, usccCheckChar, VENUE_TYPES, type VenueType } from '../../../shared/src/index.js'
import type { SimCabinet } from './ipc.js'
import { drawVenue, SIM_CATALOG } from './model.js'

export interface Http {
  call<T>(method: 'GET' | 'POST' | 'PATCH', path: string, body?: unknown): Promise<{ status: number; body: T }>
}

/**
 * The fleet server's API at `baseUrls`: one URL, or several comma-separated
 * (the replicas of a cluster). A request that cannot reach a replica (the
 * connection refused or cut, not an HTTP error) goes to the next one, which
 * is then kept for later requests.
 */
export function httpClient(baseUrls: string, token: string): Http {
  const bases = baseUrls.split(',').map((u) => u.trim()).filter((u) => u !== '')
  if (bases.length === 0) throw new Error('no fleet server URL')
  let current = 0
  return {
    async call(method, path, body) {
      let res: Response | undefined
      // Each request walks the list from the replica in use when it began:
      // many requests failing at once (a replica killed under 16 in flight)
      // must not turn the shared choice back and forth onto the dead one.
      const first = current
      for (let tried = 0; ; tried++) {
        const i = (first + tried) % bases.length
        try {
          res = await fetch(new URL(path, bases[i]), {
            method,
            headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
            ...(body !== undefined && { body: JSON.stringify(body) }),
          })
          current = i
          break
        } catch (err) {
          // fetch rejects only when no HTTP answer came: try the next replica, each once.
          if (tried + 1 >= bases.length) throw err
        }
      }
      const text = await res.text()
      let parsed: unknown = null
      try {
        parsed = text ? JSON.parse(text) : null
      } catch {
        parsed = { raw: text }
      }
      return { status: res.status, body: parsed as never }
    },
  }
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i]!, i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return out
}

/** N cabinets over the counties in proportion to their quotas (largest remainder). */
export function spreadByQuota(counties: ReadonlyArray<{ code: string; quota: number }>, n: number): string[] {
  const total = counties.reduce((s, c) => s + c.quota, 0) || 1
  const exact = counties.map((c) => (c.quota / total) * n)
  const counts = exact.map(Math.floor)
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0])
  for (let k = 0; counts.reduce((s, x) => s + x, 0) < n; k++) counts[order[k % order.length]![1]]!++
  return counties.flatMap((c, i) => Array.from({ length: counts[i]! }, () => c.code))
}

async function planCounties(http: Http): Promise<Array<{ code: string; quota: number }>> {
  const r = await http.call<{ counties?: Array<{ code: string; quota: number }> }>('GET', '/api/v1/rollout')
  if (r.status === 200 && Array.isArray(r.body.counties) && r.body.counties.length > 0) return r.body.counties
  // The rollout endpoint is not there (yet): the bundled plan has the same counties.
  return BUNDLED_PLANS['chuzhou-2020']!.counties
}

interface State {
  cabinets: SimCabinet[]
  /** Virtual end of the last run's trade (UTC ms). */
  tradedUntilMs?: number
}

const stateFile = (dataDir: string): string => join(dataDir, 'fleet.json')
const readState = (dataDir: string): State => (existsSync(stateFile(dataDir)) ? (JSON.parse(readFileSync(stateFile(dataDir), 'utf8')) as State) : { cabinets: [] })

export function recordTradedUntil(dataDir: string, ms: number): void {
  const state = readState(dataDir)
  state.tradedUntilMs = Math.max(state.tradedUntilMs ?? 0, ms)
  writeFileSync(stateFile(dataDir), `${JSON.stringify(state, null, 1)}\n`)
}

const isVenue = (v: unknown): v is VenueType => (VENUE_TYPES as readonly unknown[]).includes(v)

/**
 * Returns `n` cabinets with working credentials: those in DATA/fleet.json are
 * checked against the server (and re-provisioned under the same id when the
 * server does not know them); missing ones are provisioned.
 */
export async function provisionFleet(http: Http, dataDir: string, n: number, seed: string, onProgress: (done: number) => void): Promise<{ cabinets: SimCabinet[]; created: number; reused: number; tradedUntilMs: number | null }> {
  mkdirSync(dataDir, { recursive: true })
  const file = stateFile(dataDir)
  const state = readState(dataDir)
  const counties = await planCounties(http)
  const spread = spreadByQuota(counties, n)
  let created = 0
  let reused = 0
  let done = 0
  const save = (): void => writeFileSync(file, `${JSON.stringify(state, null, 1)}\n`)

  const result = await pool(spread, 16, async (countyCode, i) => {
    const known = state.cabinets[i]
    let cab: SimCabinet
    if (known) {
      const r = await http.call('GET', `/api/v1/cabinets/${known.cabinetId}`)
      if (r.status === 200) {
        reused++
        cab = known
      } else {
        cab = await create(http, known.cabinetId, known.countyCode, known.venueType, i)
        created++
      }
    } else {
      const venueType = drawVenue(seed, i)
      cab = await create(http, `SIM-${countyCode}-${String(i + 1).padStart(5, '0')}`, countyCode, venueType, i)
      created++
    }
    state.cabinets[i] = cab
    if (++done % 100 === 0) onProgress(done)
    return cab
  })
  save()
  return { cabinets: result, created, reused, tradedUntilMs: state.tradedUntilMs ?? null }
}

async function create(http: Http, wantedId: string, countyCode: string, venueType: VenueType, index: number): Promise<SimCabinet> {
  if (!isVenue(venueType)) throw new Error(`bad venue ${String(venueType)}`)
  for (let attempt = 0; attempt < 20; attempt++) {
    const cabinetId = attempt === 0 ? wantedId : `${wantedId}-${attempt}`
    const r = await http.call<{ cabinetId: string; mqtt: { password: string }; error?: { code: string; message: string } }>('POST', '/api/v1/cabinets', {
      cabinetId, countyCode, venueType, siteName: `模拟${venueType}专柜 ${index + 1}`, operator: 'sim-operator',
    })
    if (r.status === 201) {
      // An operating cabinet is what a rollout rehearsal is about: step it through
      // the lifecycle (a refused step is left as it is; sales flow regardless).
      for (const status of ['site_assigned', 'installed', 'operating']) {
        if ((await http.call('PATCH', `/api/v1/cabinets/${cabinetId}`, { status })).status !== 200) break
      }
      return { cabinetId, password: r.body.mqtt.password, countyCode, venueType }
    }
    if (r.status !== 409) throw new Error(`provisioning ${cabinetId} failed: ${r.status} ${JSON.stringify(r.body)}`)
    // Taken: take it over only when it has no sales (a fresh ledger would clash with its chain).
    const g = await http.call<{ sales?: { count: number } }>('GET', `/api/v1/cabinets/${cabinetId}`)
    if (g.status === 200 && (g.body.sales?.count ?? 0) === 0) {
      const rot = await http.call<{ mqtt?: { password: string }; password?: string }>('POST', `/api/v1/cabinets/${cabinetId}/credentials`)
      const password = rot.body.mqtt?.password ?? rot.body.password
      if (rot.status === 200 && password) return { cabinetId, password, countyCode, venueType }
    }
  }
  throw new Error(`could not provision a cabinet near ${wantedId}`)
}

/**
 * Registers the simulator's catalog on the server (one supplier, its products,
 * a certificate per certified product and year of trade, the longest a
 * certificate may run), so compliance has
 * something to judge. Idempotent (409s are fine). Returns false when the
 * server has no catalog API yet.
 */
export async function registerCatalog(http: Http, years: readonly number[]): Promise<{ isRegistered: boolean; products: number; certificates: number }> {
  const first17 = '91341100MA2XM0001'
  const uscc = `${first17}${usccCheckChar(first17)}`
  const sup = await http.call('POST', '/api/v1/suppliers', { uscc, name: '滁州扶贫产品模拟供应商' })
  if (sup.status === 404) return { isRegistered: false, products: 0, certificates: 0 }
  if (sup.status !== 201 && sup.status !== 409) throw new Error(`registering the supplier failed: ${sup.status} ${JSON.stringify(sup.body)}`)
  let products = 0
  let certificates = 0
  for (const item of SIM_CATALOG) {
    const p = await http.call('POST', '/api/v1/products', { sku: item.sku, name: item.name, supplierUscc: uscc, priceFen: item.priceFen })
    if (p.status === 201) products++
    else if (p.status !== 409) throw new Error(`registering product ${item.sku} failed: ${p.status} ${JSON.stringify(p.body)}`)
    if (!item.isCertified) continue
    for (const year of years) {
      const c = await http.call('POST', '/api/v1/certificates', { sku: item.sku, certificateNo: `SIM-${item.sku}-${year}`, validFrom: `${year}-01-01`, validTo: `${year}-12-31` })
      if (c.status === 201) certificates++
      else if (c.status !== 409) throw new Error(`registering certificate for ${item.sku} failed: ${c.status} ${JSON.stringify(c.body)}`)
    }
  }
  return { isRegistered: true, products, certificates }
}
