// Hostile MQTT sockets against a fleet server in its own process (issue 12,
// finding 3): silent sockets, half-sent huge CONNECTs, bad logins retried,
// byte-a-second CONNECTs, and logged-in cabinets retaining big payloads under
// many up/ topics, all from one address other than 127.0.0.1. Meanwhile a
// legitimate cabinet logs in from 127.0.0.1 and gets a sale committed. Reports
// the server's RSS (from /proc) before, at peak and after. Goal: 1,000 hostile
// sockets add < 64 MiB and the cabinet still gets in.
import { mkdtemp, rm } from 'node:fs/promises'
import { connect as tcpConnect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { MqttClient } from 'mqtt'
import mqttPacket from 'mqtt-packet'
import { topics, type ReplyMsg, type Sale } from '../shared/src/index.js'
import { aBatch, aChain } from '../test/helpers/sales.js'
import { NPM_START, rssMiB, startProgram } from './procs.js'

export interface HostileMix {
  /** Connect and send nothing. */
  readonly silent: number
  /** A CONNECT declaring ~1 MiB, all of it sent but the last byte. */
  readonly halfConnect: number
  /** Sockets that log in with a wrong password, again and again. */
  readonly badLogin: number
  /** A CONNECT sent one byte a second. */
  readonly slowLoris: number
  /** Logged-in cabinets, each retaining `retainTopics` × `retainBytes` under its up/ topics. */
  readonly retainers: number
  readonly retainTopics: number
  readonly retainBytes: number
}

/** 1,000 sockets in all. */
// 20 retainers × 20 × 128 KiB = 50 MiB the old broker kept for good. Each big
// publish also costs transient memory while it is read (up to ~3 × its size,
// for any message up to maxPacketBytes, retained or not), so more concurrent
// retainers measure that instead; it is bounded per connection, not stored.
export const DEFAULT_MIX: HostileMix = { silent: 300, halfConnect: 250, badLogin: 200, slowLoris: 230, retainers: 20, retainTopics: 20, retainBytes: 128 * 1024 }

export interface HostileTarget {
  readonly pid: number
  readonly httpUrl: string
  readonly mqttPort: number
  readonly adminToken: string
}

export interface HostileResult {
  readonly rssBeforeMiB: number
  readonly rssPeakMiB: number
  readonly rssAfterMiB: number
  readonly rssGrowthMiB: number
  readonly hostileSockets: number
  readonly silent: number
  readonly halfConnect: number
  readonly badLogin: number
  readonly badLoginAttempts: number
  readonly slowLoris: number
  readonly retainers: number
  readonly retainedBytesSent: number
  /** The legitimate cabinet, from 127.0.0.1, during the attack. */
  readonly legitConnectMs: number
  /** 1 when its sale was committed during the attack. */
  readonly legitSaleCommitted: number
}

const HOSTILE_ADDRESS = '127.0.0.2' // Linux routes all of 127/8 to lo
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Provisioned {
  cabinetId: string
  mqtt: { username: string; password: string }
}

async function provision(t: HostileTarget): Promise<Provisioned> {
  const res = await fetch(`${t.httpUrl}/api/v1/cabinets`, {
    method: 'POST',
    headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ countyCode: '341125' }),
  })
  if (res.status !== 201) throw new Error(`provisioning failed: ${res.status} ${await res.text()}`)
  return (await res.json()) as Provisioned
}

function openSocket(port: number, sockets: Socket[]): Promise<Socket | null> {
  return new Promise((resolve) => {
    const s = tcpConnect({ port, host: '127.0.0.1', localAddress: HOSTILE_ADDRESS }, () => resolve(s))
    s.on('error', () => resolve(null))
    sockets.push(s)
  })
}

