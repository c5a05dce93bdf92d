// Cabinet provisioning and lifecycle: ids, MQTT credentials, site and status,
// and the view that joins them with sales totals and liveness. Status changes
// follow lifecycle.ts and are recorded with who and when.
import type { Logger } from 'pino'
import type {
  CabinetList,
  CabinetView,
  CreateCabinetBody,
  CreateCabinetReply,
  ImportQuery,
  ImportRowError,
  ImportReply,
  ListCabinetsQuery,
  TransitionList,
  PatchCabinetBody,
  Plan,
  RotateCredentialsReply,
} from '../../../shared/src/index.js'
import { AppError, labelZh } from '../../../shared/src/index.js'
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
import { cabinetIdOutOfRange, cabinetIdTaken, cabinetIdUnsupported, cabinetNotFound, countyUnknown, generatedCabinetId, isIdInRange } from './errors.js'
import { createCredentialCache, CREDENTIALS_CHANNEL, generateCabinetSecret, hashCabinetSecret, type CredentialCache } from './credentials.js'
import { parseCsv } from './csv.js'
import { cabinetIdsOf, checkImport, ImportHeaderError } from './import.js'
import { assertTransition, statusInvalid } from './lifecycle.js'
import type { Liveness } from './liveness.js'
import type { CabinetLogins } from './logins.js'
import type { CabinetRow, CabinetStore, TransitionRecord } from './store.js'
import type { Executor, FleetDb } from '../db/database.js'

export interface CabinetService {
  create(by: Principal, body: CreateCabinetBody): Promise<CreateCabinetReply>
  patch(by: Principal, cabinetId: string, body: PatchCabinetBody): Promise<CabinetView>
  rotateCredentials(by: Principal, cabinetId: string): Promise<RotateCredentialsReply>
  get(by: Principal, cabinetId: string): Promise<CabinetView>
  list(by: Principal, q: ListCabinetsQuery): Promise<CabinetList>
  transitions(by: Principal, cabinetId: string): Promise<TransitionList>
  /** CSV placement list → cabinets; all or nothing unless `partial`. */
  importCsv(by: Principal, csv: string, q: ImportQuery): Promise<ImportReply>
  /** Throws NOT_FOUND unless the principal may see the cabinet. */
  assertVisible(by: Principal, cabinetId: string): Promise<void>
  /** For the embedded broker's authenticate(). */
  readonly credentials: CredentialCache
  /** Stops following credential notices. */
  close(): void
}

export interface CabinetServiceDeps {
  readonly store: CabinetStore
  /**
   * Commits a cabinet change with its transition row; carries the notices of
   * login changes to every server process on the database (this one included).
   */
  readonly database: Pick<FleetDb, 'transaction' | 'notify' | 'listen'>
  readonly sales: SalesReader
  readonly liveness: Liveness
  readonly plan: () => Plan
  /** Ends a cabinet's live MQTT session here (its login changed on another server). */
  readonly disconnect: (cabinetId: string) => void
  /** Issues, rotates and ends cabinet logins with the broker in use. */
  readonly logins: CabinetLogins
  readonly now: () => Date
  readonly log: Logger
}

const GENERATED_ID_ATTEMPTS = 5 // concurrent creates in one county may race for the same number

