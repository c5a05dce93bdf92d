// Sales as modules (issue 13): the ingest (cabinets' sale batches: chain
// checks, group commit, ack only after commit) with the sales views, and the
// sale flags officials resolve. The ingest drains what it was given when it
// stops, so it must stop while the broker can still carry the replies.
import type { Logger } from 'pino'
import type { FleetDb } from '../db/database.js'
import { slot, type FleetModule } from '../modules.js'
import type { TickAggregates } from './aggregate.js'
import { createSaleFlagService, createSaleFlagStore, type SaleFlagService, type SaleFlagStore } from './flags.js'
import { saleFlagRoutes } from './flags-routes.js'
import { startSalesFold, type FoldWriter, type SalesFold } from './fold.js'
import { createSaleIngest, type IngestMetrics, type SaleIngest, type TickWriter } from './ingest.js'
import { salesRoutes, type CabinetGuard } from './routes.js'
import { createSigningKeys, type SigningKeySource } from './signing-keys.js'
import { createTamperReview, tamperRoutes } from './tamper.js'
import type { SalesReader } from './service.js'
import type { SalesStore } from './store.js'

export interface IngestModule extends FleetModule {
  /** The ingest once started; null before (metrics read it lazily). */
  readonly ingest: () => SaleIngest | null
}

export interface IngestModuleDeps {
  readonly database: FleetDb
  readonly store: SalesStore
  readonly reader: SalesReader
  /** Who may see a cabinet's sales (the cabinets domain). */
  readonly assertVisible: () => CabinetGuard
  /** PostgreSQL: writes derived from each tick, in its transaction (compliance's certified figures); read at start. */
  readonly tickWriters: () => readonly TickWriter[]
  /** SQLite: the same writes, run by the sales fold for the sales it folds; read at start. */
  readonly foldWriters: () => readonly FoldWriter[]
  /** After each tick's commit (forwarding's late-sale trigger). */
  readonly committed: (agg: TickAggregates) => void
  readonly publish: (topic: string, payload: Buffer) => void
  /** A live batch's clock reading (cabinets' liveness). */
  readonly clockSample: (cabinetId: string, skewMs: number) => void
  readonly limits: { readonly maxBatchesPerTick: number; readonly maxSalesPerTick: number; readonly maxQueuedBytes: number }
  /** Issue 16 §2: enrolled cabinets' public keys (the cabinets domain), and the channel that notices their changes. */
  readonly signingKeys: SigningKeySource
  readonly keysChannel: string
  readonly requireSigned: boolean
  readonly metrics: IngestMetrics
  readonly now: () => Date
  /** The same clock in ms without a Date (Date.now for the system clock); default now().getTime(). */
  readonly nowMs?: () => number
  readonly log: Logger
}

export function ingestModule(deps: IngestModuleDeps): IngestModule {
  const ingest = slot<SaleIngest>('the sale ingest')
  let fold: SalesFold | undefined
  let unlisten: (() => void) | undefined
  return {
    name: 'ingest',
    ingest: () => ingest.peek(),
    up: { sales: (id, payload, done, settled) => ingest.get().submit(id, payload, done, settled) },
    routes: () => {
      const guard = deps.assertVisible()
      const review = createTamperReview({ db: deps.database, assertVisible: guard, now: deps.now, log: deps.log.child({ component: 'tamper-review' }) })
      return async (app) => {
        await app.register(salesRoutes(deps.reader, guard))
        await app.register(tamperRoutes(review))
      }
    },
    async start() {
      // SQLite: started before the ingest loads its chain heads, so that read
      // (and every other after it) finds the sales a crash left unfolded folded.
      if (deps.database.dialect === 'sqlite') {
        fold = startSalesFold({ db: deps.database, writers: deps.foldWriters(), log: deps.log.child({ component: 'sales-fold' }) })
      }
      const keys = await createSigningKeys(deps.signingKeys, deps.log.child({ component: 'signing-keys' }))
      // A re-enrollment (new key) or a retirement, on any server: the credentials notice (cabinets/credentials.ts).
      unlisten = deps.database.listen(deps.keysChannel, (cabinetId) => keys.invalidate(cabinetId))
      ingest.set(await createSaleIngest({
        keys,
        requireSigned: deps.requireSigned,
        db: deps.database,
        store: deps.store,
        tickWriters: fold ? [] : deps.tickWriters(),
        ...(fold && { fold }),
        committed: deps.committed,
        publish: deps.publish,
        now: deps.now,
        ...(deps.nowMs && { nowMs: deps.nowMs }),
        log: deps.log.child({ component: 'ingest' }),
        metrics: deps.metrics,
        ...deps.limits,
        clockSample: deps.clockSample,
      }))
    },
    // Drains what was received while the broker is still up to carry the replies, then folds it.
    async stop() {
      await ingest.peek()?.close()
      unlisten?.()
      await fold?.close()
    },
  }
}

export interface SaleFlagsModule extends FleetModule {
  readonly store: SaleFlagStore
  readonly service: SaleFlagService
}

/** Issue 12: flagged sales hold their periods until an official resolves them. Nothing to start or stop. */
export function saleFlagsModule(deps: { database: FleetDb; resolved: () => void; now: () => Date; log: Logger }): SaleFlagsModule {
  const store = createSaleFlagStore(deps.database)
  const service = createSaleFlagService({ store, now: deps.now, log: deps.log.child({ component: 'sale-flags' }), resolved: deps.resolved })
  return { name: 'sale-flags', store, service, routes: () => saleFlagRoutes(service), start: () => undefined, stop: () => undefined }
}
