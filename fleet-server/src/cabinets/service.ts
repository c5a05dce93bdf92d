// Cabinet provisioning and lifecycle: ids, MQTT credentials, site and status,
// and the view that joins them with sales totals and liveness. Lifecycle
// transitions are free for now (any listed status); the rollout issue adds rules.
import type { Logger } from 'pino'
import type {
  CabinetList,
  CabinetView,
  CreateCabinetBody,
  CreateCabinetReply,
  ListCabinetsQuery,
  PatchCabinetBody,
  Plan,
  RotateCredentialsReply,
} from '../../../shared/src/index.js'
import {
  assertMayChangeCabinet,
  assertMayCreateCabinet,
  cabinetScope,
  canSeeCabinet,
  isCityWide,
  notFound,
  type Principal,
} from '../access/index.js'
import { NO_SALES, type CabinetSalesTotals, type SalesReader } from '../sales/index.js'
import { cabinetIdTaken, cabinetNotFound, countyUnknown } from './errors.js'
import { createCredentialCache, generateCabinetSecret, hashCabinetSecret, type CredentialCache } from './credentials.js'
import type { Liveness } from './liveness.js'
import type { CabinetRow, CabinetStore } from './store.js'

export interface CabinetService {
  create(by: Principal, body: CreateCabinetBody): Promise<CreateCabinetReply>
  patch(by: Principal, cabinetId: string, body: PatchCabinetBody): Promise<CabinetView>
  rotateCredentials(by: Principal, cabinetId: string): Promise<RotateCredentialsReply>
  get(by: Principal, cabinetId: string): Promise<CabinetView>
  list(by: Principal, q: ListCabinetsQuery): Promise<CabinetList>
  /** Throws NOT_FOUND unless the principal may see the cabinet. */
  assertVisible(by: Principal, cabinetId: string): Promise<void>
  /** For the embedded broker's authenticate(). */
  readonly credentials: CredentialCache
}

export interface CabinetServiceDeps {
  readonly store: CabinetStore
  readonly sales: SalesReader
  readonly liveness: Liveness
  readonly plan: () => Plan
  /** Ends a cabinet's live MQTT session (after rotation or retirement). */
  readonly disconnect: (cabinetId: string) => void
  readonly now: () => Date
  readonly log: Logger
}

const GENERATED_ID_ATTEMPTS = 5 // concurrent creates in one county may race for the same number

