// Fleet server ingest: real fleet server (embedded aedes + SQLite, durable
// group commit), cabinets provisioned through the HTTP API, load from the
// light generator in another process waiting for each application ack.
import { createHash, generateKeyPairSync } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { buildFleet } from '../fleet-server/src/app.js'
import { loadConfig } from '../fleet-server/src/config.js'
import { signBatch, verifyBatch } from '../shared/src/index.js'
import { runLoad } from './child.js'
import { mainThreadCpuUs } from './thread-cpu.js'

const ADMIN = 'bench-admin-token-0123456789'

/** `signed`: every cabinet enrolled with an Ed25519 key (bootstrap code + /enroll) and every batch signed (issue 16 §2). */
export async function serverIngest(opts: { cabinets: number; salesPerCabinet: number; batchSize: number; window: number; signed?: boolean }, env: Record<string, string> = {}) {
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
      const body = (await res.json()) as { cabinetId: string; mqtt: { username: string; password: string } }
      credentials.push(opts.signed ? await enrolled(fleet.httpUrl, body.cabinetId) : body.mqtt)
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

/** Enrolls a cabinet as `edge-agent enroll` does: its new MQTT login and the private key it registered. */
async function enrolled(httpUrl: string, cabinetId: string): Promise<{ username: string; password: string; signingKeyPem: string }> {
  const issued = await fetch(`${httpUrl}/api/v1/cabinets/${cabinetId}/bootstrap-code`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } })
  const { code } = (await issued.json()) as { code: string }
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const res = await fetch(`${httpUrl}/api/v1/enroll`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code, publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString() }),
  })
  if (!res.ok) throw new Error(`enrolling ${cabinetId} failed: ${res.status} ${await res.text()}`)
  const { mqtt } = (await res.json()) as { mqtt: { username: string; password: string } }
  return { ...mqtt, signingKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() }
}

/**
 * Server CPU of one signature check (shared verifyBatch) of a batch of
 * `size` hashes, µs: the part of signed ingest the ratio above cannot
 * isolate on a shared 2-core machine.
 */
export function verifyCostUs(size: number, rounds = 2000): number {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const hashes = Array.from({ length: size }, (_, i) => createHash('sha256').update(String(i)).digest('hex'))
  const batchId = '0190a0b4-0000-7000-8000-0000000000aa'
  const sig = signBatch(privateKey, '341125-00001', batchId, hashes)
  for (let i = 0; i < 200; i++) verifyBatch(publicKey, '341125-00001', batchId, hashes, sig)
  const t0 = performance.now()
  for (let i = 0; i < rounds; i++) if (!verifyBatch(publicKey, '341125-00001', batchId, hashes, sig)) throw new Error('signature did not verify')
  return +(((performance.now() - t0) * 1000) / rounds).toFixed(1)
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
