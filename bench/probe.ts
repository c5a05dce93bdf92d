// Quick single-figure probes for work on the ingest path (not the record):
//   node --import tsx bench/probe.ts fleet   fleet server in its own process (npm start), one sale per message: server CPU µs/message
//   node --import tsx bench/probe.ts floor   the floor server (bench/floor.ts) under the same load
//   node --import tsx bench/probe.ts ratio   the record's cpuVsFloor (bench/cpu-vs-floor.ts): ROUNDS=8 alternating rounds
//   node --import tsx bench/probe.ts pg      bare unnest vs batched ingest on a throwaway PostgreSQL (add `nobare` to skip the bare insert)
//   node --import tsx bench/probe.ts pgmsg   one sale per message on a throwaway PostgreSQL: sales/s and server CPU µs/message
// Add --cpu-prof before --import to profile the in-process parts.
import { mkdtemp, rm } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runLoad } from './child.js'
import { cpuVsFloor } from './cpu-vs-floor.js'
import { floorIngest } from './floor.js'
import { bareUnnestInserts, startBenchPostgres } from './pg.js'
import { NPM_START, startProgram } from './procs.js'
import { serverIngest } from './server.js'
import { mainThreadCpuUs } from './thread-cpu.js'

const ADMIN = 'bench-admin-token-0123456789'
const mode = process.argv[2] ?? 'fleet'
/** PROBE_ENV='{"FLEET_INGEST_MAX_SALES_PER_TICK":"5000"}' tries a setting. */
const extraEnv = JSON.parse(process.env.PROBE_ENV ?? '{}') as Record<string, string>
/** PROBE_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/p' profiles the fleet server (NODE_OPTIONS refuses --cpu-prof). */
const serverNodeArgs = (process.env.PROBE_NODE_ARGS ?? '').split(' ').filter((a) => a !== '')

/** User + system CPU of a whole process, µs (clock ticks of 10 ms: long runs only). */
function processCpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(f[11]) + Number(f[12])) * 1e6) / 100
}

async function fleet(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-probe-'))
  const server = await startProgram(NPM_START, [], {
    FLEET_DATA_DIR: dir, FLEET_HTTP_PORT: '0', FLEET_MQTT_PORT: '0', FLEET_ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'error', FLEET_LOG_REQUESTS: 'false',
    FLEET_REPORTS_SCHEDULE: 'false', FLEET_BACKUP_SCHEDULE: 'false', ...extraEnv,
  }, 60_000, serverNodeArgs)
  try {
    const http = `http://127.0.0.1:${String(server.ready.http)}`
    const credentials: Array<{ username: string; password: string }> = []
    for (let i = 0; i < 100; i++) {
      const res = await fetch(`${http}/api/v1/cabinets`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify({ countyCode: '341125' }) })
      credentials.push(((await res.json()) as { mqtt: { username: string; password: string } }).mqtt)
    }
    const c0 = processCpuUs(server.pid)
    const m0 = mainThreadCpuUs(server.pid)!
    const r = await runLoad({ mode: 'sales', host: '127.0.0.1', port: Number(server.ready.mqtt), credentials, salesPerClient: 2000, batchSize: 1, window: 10 })
    const c1 = processCpuUs(server.pid)
    const m1 = mainThreadCpuUs(server.pid)!
    if (process.env.PROBE_METRICS) {
      const text = await (await fetch(`${http}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text()
      console.log(text.split('\n').filter((l) => /tick_seconds_(count|sum)|fold|sales_ingested_total /.test(l)).join('\n'))
    }
    console.log(JSON.stringify({ mode, salesPerS: Math.round(r.salesPerS), serverUsPerMessage: +((c1 - c0) / r.messages).toFixed(1), mainThreadUsPerMessage: +((m1 - m0) / r.messages).toFixed(1) }))
  } finally {
    await server.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

async function floor(): Promise<void> {
  const r = await floorIngest({ cabinets: 100, salesPerCabinet: 2000, window: 10 })
  console.log(JSON.stringify({ mode, salesPerS: Math.round(r.salesPerS), serverUsPerMessage: r.serverCpuUsPerMessage, mainThreadUsPerMessage: r.mainThreadUsPerMessage }))
}

async function pg(): Promise<void> {
  const server = await startBenchPostgres()
  try {
    const bare = process.argv.includes('nobare') ? null : await bareUnnestInserts(server, { rows: 200_000, batch: 1000 })
    const r = await serverIngest({ cabinets: 200, salesPerCabinet: 1000, batchSize: 100, window: 2 }, { FLEET_DATABASE_URL: await server.newDatabase('ingest_batched'), ...extraEnv })
    console.log(JSON.stringify({ mode, bareUnnestRowsPerS: bare?.rowsPerS ?? null, batchedSalesPerS: Math.round(r.salesPerS), ratio: bare ? +(r.salesPerS / bare.rowsPerS).toFixed(3) : null, stored: r.stored, sent: r.sales }))
  } finally {
    await server.close()
  }
}

async function pgmsg(): Promise<void> {
  const server = await startBenchPostgres()
  try {
    const r = await serverIngest({ cabinets: 100, salesPerCabinet: 2000, batchSize: 1, window: 10 }, { FLEET_DATABASE_URL: await server.newDatabase('ingest_per_message'), ...extraEnv })
    console.log(JSON.stringify({ mode, salesPerS: Math.round(r.salesPerS), serverUsPerMessage: r.serverCpuUsPerMessage, mainThreadUsPerMessage: r.mainThreadUsPerMessage, stored: r.stored, sent: r.sales }))
  } finally {
    await server.close()
  }
}

async function ratio(): Promise<void> {
  const r = await cpuVsFloor({ rounds: Number(process.env.ROUNDS ?? 8), cabinets: 100, salesPerCabinet: Number(process.env.SALES ?? 400), window: 10, log: (s) => process.stderr.write(`${s}\n`) })
  console.log(JSON.stringify(r))
}

await ({ fleet, floor, pg, pgmsg, ratio } as Record<string, () => Promise<void>>)[mode]!()