export function createCabinetService(deps: CabinetServiceDeps): CabinetService {
  const { store, sales, liveness, plan, log, database } = deps
  const credentials = createCredentialCache((id) => store.credential(id))
  // Every change to a cabinet's login is noticed here after it commits, from
  // this process or any other on the database: the cached credential goes,
  // and a session this broker holds that may no longer log in is ended (a
  // retired cabinet, or one whose secret was rotated). An empty notice means
  // the notice connection was re-made and notices may have been missed.
  const unlisten = database.listen(CREDENTIALS_CHANNEL, (cabinetId) => {
    if (cabinetId === '') {
      credentials.clear()
      // A retirement or rotation missed meanwhile must still end its session here.
      void credentials.revokedSessions((ids) => store.credentials(ids)).then(
        (ids) => {
          if (ids.length) log.info({ cabinets: ids.length }, 'cabinet logins revoked while notices were down; ending their sessions here')
          for (const id of ids) deps.disconnect(id)
        },
        (err: unknown) => log.warn({ err }, 'checking cabinet sessions after the notice connection returned failed'),
      )
      return
    }
    credentials.invalidate(cabinetId)
    void (async () => {
      const stored = await store.credential(cabinetId)
      // A retired cabinet's last outbox report stops counting as lag on every server.
      if (stored?.status === 'retired') liveness.forget(cabinetId)
      if (await credentials.sessionStillValid(cabinetId, stored)) return
      log.info({ cabinetId }, 'cabinet login revoked; ending its session here')
      deps.disconnect(cabinetId)
    })().then(
      () => {},
      (err: unknown) => log.warn({ err, cabinetId }, 'checking a cabinet session after a login change failed'),
    )
  })

  /** One new cabinet with its first lifecycle step; the id when already taken (nothing written then). */
  async function insertCabinet(row: CabinetRow, by: string): Promise<string[]> {
    return insertCabinetsWith(async () => [row], by, null, { group: true })
  }

  /**
   * New cabinets with their first lifecycle step, all or none; the ids already
   * taken (nothing written then). `make` builds the rows inside the
   * transaction (after taking what it needs to lock). `group`: single creates
   * share a commit with the others of their turn (SQLite; FleetDb.transaction).
   */
  async function insertCabinetsWith(make: (tx: Executor) => Promise<readonly CabinetRow[]>, by: string, reason: string | null, opts: { group?: boolean } = {}): Promise<string[]> {
    try {
      return await database.transaction(async (tx) => {
        const rows = await make(tx)
        const taken = await store.insert(tx, rows)
        // None went in: nothing to undo (a throw would also undo a group's other creates, and run them again alone).
        if (taken.length === rows.length && rows.length > 0) return taken
        if (taken.length) throw new TakenIds(taken) // rolls back the rows that did go in
        await store.recordTransitions(tx, rows.map((r) => ({ cabinetId: r.cabinetId, countyCode: r.countyCode, operator: r.operator, from: null, to: r.status, at: r.createdAt, by, reason })))
        return []
      }, opts)
    } catch (err) {
      if (err instanceof TakenIds) return err.ids
      throw err
    }
  }

  async function visible(by: Principal, cabinetId: string): Promise<CabinetRow> {
    const row = await store.get(cabinetId)
    if (row && canSeeCabinet(by, row)) return row
    // City-wide callers may learn that an id does not exist; scoped callers
    // get the same answer for "absent" and "not yours".
    throw isCityWide(by) ? cabinetNotFound(cabinetId) : notFound(`cabinet ${cabinetId}`, `专柜 “${cabinetId}”`)
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
        // Judged per product and sale date by the compliance domain, which
        // app.ts layers onto the sales reader (withCertifiedTotals).
        certifiedAmountFen: (totals as { readonly certifiedAmountFen?: number }).certifiedAmountFen ?? 0,
        lastSeq: totals.lastSeq,
        lastSaleAt: totals.lastSaleAt,
      },
      operator: row.operator,
      siteName: row.siteName,
      venueType: row.venueType,
      chainStatus: totals.chainStatus,
      outbox: liveness.outbox(row.cabinetId),
      siteAddress: row.siteAddress,
      latitude: row.latitude,
      longitude: row.longitude,
      statusSince: row.statusSince,
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
      const row = (cabinetId: string): CabinetRow =>
        newCabinetRow({
          cabinetId,
          countyCode: body.countyCode,
          operator: body.operator ?? null,
          siteName: body.siteName ?? null,
          venueType: body.venueType ?? null,
          siteAddress: null,
          latitude: null,
          longitude: null,
          // Issue 15: created with a concrete site (name and venue type) it
          // starts site_assigned, as an import row with a site does; its first
          // transition (null → site_assigned) counts it as a site assigned that day.
          status: body.siteName && body.venueType ? 'site_assigned' : 'planned',
        }, secret, at)
      let cabinetId = body.cabinetId
      if (cabinetId !== undefined) {
        // #12: range first, then existence: an id in another county's range
        // must neither reveal whether it exists nor squat that county's numbers.
        if (!isIdInRange(by, cabinetId, body.countyCode)) throw cabinetIdOutOfRange(cabinetId, body.countyCode)
        const problem = deps.logins.idProblem(cabinetId)
        if (problem) throw cabinetIdUnsupported(cabinetId, problem)
        if ((await insertCabinet(row(cabinetId), by.username)).length) throw cabinetIdTaken(cabinetId)
      } else {
        // The county's numbers are taken one create at a time across servers
        // (a lock held until commit); a number taken meanwhile by a create
        // that named its id moves on to the next one (#12: retrying the same
        // number blocked a whole county).
        let n = 0
        for (let attempt = 0; ; attempt++) {
          let id = ''
          const taken = await insertCabinetsWith(async (tx) => {
            await store.lockGeneratedNumbers(tx, body.countyCode)
            n = Math.max(n, await store.maxGeneratedNumber(body.countyCode, tx)) + 1
            id = generatedCabinetId(body.countyCode, n)
            return [row(id)]
          }, by.username, null, { group: true })
          cabinetId = id
          if (taken.length === 0) break
          if (attempt + 1 >= GENERATED_ID_ATTEMPTS) throw cabinetIdTaken(cabinetId)
        }
      }
      credentials.invalidate(cabinetId)
      log.info({ cabinetId, countyCode: body.countyCode, by: by.username }, 'cabinet provisioned')
      return { cabinetId, mqtt: { username: cabinetId, password: await deps.logins.issue(cabinetId, secret) } }
    },

    async patch(by, cabinetId, body) {
      const before = await visible(by, cabinetId)
      assertMayChangeCabinet(by)
      const site = { siteName: body.siteName ?? before.siteName, venueType: body.venueType ?? before.venueType }
      const isStatusChange = body.status !== undefined && body.status !== before.status
      if (isStatusChange) assertTransition(cabinetId, before.status, body.status!, site)
      const { reason, ...changes } = body
      const at = deps.now().toISOString()
      const step: TransitionRecord | null = isStatusChange
        ? { cabinetId, countyCode: before.countyCode, operator: before.operator, from: before.status, to: body.status!, at, by: by.username, reason: reason ?? null }
        : null
      // With a step it is a compare-and-set on the status, committed with its
      // transition row (sharing the commit with the other changes of its turn).
      const applied = await database.transaction(async (tx) => {
        if (!(await store.update(tx, cabinetId, changes, at, step?.from ?? undefined))) return false
        if (step) {
          await store.recordTransitions(tx, [step])
          // Suspension keeps the login today; every status change is noticed so no rule change is missed.
          await database.notify(CREDENTIALS_CHANNEL, cabinetId, tx)
        }
        return true
      }, { group: true })
      if (!applied) {
        // Another change moved the cabinet between our read and our write: judge against where it is now.
        const current = (await store.get(cabinetId))!
        if (current.status !== body.status) throw statusInvalid(cabinetId, current.status, body.status!)
        // It already got there: keep the other changes, record no second step.
        await database.transaction((tx) => store.update(tx, cabinetId, changes, deps.now().toISOString()))
        return viewOf((await store.get(cabinetId))!)
      }
      if (isStatusChange && body.status !== undefined) {
        // The notice does this too; on PostgreSQL it arrives a moment later.
        credentials.invalidate(cabinetId)
        if (body.status === 'retired') {
          // Retirement revokes MQTT access: refuse new logins (the notice
          // invalidated every server's cache), end the live session here at
          // once (other servers end theirs on the notice).
          deps.logins.end(cabinetId)
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
      await database.transaction(async (tx) => {
        await store.setSecretHash(tx, cabinetId, hashCabinetSecret(secret), deps.now().toISOString())
        await database.notify(CREDENTIALS_CHANNEL, cabinetId, tx)
      })
      // The old password stops working now (every server's cache was
      // invalidated by the notice), and so does a session opened with it: here
      // at once, on other servers on the notice.
      credentials.invalidate(cabinetId)
      const password = await deps.logins.rotate(cabinetId, secret)
      log.info({ cabinetId, by: by.username }, 'cabinet credentials rotated')
      return { cabinetId, mqtt: { username: cabinetId, password } }
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
      if (q.online === undefined && q.compliance === undefined) {
        const { rows, total } = await store.list(filter, q.limit, q.offset)
        const totals = await sales.totals(rows.map((r) => r.cabinetId))
        return { cabinets: rows.map((r) => view(r, totals.get(r.cabinetId) ?? NO_SALES)), total, limit: q.limit, offset: q.offset }
      }
      // Online and compliance live outside the cabinets table: filter in memory
      // (a county is a few hundred cabinets, the city a few thousand).
      let rows = await store.listAll(filter)
      if (q.online !== undefined) rows = rows.filter((r) => liveness.isOnline(r.cabinetId) === q.online)
      let views = rows.map((r) => ({ r, v: null as CabinetView | null }))
      if (q.compliance !== undefined) {
        const totals = await sales.totals(rows.map((r) => r.cabinetId))
        const p = plan()
        const minBp = p.policy.minCertifiedShareBp[p.channel] ?? 0
        views = rows
          .map((r) => ({ r, v: view(r, totals.get(r.cabinetId) ?? NO_SALES) }))
          .filter(({ v }) => complianceOf(v.sales.amountFen, v.sales.certifiedAmountFen, minBp) === q.compliance)
      }
      const page = views.slice(q.offset, q.offset + q.limit)
      const missing = page.filter((x) => x.v === null).map((x) => x.r.cabinetId)
      const totals = missing.length ? await sales.totals(missing) : new Map<string, CabinetSalesTotals>()
      return {
        cabinets: page.map((x) => x.v ?? view(x.r, totals.get(x.r.cabinetId) ?? NO_SALES)),
        total: views.length,
        limit: q.limit,
        offset: q.offset,
      }
    },

    async transitions(by, cabinetId) {
      await visible(by, cabinetId)
      return { cabinetId, transitions: await store.transitions(cabinetId) }
    },

    async importCsv(by, csv, q) {
      if (by.role !== 'admin' && by.role !== 'county') {
        throw new AppError('ACCESS_OUT_OF_SCOPE', `role ${by.role} may not import cabinets`, 403, undefined, `${labelZh('role', by.role)}不能导入专柜`)
      }
      const p = plan()
      const records = parseCsv(csv)
      const ids = cabinetIdsOf(records)
      let check
      try {
        check = checkImport(records, p, by, await store.existing(ids), deps.logins.idProblem)
      } catch (err) {
        if (err instanceof ImportHeaderError) throw new AppError('CABINET_IMPORT_INVALID', err.message, 400, { rejected: [{ line: 1, field: null, message: err.zh }] }, `表头有误：${err.zh}`)
        throw err
      }
      if (check.rejected.length && !q.partial) {
        throw new AppError(
          'CABINET_IMPORT_INVALID',
          `${check.rejected.length} of ${check.rows} rows are invalid; nothing was imported (fix them, or import the good rows with partial=true)`,
          400,
          { rows: check.rows, rejected: check.rejected },
          importRejectedZh(check.rows, check.rejected),
        )
      }
      const at = deps.now().toISOString()
      // Generated ids skip the ids the file itself names.
      const named = new Set(check.good.flatMap((g) => (g.cabinetId === null ? [] : [g.cabinetId])))
      const good = check.good
      let created: ImportReply['cabinets'] = []
      let rows: CabinetRow[] = []
      // Built inside the transaction, holding the number generator of each
      // county that needs one, so a concurrent create on any server cannot
      // take a number between our read and our insert.
      const taken = await insertCabinetsWith(async (tx) => {
        created = []
        rows = []
        const next = new Map<string, number>()
        for (const county of [...new Set(good.filter((g) => g.cabinetId === null).map((g) => g.countyCode))].sort()) {
          await store.lockGeneratedNumbers(tx, county)
          next.set(county, await store.maxGeneratedNumber(county, tx))
        }
        for (const g of good) {
          let cabinetId = g.cabinetId
          if (cabinetId === null) {
            let n = next.get(g.countyCode)!
            do cabinetId = generatedCabinetId(g.countyCode, ++n)
            while (named.has(cabinetId))
            next.set(g.countyCode, n)
          }
          const secret = generateCabinetSecret()
          rows.push(newCabinetRow({
            cabinetId,
            countyCode: g.countyCode,
            operator: g.operator,
            siteName: g.siteName,
            venueType: g.venueType,
            siteAddress: g.siteAddress,
            latitude: g.latitude,
            longitude: g.longitude,
            status: g.status,
          }, secret, at))
          created.push({ cabinetId, line: g.line, mqtt: { username: cabinetId, password: secret } })
        }
        return rows
      }, by.username, 'csv import')
      if (taken.length) throw cabinetIdTaken(taken.join(', '))
      for (const r of rows) credentials.invalidate(r.cabinetId)
      const cabinets: ImportReply['cabinets'] = []
      for (const c of created) cabinets.push({ ...c, mqtt: { ...c.mqtt, password: await deps.logins.issue(c.cabinetId, c.mqtt.password) } })
      log.info({ imported: rows.length, rejected: check.rejected.length, by: by.username }, 'cabinets imported')
      return { rows: check.rows, imported: rows.length, rejected: check.rejected, cabinets }
    },

    async assertVisible(by, cabinetId) {
      await visible(by, cabinetId)
    },

    close: unlisten,
  }
}

