// Connections held: N authenticated cabinets on one fleet server (a child
// process), its RSS against bare aedes holding the same N in another child
// process, connection N+1 refused at the cap, and a reconnect storm (every
// connection dropped at once and re-established). Load: bench/loadgen.ts in
// 'connect' mode (raw mqtt-packet sockets), in its own process.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { httpClient, pool } from '../simulators/src/fleet/provision.js'
import { COMPILED, FLEET_SERVER_TSX, NPM_START, rssMiB, startConnectLoad, startProgram } from './procs.js'

const ADMIN = 'bench-admin-token-0123456789'
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** CONN_NODE_ARGS='--cpu-prof --cpu-prof-dir=DIR' go to the bundled server's node (NODE_OPTIONS refuses --cpu-prof). */
async function startFleet(script: string, dataDir: string, maxConnections: number) {
  const server = await startProgram(script, [], {
    FLEET_DATA_DIR: dataDir, FLEET_HTTP_PORT: '0', FLEET_MQTT_PORT: '0', FLEET_ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'warn', FLEET_LOG_REQUESTS: 'false',
    // Scheduled reports and backups run on the wall clock (hourly): off, so no figure depends on when the bench ran.
    FLEET_REPORTS_SCHEDULE: 'false', FLEET_BACKUP_SCHEDULE: 'false',
    FLEET_MQTT_MAX_CONNECTIONS: String(maxConnections),
  }, 60_000, script === NPM_START ? (process.env.CONN_NODE_ARGS ?? '').split(' ').filter(Boolean) : [])
  const httpUrl = `http://127.0.0.1:${String(server.ready.http)}`
  return { server, httpUrl, http: httpClient(httpUrl, ADMIN) }
}

/** N cabinets created over HTTP, 32 in flight, spread over Chuzhou's counties: their MQTT credentials. */
async function provision(http: ReturnType<typeof httpClient>, count: number) {
  const counties = ['341102', '341103', '341122', '341124', '341125', '341126', '341181', '341182']
  return pool(Array.from({ length: count }, (_, i) => i), 32, async (i) => {
    const r = await http.call<{ cabinetId: string; mqtt: { username: string; password: string } }>('POST', '/api/v1/cabinets', { countyCode: counties[i % counties.length] })
    if (r.status !== 201) throw new Error(`provisioning failed: ${r.status} ${JSON.stringify(r.body)}`)
    return r.body.mqtt
  })
}

export async function connectionsHeld(opts: { connections: number; concurrency: number; log: (s: string) => void }) {
  const n = opts.connections
  const dir = await mkdtemp(join(tmpdir(), 'bench-conn-'))
  try {
    // The same server through the tsx loader (as tests run it), idle after the
    // same provisioning: what `npm start`'s bundle saves (issue 13, session 21).
    let rssIdleTsx: number
    {
      const tsx = await startFleet(FLEET_SERVER_TSX, join(dir, 'tsx'), n)
      try {
        await provision(tsx.http, n + 1)
        rssIdleTsx = rssMiB(tsx.server.pid)
      } finally {
        await tsx.server.stop()
      }
    }
    // The fleet server, as `npm start` runs it, with the cap at N.
    const { server, httpUrl, http } = await startFleet(NPM_START, join(dir, 'fleet'), n)
    let result
    try {
      opts.log(`bench: provisioning ${n + 1} cabinets over HTTP …`)
      const t0 = performance.now()
      const creds = await provision(http, n + 1)
      const provisionMs = performance.now() - t0
      const rssIdle = rssMiB(server.pid)
      opts.log(`bench: connecting ${n} cabinets to the fleet server …`)
      const { program: load, connected } = await startConnectLoad({
        mode: 'connect', host: '127.0.0.1', port: Number(server.ready.mqtt), credentials: creds.slice(0, n), concurrency: opts.concurrency, extra: creds[n]!, deadlineMs: 60_000,
      })
      await settle(2_000)
      const rssHeld = rssMiB(server.pid)
      load.send('extra')
      const extra = await load.nextEvent()
      const isAliveAfterExtra = (await fetch(`${httpUrl}/healthz`)).status === 200
      opts.log('bench: reconnect storm: every connection dropped and re-established at once …')
      load.send('storm')
      const storm = await load.nextEvent(120_000)
      await settle(1_000)
      const rssAfterStorm = rssMiB(server.pid)
      const isAliveAfterStorm = (await fetch(`${httpUrl}/healthz`)).status === 200
      await load.stop()
      result = { provisionMs: Math.round(provisionMs), rssIdleMiB: rssIdle, rssIdleTsxMiB: rssIdleTsx, rssHeldMiB: rssHeld, rssAfterStormMiB: rssAfterStorm, connected, extra, storm, isAliveAfterExtra, isAliveAfterStorm }
    } finally {
      await server.stop()
    }

    // Bare aedes holding the same N connections (same client ids), in its own process.
    opts.log(`bench: connecting ${n} clients to bare aedes …`)
    const aedes = await startProgram(COMPILED, ['bench/aedes-holder.ts'], {})
    let bare
    try {
      const rssIdle = rssMiB(aedes.pid)
      const creds = Array.from({ length: n }, (_, i) => ({ username: `bare-${i}`, password: 'x' }))
      const { program: load, connected } = await startConnectLoad({
        mode: 'connect', host: '127.0.0.1', port: Number(aedes.ready.mqtt), credentials: creds, concurrency: opts.concurrency, extra: { username: 'bare-extra', password: 'x' }, deadlineMs: 60_000,
      })
      await settle(2_000)
      bare = { rssIdleMiB: rssIdle, rssHeldMiB: rssMiB(aedes.pid), connected }
      await load.stop()
    } finally {
      await aedes.stop()
    }
    return { connections: n, fleet: result, bareAedes: bare }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
