// The catalog each cabinet shows (products, prices, the "扶贫产品" label) as a
// versioned, retained cabinets/{id}/down/catalog message. The version counter
// lives in catalog_versions and moves only when the content changes: after a
// catalog edit, and when a new day changes which certificates are in force.
// Published to every live cabinet on change, and to one cabinet when it
// connects (the embedded broker keeps retained messages in memory only).
// One message carries the whole catalog, so it must fit what an agent
// accepts (docs/forwarding.md, "Catalog size"): a catalog over the limit is
// never published — cabinets keep the last one — and an error is logged.
import { createHash } from 'node:crypto'
import type { Logger } from 'pino'
import {
  encodeMessage,
  shanghaiDate,
  topics,
  type CabinetCatalogView,
  type CatalogItem,
  type CatalogMsg,
  type PublishedCatalogView,
} from '../../../shared/src/index.js'
import { isLiveCabinet, liveCabinetIds } from '../cabinets/certification-reads.js'
import type { FleetDb } from '../db/database.js'
import { classifyDbError } from '../db/dialect.js'
import type { CatalogStore, PublishedCatalog } from './store.js'

/** Items one catalog message may carry: CatalogMsg's schema (shared/messages/catalog.ts) refuses more. */
export const CATALOG_MAX_ITEMS = 5_000
/**
 * Bytes of one encoded catalog message: the edge agent's MAX_CATALOG_BYTES
 * (edge-agent/src/sync/link.ts), which drops anything larger. 5,000 items with
 * 200-character Chinese names take ~4.0 MB, so the item cap binds first in practice.
 */
export const CATALOG_MAX_BYTES = 4 * 1024 * 1024

export interface CatalogPublisher {
  /**
   * Rebuilds the catalog for today; bumps the version and publishes it
   * everywhere when it changed. Calls in this process run one at a time.
   */
  refresh(): Promise<PublishedCatalog | null>
  /** Publishes the current catalog to one cabinet (on connect); never rejects (a failure is logged). */
  publishTo(cabinetId: string, opts?: { readonly loggedIn?: boolean }): Promise<void>
  /** The version a cabinet's heartbeat reports. */
  reported(cabinetId: string, version: number | null): void
  current(): PublishedCatalogView | null
  cabinet(cabinetId: string): CabinetCatalogView
  /** Stops following catalogs published by other servers on the database. */
  close(): void
}

/** Channel of the notice a published catalog sends: its version. */
export const CATALOG_CHANNEL = 'catalog'

export interface CatalogPublisherDeps {
  readonly db: FleetDb
  readonly store: CatalogStore
  readonly publish: (topic: string, payload: Buffer) => void
  readonly now: () => Date
  readonly log: Logger
}