/** compliant / noncompliant against the plan's minimum certified share; nosales before the first sale. */
export function complianceOf(amountFen: number, certifiedAmountFen: number, minBp: number): 'compliant' | 'noncompliant' | 'nosales' {
  if (amountFen <= 0) return 'nosales'
  return certifiedAmountFen * 10_000 >= minBp * amountFen ? 'compliant' : 'noncompliant'
}

type NewCabinetFields = Omit<CabinetRow, 'statusSince' | 'secretHash' | 'credentialsIssuedAt' | 'lastSeenAt' | 'createdAt' | 'updatedAt'>

/** A freshly provisioned cabinet: only the secret's hash is kept; every timestamp is `at`. */
function newCabinetRow(fields: NewCabinetFields, secret: string, at: string): CabinetRow {
  return {
    ...fields,
    statusSince: at,
    secretHash: hashCabinetSecret(secret),
    credentialsIssuedAt: at,
    lastSeenAt: null,
    createdAt: at,
    updatedAt: at,
  }
}

/** Thrown inside the insert transaction to roll it back; carries the ids that were taken. */
class TakenIds extends Error {
  constructor(readonly ids: string[]) {
    super(`cabinet ids taken: ${ids.join(', ')}`)
  }
}

/** The headline of a refused import: which lines, and the first few problems (details.rejected has them all). */
function importRejectedZh(rows: number, rejected: readonly ImportRowError[]): string {
  const SHOWN = 5 // a 2,700-row list with every row wrong would otherwise make a page-long message
  const lines = rejected.slice(0, SHOWN).map((r) => r.line).join('、') + (rejected.length > SHOWN ? ` 等 ${rejected.length} 行` : ' 行')
  const first = rejected.slice(0, SHOWN).map((r) => `第 ${r.line} 行：${r.message}`).join('；')
  return `共 ${rows} 行，第 ${lines}有错误（${first}）。请改正后重新导入，或以 “partial=true” 只导入正确的行`
}
