// Cabinets for a simulated fleet, over the fleet server's HTTP API only:
// spread over the plan's counties by quota, provisioned once and remembered in
// DATA/fleet.json (with their MQTT passwords), reused on the next run. With
// enrollment, a new cabinet is deployed as a real one is (issue 16 §1): put at
// a site for its operator, a bootstrap code asked for by the operator, and the
// code traded by the edge agent's own enroll() for credentials and a key
// written into the cabinet's ledger directory.
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { enroll, EnrollError, SIGNING_KEY_FILE } from '../../../edge-agent/src/index.js'
import { BUNDLED_PLANS, usccCheckChar, VENUE_TYPES, type VenueType } from '../../../shared/src/index.js'
import type { SimCabinet } from './ipc.js'
import { drawVenue, SIM_CATALOG } from './model.js'

export interface Http {
  call<T>(method: 'GET' | 'POST' | 'PATCH' | 'PUT', path: string, body?: unknown): Promise<{ status: number; body: T }>
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

/** A cabinet's agent directory: ledger, and when enrolled credentials.json and signing-key.pem. */
export const agentDir = (dataDir: string, cabinetId: string): string => join(dataDir, 'ledgers', cabinetId)

/** The operator company of the cabinets the simulator creates. */
export const DEFAULT_OPERATOR = '仿真运营公司'

interface State {
  cabinets: SimCabinet[]
  /** Operator users the simulator created (--operator), by operator name: their tokens are shown only once. */
  operatorUsers?: Record<string, { username: string; token: string }>
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

export interface ProvisionOptions {
  /** Operator company of new cabinets. */
  operator: string
  /**
   * Deploy new cabinets by bootstrap code: `codes` asks for them (the
   * operator's login, or the admin's), the agents trade them at `httpUrls`.
   */
  enroll: { codes: Http; httpUrls: string } | null
}

export interface Provisioned {
  cabinets: SimCabinet[]
  created: number
  reused: number
  /** Cabinets enrolled by bootstrap code in this provisioning (new ones, and known ones not enrolled before). */
  enrolled: string[]
  tradedUntilMs: number | null
}

/**
 * Returns `n` cabinets with working credentials: those in DATA/fleet.json are
 * checked against the server (and re-provisioned under the same id when the
 * server does not know them); missing ones are provisioned.
 */
export async function provisionFleet(http: Http, dataDir: string, n: number, seed: string, onProgress: (done: number) => void, o: ProvisionOptions = { operator: DEFAULT_OPERATOR, enroll: null }): Promise<Provisioned> {
  mkdirSync(dataDir, { recursive: true })
  const file = stateFile(dataDir)
  const state = readState(dataDir)
  const counties = await planCounties(http)
  const spread = spreadByQuota(counties, n)
  let created = 0
  let reused = 0
  let done = 0
  const enrolled: string[] = []
  const save = (): void => writeFileSync(file, `${JSON.stringify(state, null, 1)}\n`)
  const isEnrolling = o.enroll !== null

  const result = await pool(spread, 16, async (countyCode, i) => {
    const known = state.cabinets[i]
    let cab: SimCabinet
    if (known) {
      const r = await http.call('GET', `/api/v1/cabinets/${known.cabinetId}`)
      if (r.status === 200) {
        reused++
        cab = known
      } else {
        cab = await create(http, known.cabinetId, known.countyCode, known.venueType, i, o.operator, isEnrolling)
        created++
      }
    } else {
      const venueType = drawVenue(seed, i)
      cab = await create(http, `SIM-${countyCode}-${String(i + 1).padStart(5, '0')}`, countyCode, venueType, i, o.operator, isEnrolling)
      created++
    }
    // A rerun reuses an enrollment: its key and credentials stay in the ledger directory.
    if (o.enroll && !(cab.enrolled && existsSync(cab.enrolled.keyPath))) {
      cab = await enrollCabinet(o.enroll, cab, agentDir(dataDir, cab.cabinetId))
      enrolled.push(cab.cabinetId)
    }
    state.cabinets[i] = cab
    if (++done % 100 === 0) onProgress(done)
    return cab
  })
  save()
  return { cabinets: result, created, reused, enrolled, tradedUntilMs: state.tradedUntilMs ?? null }
}

/**
 * The operator's own login for `operator` (a user of role operator, created
 * once and remembered in fleet.json): codes, confirmations and commands then
 * go out as the operator sends them. Null when the user exists but its token
 * is not in fleet.json (it is shown only once): the admin's login stands in.
 */
export async function operatorLogin(http: Http, dataDir: string, operator: string): Promise<{ username: string; token: string } | null> {
  mkdirSync(dataDir, { recursive: true })
  const state = readState(dataDir)
  const known = state.operatorUsers?.[operator]
  if (known) return known
  const username = `sim-op-${createHash('sha256').update(operator).digest('hex').slice(0, 12)}`
  const r = await http.call<{ token?: string }>('POST', '/api/v1/users', { username, role: 'operator', operator })
  if (r.status === 409) return null
  if (r.status !== 201 || typeof r.body.token !== 'string') throw new Error(`creating the operator user ${username} failed: ${r.status} ${JSON.stringify(r.body)}`)
  const login = { username, token: r.body.token }
  state.operatorUsers = { ...state.operatorUsers, [operator]: login }
  writeFileSync(stateFile(dataDir), `${JSON.stringify(state, null, 1)}\n`)
  return login
}

/**
 * Deploys `cab` by bootstrap code: the operator asks for a code, and the
 * cabinet's agent trades it (the edge agent's enroll(), in this process) for
 * its credentials and registers a fresh Ed25519 key, both written into `dir`.
 * The next contact from the agent moves the cabinet to installed.
 */
async function enrollCabinet(o: NonNullable<ProvisionOptions['enroll']>, cab: SimCabinet, dir: string): Promise<SimCabinet> {
  const c = await o.codes.call<{ code?: string }>('POST', `/api/v1/cabinets/${cab.cabinetId}/bootstrap-code`)
  if (c.status !== 201 || typeof c.body.code !== 'string') throw new Error(`bootstrap code for ${cab.cabinetId} failed: ${c.status} ${JSON.stringify(c.body)}`)
  const bases = o.httpUrls.split(',').map((u) => u.trim()).filter(Boolean)
  let i = 0
  for (let limited = 0; ;) {
    try {
      const creds = await enroll({ code: c.body.code, httpUrl: bases[i]!, dataDir: dir })
      // The code is spent (kept as an installer writes it on the install sheet: it opens nothing now).
      return { ...cab, password: creds.password, enrolled: { keyPath: join(dir, SIGNING_KEY_FILE), code: c.body.code, at: creds.enrolledAt } }
    } catch (err) {
      // The server's per-address limit on calls without credentials (every board here shares
      // one address): refused before the code was looked at, so it is still unused. Wait as told.
      if (err instanceof EnrollError && err.code === 'RATE_LIMITED' && ++limited <= RATE_LIMITED_TRIES) {
        const retryAfterS = Number(/(\d+) 秒后再试/.exec(err.messageZh)?.[1] ?? 5)
        await new Promise((r) => setTimeout(r, Math.min(60, Math.max(1, retryAfterS)) * 1000))
        continue
      }
      // A replica that does not answer: the code is still unused, try the next one.
      const isUnreachable = err instanceof EnrollError && err.code === null && err.message.startsWith('cannot reach')
      if (!isUnreachable || ++i >= bases.length) throw new Error(`enrolling ${cab.cabinetId} failed: ${err instanceof EnrollError ? `${err.message} (${err.messageZh})` : String(err)}`)
    }
  }
}

/** Rate-limit waits one enrollment may sit out (a minute's window each at most). */
const RATE_LIMITED_TRIES = 20

async function create(http: Http, wantedId: string, countyCode: string, venueType: VenueType, index: number, operator: string, isEnrolling: boolean): Promise<SimCabinet> {
  if (!isVenue(venueType)) throw new Error(`bad venue ${String(venueType)}`)
  // Enrolled cabinets stop at the site: their first contact installs them, the operator confirms them operating.
  const steps = isEnrolling ? ['site_assigned'] : ['site_assigned', 'installed', 'operating']
  for (let attempt = 0; attempt < 20; attempt++) {
    const cabinetId = attempt === 0 ? wantedId : `${wantedId}-${attempt}`
    const r = await http.call<{ cabinetId: string; mqtt: { password: string }; error?: { code: string; message: string } }>('POST', '/api/v1/cabinets', {
      cabinetId, countyCode, venueType, siteName: `模拟${venueType}专柜 ${index + 1}`, operator,
    })
    if (r.status === 201) {
      // An operating cabinet is what a rollout rehearsal is about: step it through
      // the lifecycle (a refused step is left as it is; sales flow regardless).
      for (const status of steps) {
        if ((await http.call('PATCH', `/api/v1/cabinets/${cabinetId}`, { status })).status !== 200) break
      }
      return { cabinetId, password: r.body.mqtt.password, countyCode, venueType }
    }
    if (r.status !== 409) throw new Error(`provisioning ${cabinetId} failed: ${r.status} ${JSON.stringify(r.body)}`)
    // Taken: take it over only when it has no sales (a fresh ledger would clash with its chain).
    const g = await http.call<{ sales?: { count: number } }>('GET', `/api/v1/cabinets/${cabinetId}`)
    if (g.status === 200 && (g.body.sales?.count ?? 0) === 0) {
      if (isEnrolling) await http.call('PATCH', `/api/v1/cabinets/${cabinetId}`, { status: 'site_assigned' })
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

/**
 * The operator's side of deployment: once an enrolled cabinet's first
 * contact has moved it to installed, the operator confirms it operating.
 * Each pass lists the operator's installed cabinets and confirms those of
 * `ids` among them.
 */
export function operatorConfirmations(http: Http, operator: string, ids: readonly string[]): { pass(): Promise<void>; remaining(): string[] } {
  const waiting = new Set(ids)
  return {
    remaining: () => [...waiting],
    async pass() {
      const installed: string[] = []
      for (let offset = 0; waiting.size > 0; offset += 1000) {
        const q = new URLSearchParams({ status: 'installed', operator, limit: '1000', offset: String(offset) })
        const r = await http.call<{ cabinets?: Array<{ cabinetId: string }>; total?: number }>('GET', `/api/v1/cabinets?${q}`)
        if (r.status !== 200 || !Array.isArray(r.body.cabinets)) throw new Error(`listing installed cabinets failed: ${r.status} ${JSON.stringify(r.body)}`)
        installed.push(...r.body.cabinets.map((c) => c.cabinetId).filter((id) => waiting.has(id)))
        if (offset + 1000 >= Number(r.body.total ?? 0)) break
      }
      await pool(installed, 16, async (cabinetId) => {
        const p = await http.call('PATCH', `/api/v1/cabinets/${cabinetId}`, { status: 'operating', reason: '运营企业确认投入运营（仿真）' })
        if (p.status === 200) waiting.delete(cabinetId)
      })
    },
  }
}