/** Loads the last published catalog and returns the publisher. */
export async function createCatalogPublisher({ db, store, publish, now, log }: CatalogPublisherDeps): Promise<CatalogPublisher> {
  const rd = db.kysely
  let latest = await store.latestCatalog(rd)
  let encoded: Buffer | null = null
  let refusedHash: string | null = null
  const reports = new Map<string, { version: number | null; at: string }>()

  const message = (c: PublishedCatalog): Buffer => {
    encoded ??= encodeMessage({ v: 1, type: 'catalog', version: c.version, issuedAt: c.issuedAt, items: c.items } satisfies CatalogMsg)
    return encoded
  }

  async function build(): Promise<CatalogItem[]> {
    const [covering, products] = await Promise.all([store.coveringOn(rd, shanghaiDate(now())), store.products(rd)])
    return products.map((p) => {
      const certificateNo = covering.get(p.sku)
      return { sku: p.sku, name: p.name, priceFen: p.priceFen, isCertified: certificateNo !== undefined, ...(certificateNo !== undefined && { certificateNo }) }
    })
  }

  async function refreshOnce(): Promise<PublishedCatalog | null> {
    const items = await build()
    const hash = createHash('sha256').update(JSON.stringify(items)).digest('hex')
    if (latest && latest.hash === hash) return latest
    if (!latest && items.length === 0) return null
    const next: PublishedCatalog = { version: (latest?.version ?? 0) + 1, hash, issuedAt: now().toISOString(), items }
    const bytes = encodeMessage({ v: 1, type: 'catalog', version: next.version, issuedAt: next.issuedAt, items } satisfies CatalogMsg).byteLength
    if (items.length > CATALOG_MAX_ITEMS || bytes > CATALOG_MAX_BYTES) {
      // Agents would drop it and keep running the old one while the server
      // believed it published: refuse loudly instead, once per content.
      if (refusedHash !== hash) log.error({ items: items.length, maxItems: CATALOG_MAX_ITEMS, bytes, maxBytes: CATALOG_MAX_BYTES, keptVersion: latest?.version ?? null }, 'catalog too large for one message; not published')
      refusedHash = hash
      return latest
    }
    refusedHash = null
    try {
      await store.insertCatalog(rd, next)
    } catch (err) {
      // Another server on the database published this version first: take its catalog.
      if (classifyDbError(err) !== 'unique_violation') throw err
      const theirs = await store.latestCatalog(rd)
      if (theirs && theirs.version !== latest?.version) encoded = null
      latest = theirs
      return latest
    }
    latest = next
    encoded = null
    // Servers sharing the database publish it to the cabinets on their brokers.
    await db.notify(CATALOG_CHANNEL, String(next.version))
    const cabinets = await publishAll(next)
    log.info({ version: next.version, items: items.length, cabinets }, 'catalog published')
    return next
  }

  /** Sends `c` to every live cabinet; retained, so a cabinet offline now gets it when it next subscribes. */
  async function publishAll(c: PublishedCatalog): Promise<number> {
    const cabinets = await liveCabinetIds(rd)
    const payload = message(c)
    for (const id of cabinets) publish(topics.catalog(id), payload)
    return cabinets.length
  }

  /** Another server published a catalog (or a notice was missed: ''): take the newest and send it to this server's cabinets. */
  async function adopt(): Promise<void> {
    const theirs = await store.latestCatalog(rd)
    if (!theirs || (latest && theirs.version <= latest.version)) return
    latest = theirs
    encoded = null
    const cabinets = await publishAll(theirs)
    log.info({ version: theirs.version, cabinets }, 'catalog published by another server taken')
  }

  // Two refreshes at once would both build version n+1.
  let queue: Promise<unknown> = Promise.resolve()
  const unlisten = db.listen(CATALOG_CHANNEL, (payload) => {
    // Our own notice (or an older one): nothing to take.
    if (payload !== '' && latest && Number(payload) <= latest.version) return
    const run = queue.then(adopt, adopt)
    queue = run.catch((err: unknown) => log.warn({ err }, 'catalog published by another server not taken; the next refresh retries'))
  })

  return {
    refresh() {
      const run = queue.then(refreshOnce, refreshOnce)
      queue = run.catch(() => {})
      return run
    },
    async publishTo(cabinetId, opts) {
      const c = latest
      if (!c) return
      const r = reports.get(cabinetId)
      if (r && r.version === c.version) return
      try {
        // A session our broker let in has just passed the login check, which
        // refuses retired cabinets: no read per connect (a reconnect storm is 19,000).
        if (!opts?.loggedIn && !(await isLiveCabinet(rd, cabinetId))) return
      } catch (err) {
        log.warn({ err, cabinetId }, 'catalog not sent on connect: cabinet lookup failed')
        return
      }
      // `latest` may have moved on meanwhile: send what is current now.
      if (latest) publish(topics.catalog(cabinetId), message(latest))
    },
    reported(cabinetId, version) {
      reports.set(cabinetId, { version, at: now().toISOString() })
    },
    current: () => (latest ? { version: latest.version, issuedAt: latest.issuedAt, items: latest.items } : null),
    cabinet(cabinetId) {
      const r = reports.get(cabinetId)
      const publishedVersion = latest?.version ?? null
      return {
        cabinetId,
        publishedVersion,
        reportedVersion: r?.version ?? null,
        reportedAt: r?.at ?? null,
        isCurrent: publishedVersion !== null && r?.version === publishedVersion,
      }
    },
    close: unlisten,
  }
}