/** The fleet server's logins from a cabinet that must still get in: connect time, then one sale committed. */
async function legitSale(t: HostileTarget, cab: Provisioned, sales: readonly Sale[]): Promise<{ connectMs: number; isCommitted: boolean }> {
  const t0 = performance.now()
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${t.mqttPort}`, { clientId: cab.cabinetId, username: cab.mqtt.username, password: cab.mqtt.password, reconnectPeriod: 0, connectTimeout: 10_000 }, false)
  const connectMs = performance.now() - t0
  try {
    const batch = aBatch(cab.cabinetId, sales)
    const reply = new Promise<ReplyMsg>((resolve) =>
      client.on('message', (_topic, payload) => {
        const r = JSON.parse(payload.toString()) as ReplyMsg
        if (r.batchId === batch.batchId) resolve(r)
      }),
    )
    await client.subscribeAsync(topics.replies(cab.cabinetId), { qos: 1 })
    await client.publishAsync(topics.sales(cab.cabinetId), JSON.stringify(batch), { qos: 1 })
    const r = await Promise.race([reply, settle(10_000).then(() => null)])
    return { connectMs, isCommitted: r?.status === 'committed' && r.ackedSeq === sales.at(-1)!.seq }
  } finally {
    await client.endAsync(true)
  }
}

/** Runs the attack against a running fleet server and measures it; closes every socket it opened. */
export async function runHostile(t: HostileTarget, mix: HostileMix = DEFAULT_MIX, holdMs = 2_000, log: (s: string) => void = () => {}): Promise<HostileResult> {
  const t0 = performance.now()
  const [legit, ...retainerCabs] = await Promise.all(Array.from({ length: mix.retainers + 1 }, () => provision(t)))
  // Warm up the paths the legitimate cabinet takes, so its first use is not counted as attack growth.
  const before = aChain(legit!.cabinetId, 1)
  if (!(await legitSale(t, legit!, before)).isCommitted) throw new Error('the legitimate cabinet got no sale committed before the attack')
  await settle(500)
  const rssBeforeMiB = rssMiB(t.pid)
  log(`hostile: provisioned and warmed up in ${Math.round(performance.now() - t0)} ms; RSS ${rssBeforeMiB.toFixed(1)} MiB`)
  let rssPeakMiB = rssBeforeMiB
  const sample = (): number => {
    try {
      return rssMiB(t.pid)
    } catch {
      return Number.NaN // the server died: NaN fails any comparison
    }
  }
  const sampler = setInterval(() => (rssPeakMiB = Math.max(rssPeakMiB, sample())), 50)
  const sockets: Socket[] = []
  const clients: mqtt.MqttClient[] = []
  const timers: NodeJS.Timeout[] = []
  let isStopped = false
  let badLoginAttempts = 0
  let retainedBytesSent = 0
  try {
    // Logged-in cabinets first: once the address has failed often enough it is refused, them included.
    await Promise.all(
      retainerCabs.map(async (cab) => {
        // mqtt.js' own TCP dialer takes no local address; dial it ourselves.
        const c = new MqttClient(() => tcpConnect({ port: t.mqttPort, host: '127.0.0.1', localAddress: HOSTILE_ADDRESS }), { clientId: cab.cabinetId, username: cab.mqtt.username, password: cab.mqtt.password, reconnectPeriod: 0 })
        c.on('error', () => {})
        clients.push(c)
        await new Promise<void>((resolve, reject) => {
          c.once('connect', () => resolve())
          c.once('close', () => reject(new Error(`hostile cabinet ${cab.cabinetId} could not log in`)))
        })
        const payload = Buffer.alloc(mix.retainBytes, 0x7a)
        for (let i = 0; i < mix.retainTopics; i++) {
          await c.publishAsync(`${topics.upPrefix(cab.cabinetId)}junk-${i}`, payload, { qos: 1, retain: true })
          retainedBytesSent += payload.length
        }
      }),
    )
    log(`hostile: retained payloads sent at ${Math.round(performance.now() - t0)} ms`)
    await Promise.all(Array.from({ length: mix.silent }, () => openSocket(t.mqttPort, sockets)))

    const connect = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'slow', keepalive: 60, username: 'slow', password: Buffer.from('x'.repeat(32)) })
    for (const s of await Promise.all(Array.from({ length: mix.slowLoris }, () => openSocket(t.mqttPort, sockets)))) {
      if (!s) continue
      let i = 0
      const drip = setInterval(() => (i < connect.length && !s.destroyed ? s.write(connect.subarray(i, ++i)) : clearInterval(drip)), 1_000)
      timers.push(drip)
    }

    // Just under the old 1 MiB cap, which the old broker buffered whole while
    // waiting for the last byte. (mqtt-packet cannot generate it: a CONNECT's
    // strings are at most 64 KiB each; the parser waits for Remaining Length first.)
    const huge = hugeConnectHead(1000 * 1024)
    for (const s of await Promise.all(Array.from({ length: mix.halfConnect }, () => openSocket(t.mqttPort, sockets)))) {
      if (s && !s.destroyed) s.write(huge)
    }

    const badLogin = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: legit!.cabinetId, keepalive: 60, username: legit!.cabinetId, password: Buffer.from('wrong-password') })
    const loops = Array.from({ length: mix.badLogin }, async () => {
      while (!isStopped) {
        badLoginAttempts++
        const s = await openSocket(t.mqttPort, sockets)
        if (s && !s.destroyed) {
          s.write(badLogin)
          // Bounded: a broker that never answers must not hang the run.
          await Promise.race([new Promise<void>((r) => (s.closed ? r() : s.once('close', () => r()))), settle(2_000)])
          s.destroy()
        }
        await settle(100)
      }
    })

    const tAttack = performance.now()
    const legitResult = await legitSale(t, legit!, aChain(legit!.cabinetId, 1, { after: before }))
    log(`hostile: legitimate sale ${legitResult.isCommitted ? 'committed' : 'NOT committed'} ${Math.round(performance.now() - tAttack)} ms into the attack`)
    await settle(holdMs)
    isStopped = true
    await Promise.all(loops)
    clearInterval(sampler)
    rssPeakMiB = Math.max(rssPeakMiB, sample())
    for (const s of sockets) s.destroy()
    await Promise.all(clients.map((c) => c.endAsync(true)))
    await settle(500)
    const rssAfterMiB = sample()
    const r2 = (x: number) => Math.round(x * 100) / 100
    const result: HostileResult = {
      rssBeforeMiB: r2(rssBeforeMiB),
      rssPeakMiB: r2(rssPeakMiB),
      rssAfterMiB: r2(rssAfterMiB),
      rssGrowthMiB: r2(rssPeakMiB - rssBeforeMiB),
      hostileSockets: mix.silent + mix.halfConnect + mix.badLogin + mix.slowLoris + mix.retainers,
      silent: mix.silent,
      halfConnect: mix.halfConnect,
      badLogin: mix.badLogin,
      badLoginAttempts,
      slowLoris: mix.slowLoris,
      retainers: mix.retainers,
      retainedBytesSent,
      legitConnectMs: Math.round(legitResult.connectMs),
      legitSaleCommitted: legitResult.isCommitted ? 1 : 0,
    }
    log(`hostile: ${JSON.stringify(result)}`)
    return result
  } finally {
    isStopped = true
    clearInterval(sampler)
    for (const x of timers) clearInterval(x)
    for (const s of sockets) s.destroy()
    for (const c of clients) c.end(true)
  }
}

/** `npm run bench` part: the same attack on a fleet server started as `npm start` runs it. */
export async function benchHostile(): Promise<Record<string, number>> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-hostile-'))
  const adminToken = 'bench-admin-token-0123456789'
  try {
    const server = await startProgram(NPM_START, [], {
      FLEET_DATA_DIR: dir, FLEET_HTTP_PORT: '0', FLEET_MQTT_PORT: '0', FLEET_ADMIN_TOKEN: adminToken, LOG_LEVEL: 'error', FLEET_LOG_REQUESTS: 'false',
    // Scheduled reports and backups run on the wall clock (hourly): off, so no figure depends on when the bench ran.
    FLEET_REPORTS_SCHEDULE: 'false', FLEET_BACKUP_SCHEDULE: 'false',
    })
    try {
      const r = await runHostile({ pid: server.pid, httpUrl: `http://127.0.0.1:${String(server.ready.http)}`, mqttPort: Number(server.ready.mqtt), adminToken })
      return { ...r, targetRssGrowthMiB: 64 }
    } finally {
      await server.stop()
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** A CONNECT fixed header declaring `remaining` bytes, then all of them but the last. */
function hugeConnectHead(remaining: number): Buffer {
  const varint: number[] = []
  let n = remaining
  do {
    let b = n % 128
    n = Math.floor(n / 128)
    if (n > 0) b |= 0x80
    varint.push(b)
  } while (n > 0)
  const variableHeader = Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0b1100_0010, 0, 60]) // "MQTT", level 4, user+password, keepalive 60 s
  const body = Buffer.alloc(remaining - 1, 0x61)
  variableHeader.copy(body)
  return Buffer.concat([Buffer.from([0x10, ...varint]), body])
}
