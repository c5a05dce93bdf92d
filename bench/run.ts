// npm run bench: the project's performance record. Each figure is measured in
// the same run as the baseline that frames it. Writes bench/results/latest.json
// and a dated copy.
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { bareAedesQos1, bareSqliteInserts } from './baselines.js'
import { edgeSaleCommits } from './edge.js'
import { serverIngest } from './server.js'

const RESULTS = join(import.meta.dirname, 'results')

const targets = {
  serverIngestSalesPerS: 20_000,
  edgeP99CommitMs: 2,
}

async function main() {
  const started = new Date()
  const log = (s: string) => process.stderr.write(`${s}\n`)
  log('bench: bare better-sqlite3 batched inserts …')
  const sqlite = await bareSqliteInserts({ rows: 200_000, batch: 1000 })
  log('bench: bare aedes QoS 1 …')
  const aedes = await bareAedesQos1({ clients: 100, messagesPerClient: 2000, payloadBytes: 600, window: 10 })
  log('bench: edge agent durable sale commits …')
  const edge = await edgeSaleCommits({ sales: 10_000 })
  log('bench: fleet server ingest with durable commit and application ack …')
  const ingest = await serverIngest({ cabinets: 200, salesPerCabinet: 1000, batchSize: 100, window: 2 })

  const result = {
    startedAt: started.toISOString(),
    machine: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30) },
    loadGenerator: 'bench/loadgen.ts: raw mqtt-packet over net sockets in a separate process',
    baselines: {
      bareAedesQos1MsgsPerS: Math.round(aedes.messagesPerS),
      bareSqliteBatchedInsertsPerS: Math.round(sqlite.rowsPerS),
    },
    edge: {
      durableCommitsPerS: Math.round(edge.commitsPerS),
      p50CommitMs: +edge.p50Ms.toFixed(3),
      p99CommitMs: +edge.p99Ms.toFixed(3),
      maxCommitMs: +edge.maxMs.toFixed(3),
    },
    server: {
      ingestSalesPerS: Math.round(ingest.salesPerS),
      ingestMessagesPerS: Math.round(ingest.messagesPerS),
      salesSent: ingest.sales,
      salesStored: ingest.stored,
      rejects: ingest.rejects,
      setup: { cabinets: ingest.cabinets, salesPerCabinet: ingest.salesPerCabinet, batchSize: ingest.batchSize, window: ingest.window },
    },
    targets,
    met: {
      serverIngest: ingest.salesPerS >= targets.serverIngestSalesPerS && ingest.stored === ingest.sales,
      edgeP99: edge.p99Ms <= targets.edgeP99CommitMs,
    },
    raw: { sqlite, aedes, edge, ingest },
  }
  await mkdir(RESULTS, { recursive: true })
  const json = `${JSON.stringify(result, null, 2)}\n`
  await writeFile(join(RESULTS, 'latest.json'), json)
  await writeFile(join(RESULTS, `${started.toISOString().slice(0, 19).replace(/[:T]/g, '-')}.json`), json)
  process.stdout.write(`${JSON.stringify({ baselines: result.baselines, edge: result.edge, server: { ingestSalesPerS: result.server.ingestSalesPerS, salesStored: result.server.salesStored }, met: result.met })}\n`)
}

await main()
