// Fleet server ingest: real fleet server (embedded aedes + SQLite, durable
// group commit), cabinets provisioned through the HTTP API, load from the
// light generator in another process waiting for each application ack.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { buildFleet } from '../fleet-server/src/app.js'
import { loadConfig } from '../fleet-server/src/config.js'
import { runLoad } from './child.js'
import { mainThreadCpuUs } from './thread-cpu.js'

const ADMIN = 'bench-admin-token-0123456789'

export async function serverIngest(opts: { cabinets: number; salesPerCabinet: number; batchSize: number; window: number }, env: Record<string, string> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'bench-fleet-'))
  const fleet = await buildFleet(
    loadConfig({ FLEET_DATA_DIR: dir, FLEET_HTTP_PORT: '0', FLEET_MQTT_PORT: '0', FLEET_ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'silent', FLEET_LOG_REQUESTS: 'false',
    // Scheduled reports and backups run on the wall clock (hourly): off, so no figure depends on when the bench ran.
    FLEET_REPORTS_SCHEDULE: 'false', FLEET_BACKUP_SCHEDULE: 'false', ...env }, []),
    { logger: pino({ level: 'silent' }) },
  )
  try {
    const credentials: Array<{ username: string; password: string }> = []
    for (let i = 0; i < opts.cabinets; i++) {
      const res = await fetch(`${fleet.httpUrl}/api/v1/cabinets`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ countyCode: '341125' }),
      })
      const body = (await res.json()) as { mqtt: { username: string; password: string } }
      credentials.push(body.mqtt)
    }
    const url = new URL(fleet.mqttUrl)
    const cpu0 = process.cpuUsage()
    const main0 = mainThreadCpuUs()
    const r = await runLoad({ mode: 'sales', host: url.hostname, port: Number(url.port), credentials, salesPerClient: opts.salesPerCabinet, batchSize: opts.batchSize, window: opts.window })
    const serverCpuMs = cpuMsSince(cpu0)
    const main1 = mainThreadCpuUs()
    // The event loop's share: what a worker thread could take off it is the rest.
    const mainThreadUsPerMessage = main0 !== null && main1 !== null ? +((main1 - main0) / r.messages).toFixed(1) : null
    // Read back what the server says it holds, so the figure counts committed sales only.
    let stored = 0
    for (const c of credentials) {
      const res = await fetch(`${fleet.httpUrl}/api/v1/cabinets/${c.username}`, { headers: { authorization: `Bearer ${ADMIN}` } })
      stored += ((await res.json()) as { sales: { count: number } }).sales.count
    }
    return { ...opts, ...r, stored, serverCpuMs, ...cpuPerMessage(r, serverCpuMs), mainThreadUsPerMessage }
  } finally {
    await fleet.close()
    await rm(dir, { recursive: true, force: true })
  }
}

export function cpuMsSince(start: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(start)
  return (u.user + u.system) / 1000
}

/**
 * CPU per message of the server (this process, over the load's whole run incl.
 * connecting) and of the load generator (its timed window): on 2 cores the two
 * share the machine, so these say where a message's cost goes.
 */
export function cpuPerMessage(r: { messages: number; cpuMs?: number }, serverCpuMs: number) {
  return {
    serverCpuUsPerMessage: +((serverCpuMs * 1000) / r.messages).toFixed(1),
    loadgenCpuUsPerMessage: r.cpuMs === undefined ? null : +((r.cpuMs * 1000) / r.messages).toFixed(1),
  }
}
