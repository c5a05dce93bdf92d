// Prometheus metrics. Each fleet instance has its own Registry (several fleets
// run in one test process); nothing is registered globally.
import type { FastifyPluginAsync } from 'fastify'
import { Counter, Gauge, Registry } from 'prom-client'
import type { IngestMetrics } from '../sales/index.js'
import { createHotHistogram } from './histogram.js'

/**
 * Buckets for sale latencies (seconds): fine around the 100 ms target, so a
 * percentile read from them is tight; long tails (offline backlogs) land in the top ones.
 */
export const LATENCY_BUCKETS_S = [
  0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5,
  0.75, 1, 2, 5, 10, 30, 60, 300, 3600,
]

export interface MetricSources {
  connectedCabinets(): number
  outboxLag(): { pending: number; oldestPendingAgeS: number }
  ingestQueuedBatches(): number
}

export interface FleetMetrics {
  readonly registry: Registry
  readonly ingest: IngestMetrics
  readonly transportRefused: Counter<'reason'>
}

export function createMetrics(sources: () => MetricSources | null): FleetMetrics {
  const registry = new Registry()
  const registers = [registry]
  new Gauge({
    name: 'fleet_cabinets_connected',
    help: 'Cabinets with a live MQTT session (embedded broker) or retained presence online (external broker)',
    registers,
    collect() {
      this.set(sources()?.connectedCabinets() ?? 0)
    },
  })
  new Gauge({
    name: 'fleet_outbox_pending_sales',
    help: 'Sales waiting in cabinet outboxes, summed over the last heartbeat of every cabinet',
    registers,
    collect() {
      this.set(sources()?.outboxLag().pending ?? 0)
    },
  })
  new Gauge({
    name: 'fleet_outbox_oldest_pending_age_seconds',
    help: 'Age of the oldest unacknowledged sale over all cabinets, from heartbeats',
    registers,
    collect() {
      this.set(sources()?.outboxLag().oldestPendingAgeS ?? 0)
    },
  })
  new Gauge({
    name: 'fleet_ingest_queued_batches',
    help: 'Sale batches received and waiting for the next group commit',
    registers,
    collect() {
      this.set(sources()?.ingestQueuedBatches() ?? 0)
    },
  })
  const ingest: IngestMetrics = {
    salesIngested: new Counter({ name: 'fleet_sales_ingested_total', help: 'Sales committed to the database', registers }),
    salesSkewed: new Counter({ name: 'fleet_sales_skewed_total', help: 'Committed sales whose soldAt was flagged as implausible', registers }),
    batchesCommitted: new Counter({ name: 'fleet_sale_batches_committed_total', help: 'Sale batches committed and acknowledged', registers }),
    batchesReplayed: new Counter({ name: 'fleet_sale_batches_replayed_total', help: 'Sale batches of already committed sales, re-acknowledged', registers }),
    batchesRejected: new Counter({ name: 'fleet_sale_batches_rejected_total', help: 'Sale batches answered with a reject reply, by code', labelNames: ['code'], registers }),
    ticksFailed: new Counter({ name: 'fleet_ingest_ticks_failed_total', help: 'Group commits that failed (nothing acknowledged; cabinets resend)', registers }),
    tickSeconds: createHotHistogram({
      name: 'fleet_ingest_tick_seconds',
      help: 'Duration of one group-commit tick: decode, chain checks, transaction, replies',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    batchWaitSeconds: createHotHistogram({
      name: 'fleet_ingest_batch_wait_seconds',
      help: 'From a sale batch reaching the server to its group commit (server clock)',
      buckets: LATENCY_BUCKETS_S,
      registers,
    }),
    saleCommitDelaySeconds: createHotHistogram({
      name: 'fleet_sale_commit_delay_seconds',
      help: "From a sale's recordedAt (the agent's durable commit, its 201) to the server's commit; agent and server clocks are compared, so skewed clocks blur it",
      buckets: LATENCY_BUCKETS_S,
      registers,
    }),
  }
  const transportRefused = new Counter({
    name: 'fleet_mqtt_connections_refused_total',
    help: 'MQTT connections refused or cut at the transport, by reason',
    labelNames: ['reason'],
    registers,
  })
  return { registry, ingest, transportRefused }
}

/** GET /metrics in the Prometheus text format (no auth, like any scrape target; bind accordingly). */
export const metricsRoutes = (registry: Registry): FastifyPluginAsync =>
  async function metricsPlugin(app) {
    app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
      reply.header('content-type', registry.contentType)
      return registry.metrics()
    })
  }