export function createCabinetService(deps: CabinetServiceDeps): CabinetService {
  const { store, sales, liveness, plan, log } = deps
  const credentials = createCredentialCache((id) => store.credential(id))

  async function visible(by: Principal, cabinetId: string): Promise<CabinetRow> {
    const row = await store.get(cabinetId)
    if (row && canSeeCabinet(by, row)) return row
    // City-wide callers may learn that an id does not exist; scoped callers
    // get the same answer for "absent" and "not yours".
    throw isCityWide(by) ? cabinetNotFound(cabinetId) : notFound(`cabinet ${cabinetId}`)
  }

  function view(row: CabinetRow, totals: CabinetSalesTotals): CabinetView {
    return {
      cabinetId: row.cabinetId,
      countyCode: row.countyCode,
      status: row.status,
      online: liveness.isOnline(row.cabinetId),
      lastSeenAt: liveness.lastSeenAt(row.cabinetId) ?? row.lastSeenAt,
      sales: {
        count: totals.count,
        amountFen: totals.amountFen,
        // Certification arrives with the catalog issue (products, certificates
        // and per-sale-date judgement); until then nothing counts as certified.
        certifiedAmountFen: 0,
        lastSeq: totals.lastSeq,
        lastSaleAt: totals.lastSaleAt,
      },
      operator: row.operator,
      siteName: row.siteName,
      venueType: row.venueType,
      chainStatus: totals.chainStatus,
      outbox: liveness.outbox(row.cabinetId),
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    }
  }

  async function viewOf(row: CabinetRow): Promise<CabinetView> {
    const totals = await sales.totals([row.cabinetId])
    return view(row, totals.get(row.cabinetId) ?? NO_SALES)
  }

  return {
    credentials,

    async create(by, body) {
      assertMayCreateCabinet(by, body.countyCode)
      const p = plan()
      if (!p.counties.some((c) => c.code === body.countyCode)) {
        throw countyUnknown(body.countyCode, p.id, p.counties.map((c) => c.code))
      }
      const secret = generateCabinetSecret()
      const at = deps.now().toISOString()
      const row = (cabinetId: string): CabinetRow => ({
        cabinetId,
        countyCode: body.countyCode,
        operator: body.operator ?? null,
        siteName: body.siteName ?? null,
        venueType: body.venueType ?? null,
        status: 'planned',
        secretHash: hashCabinetSecret(secret),
        credentialsIssuedAt: at,
        lastSeenAt: null,
        createdAt: at,
        updatedAt: at,
      })
      let cabinetId = body.cabinetId
      if (cabinetId !== undefined) {
        if (!(await store.insert(row(cabinetId)))) throw cabinetIdTaken(cabinetId)
      } else {
        for (let attempt = 0; ; attempt++) {
          const n = (await store.maxGeneratedNumber(body.countyCode)) + 1
          cabinetId = `${body.countyCode}-${String(n).padStart(5, '0')}`
          if (await store.insert(row(cabinetId))) break
          if (attempt + 1 >= GENERATED_ID_ATTEMPTS) throw cabinetIdTaken(cabinetId)
        }
      }
      credentials.invalidate(cabinetId)
      log.info({ cabinetId, countyCode: body.countyCode, by: by.username }, 'cabinet provisioned')
      return { cabinetId, mqtt: { username: cabinetId, password: secret } }
    },

    async patch(by, cabinetId, body) {
      const before = await visible(by, cabinetId)
      assertMayChangeCabinet(by)
      await store.update(cabinetId, body, deps.now().toISOString())
      if (body.status !== undefined && body.status !== before.status) {
        credentials.invalidate(cabinetId)
        if (body.status === 'retired') {
          // Retirement revokes MQTT access: refuse new logins, end the live session.
          deps.disconnect(cabinetId)
          liveness.forget(cabinetId)
        }
        log.info({ cabinetId, from: before.status, to: body.status, by: by.username }, 'cabinet status changed')
      }
      return viewOf((await store.get(cabinetId))!)
    },

    async rotateCredentials(by, cabinetId) {
      await visible(by, cabinetId)
      assertMayChangeCabinet(by)
      const secret = generateCabinetSecret()
      await store.setSecretHash(cabinetId, hashCabinetSecret(secret), deps.now().toISOString())
      credentials.invalidate(cabinetId)
      // The old password stops working now, and so does a session opened with it.
      deps.disconnect(cabinetId)
      log.info({ cabinetId, by: by.username }, 'cabinet credentials rotated')
      return { cabinetId, mqtt: { username: cabinetId, password: secret } }
    },

    async get(by, cabinetId) {
      return viewOf(await visible(by, cabinetId))
    },

    async list(by, q) {
      const scope = cabinetScope(by)
      // A filter outside the caller's scope selects nothing rather than widening it.
      if ((scope.countyCode && q.county && q.county !== scope.countyCode) || (scope.operator && q.operator && q.operator !== scope.operator)) {
        return { cabinets: [], total: 0, limit: q.limit, offset: q.offset }
      }
      const filter = {
        ...((scope.countyCode ?? q.county) !== undefined && { countyCode: scope.countyCode ?? q.county }),
        ...((scope.operator ?? q.operator) !== undefined && { operator: scope.operator ?? q.operator }),
        ...(q.status !== undefined && { status: q.status }),
      }
      const { rows, total } = await store.list(filter, q.limit, q.offset)
      const totals = await sales.totals(rows.map((r) => r.cabinetId))
      return { cabinets: rows.map((r) => view(r, totals.get(r.cabinetId) ?? NO_SALES)), total, limit: q.limit, offset: q.offset }
    },

    async assertVisible(by, cabinetId) {
      await visible(by, cabinetId)
    },
  }
}
