// Restore from a backup, end to end with real processes (issue 13): a fleet
// server and two edge agents selling; `fleetctl db backup`; more sales the
// server acknowledges after it; the server stopped and its data dir
// destroyed; the backup restored as the README says; the server started
// again. The agents' outboxes are the truth: the server, now behind what it
// acknowledged, answers SALE_SEQ_GAP with the seq it needs to a cabinet that
// sends, asks an idle one (from its heartbeat) with a resync command, and the
// agents resend from there. In the end the server holds every sale, once, in order.
import { copyFile, mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { GENESIS_HASH, saleHash } from '../../shared/src/index.js'
import { run } from '../../fleet-server/src/cli/fleetctl.js'
import { DB_FILE } from '../../fleet-server/src/db/index.js'
import { allServerSales, apiClient, provisionCabinet } from '../helpers/api.js'
import { tempDir } from '../helpers/fleet.js'
import { freePort, startProgram, type Program } from '../helpers/process.js'
import { onPostgres } from '../helpers/test-db.js'

const ADMIN = 'restore-admin-token-0123456789'

interface Status { lastSeq: number; lastAckedSeq: number; pending: number }

async function sell(agent: Program, n: number): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < n; i++) {
    const res = await fetch(`http://127.0.0.1:${agent.ready.api}/sales`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ items: [{ sku: `DY-HONEY-${i % 3}`, qty: 1 + (i % 2), unitPriceFen: 1990 + i }], payment: 'wechat' }),
    })
    expect(res.status).toBe(201)
    ids.push(((await res.json()) as { saleId: string }).saleId)
  }
  return ids
}

const status = async (agent: Program): Promise<Status> => (await (await fetch(`http://127.0.0.1:${agent.ready.api}/status`)).json()) as Status

/** Waits until the server has acknowledged everything the agent holds. */
async function drained(agent: Program): Promise<Status> {
  await expect.poll(async () => { const s = await status(agent); return s.pending === 0 && s.lastAckedSeq === s.lastSeq }, { timeout: 30_000, interval: 100 }).toBe(true)
  return status(agent)
}

// SQLite's own backups; PostgreSQL is restored with its own tools (pg_dump, replication).
describe.skipIf(onPostgres)('restore from a backup', () => {
  it('after a restore the agents resend what the server acknowledged after the backup, and nothing acknowledged is lost', async () => {
    const dataDir = await tempDir('restore-fleet-')
    const ports = { http: await freePort(), mqtt: await freePort() }
    const env = {
      FLEET_DATA_DIR: dataDir, FLEET_HTTP_PORT: String(ports.http), FLEET_MQTT_PORT: String(ports.mqtt),
      FLEET_ADMIN_TOKEN: ADMIN, FLEET_BACKUP_SCHEDULE: 'off', FLEET_REPORTS_SCHEDULE: 'off', FLEET_LOG_REQUESTS: 'false',
    }
    const startServer = async () => {
      const p = await startProgram('fleet-server/src/main.ts', [], { env })
      onTestFinished(() => { void p.kill('SIGKILL') })
      return p
    }
    let server = await startServer()
    const httpUrl = `http://127.0.0.1:${ports.http}`
    const api = apiClient(httpUrl, ADMIN)

    const agents: Array<{ cabinetId: string; program: Program }> = []
    for (const [i, site] of [['定远县汽车站', '车站'], ['滁州学院', '高校']].entries()) {
      const cab = await provisionCabinet(api, { countyCode: '341125', siteName: site[0], venueType: site[1] })
      const agentDir = await tempDir(`restore-agent-${i}-`)
      const program = await startProgram('edge-agent/src/main.ts', [
        '--cabinet', cab.cabinetId, '--password', cab.mqtt.password, '--data', agentDir, '--server', `mqtt://127.0.0.1:${ports.mqtt}`,
        '--api-port', '0', '--backoff-min-ms', '50', '--backoff-max-ms', '300', '--ack-timeout-ms', '1500',
      ])
      onTestFinished(() => { void program.kill('SIGKILL') })
      agents.push({ cabinetId: cab.cabinetId, program })
    }
    const [a, b] = agents as [typeof agents[0], typeof agents[0]]
    const sold = new Map<string, string[]>(agents.map((x) => [x.cabinetId, []]))
    const sellOn = async (x: typeof a, n: number) => sold.get(x.cabinetId)!.push(...(await sell(x.program, n)))

    // Before the backup.
    await Promise.all([sellOn(a, 12), sellOn(b, 8)])
    await Promise.all(agents.map((x) => drained(x.program)))

    const file = join(await tempDir('restore-backup-'), 'city.db')
    const out: string[] = []
    const err: string[] = []
    expect(await run(['db', 'backup', file], { FLEET_URL: httpUrl, FLEET_TOKEN: ADMIN }, { out: (l) => out.push(l), err: (l) => err.push(l) }), err.join('\n')).toBe(0)

    // After the backup: acknowledged by the server, then lost with its disk.
    await Promise.all([sellOn(a, 10), sellOn(b, 9)])
    const acked = await Promise.all(agents.map((x) => drained(x.program)))
    expect(acked.map((s) => s.lastAckedSeq)).toEqual([22, 17])
    for (const x of agents) expect((await allServerSales(api, x.cabinetId)).length).toBe(sold.get(x.cabinetId)!.length)

    // Disaster and the README's restore: stop, replace the data dir's database with the backup (no -wal/-shm), start.
    expect(await server.kill('SIGTERM')).toBe(0)
    await rm(dataDir, { recursive: true, force: true })
    // Cabinet A keeps trading while the server is down; B stays idle to the end.
    await sellOn(a, 5)
    await mkdir(dataDir, { recursive: true })
    await copyFile(file, join(dataDir, DB_FILE))
    server = await startServer()

    // A resends on SALE_SEQ_GAP; idle B, with nothing pending, is asked to by a resync command.
    for (const x of agents) {
      await expect.poll(async () => (await allServerSales(api, x.cabinetId)).length, { timeout: 30_000, interval: 100 }).toBe(sold.get(x.cabinetId)!.length)
    }
    const final = await Promise.all(agents.map((x) => drained(x.program)))
    expect(final.map((s) => s.lastSeq)).toEqual([27, 17])

    for (const x of agents) {
      const sales = await allServerSales(api, x.cabinetId)
      const ids = sales.map((s) => s.saleId)
      // Every sale the agent answered 201 for, once each, gapless, in one intact chain.
      expect(ids).toEqual(sold.get(x.cabinetId))
      expect(sales.map((s) => s.seq)).toEqual(Array.from({ length: ids.length }, (_, i) => i + 1))
      let prev = GENESIS_HASH
      for (const s of sales) {
        expect(s.prevHash).toBe(prev)
        expect(saleHash(x.cabinetId, s)).toBe(s.hash)
        prev = s.hash
      }
      const cab = await api.get<{ sales: { count: number; lastSeq: number } }>(`/api/v1/cabinets/${x.cabinetId}`)
      expect(cab.body.sales).toMatchObject({ count: ids.length, lastSeq: ids.length })
    }
    expect(await server.kill('SIGTERM')).toBe(0)
  })
})
