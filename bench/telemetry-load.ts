// Telemetry load for bench/telemetry.ts: every credential connects (raw
// mqtt-packet, its own process so the server keeps a core), then commands on
// stdin: `round MS` sends one reading per cabinet spread evenly over MS
// (QoS 0, as the agent sends them) and prints {"event":"sent"}; `loop MS`
// repeats rounds until `stop` ({"event":"stopped"}); `quit` ends.
import { readFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { createInterface } from 'node:readline'
import { randomUUID } from 'node:crypto'
import mqttPacket from 'mqtt-packet'
import { topics, type TelemetryMsg } from '../shared/src/index.js'

export interface TelemetryLoadSpec {
  host: string
  port: number
  credentials: Array<{ username: string; password: string }>
  concurrency: number
}

const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as TelemetryLoadSpec
const emit = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`)

function open(auth: { username: string; password: string }): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect(spec.port, spec.host)
    sock.setNoDelay(true)
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    parser.on('packet', (p) => {
      if (p.cmd !== 'connack') return
      if ((p as mqttPacket.IConnackPacket).returnCode === 0) resolve(sock)
      else reject(new Error(`${auth.username}: connack ${(p as mqttPacket.IConnackPacket).returnCode}`))
    })
    sock.on('data', (d) => parser.parse(d))
    sock.once('error', reject)
    sock.once('connect', () =>
      sock.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: auth.username, keepalive: 600, username: auth.username, password: Buffer.from(auth.password) })),
    )
  })
}

const t0 = performance.now()
const socks: Socket[] = new Array<Socket>(spec.credentials.length)
let next = 0
await Promise.all(
  Array.from({ length: spec.concurrency }, async () => {
    while (next < spec.credentials.length) {
      const i = next++
      socks[i] = await open(spec.credentials[i]!)
    }
  }),
)
emit({ event: 'connected', connected: socks.length, ms: Math.round(performance.now() - t0) })

const instance = spec.credentials.map(() => randomUUID())
let sentTotal = 0
function reading(i: number, round: number): Buffer {
  const cabinetId = spec.credentials[i]!.username
  const msg: TelemetryMsg = {
    v: 1, type: 'telemetry', cabinetId, sentAt: new Date().toISOString(), agentInstanceId: instance[i]!, agentVersion: 'bench', chilled: i % 3 === 0,
    temperatureC: 4 + ((i + round) % 7), doorOpen: (i + round) % 50 === 0, doorOpenSince: (i + round) % 50 === 0 ? new Date().toISOString() : null,
    faults: (i + round) % 97 === 0 ? [{ module: 'vending', code: 'M3' }] : [], diskUsedPct: 30 + (i % 50), outboxPending: 0, outboxOldestAgeS: 0, ledgerBytes: 1_048_576,
  }
  return mqttPacket.generate({ cmd: 'publish', topic: topics.telemetry(cabinetId), payload: Buffer.from(JSON.stringify(msg)), qos: 0, retain: false, dup: false })
}

/** One reading per cabinet, spread evenly over `spreadMs` in 10 ms ticks. */
async function round(spreadMs: number, n: number): Promise<number> {
  const started = performance.now()
  const total = socks.length
  let i = 0
  while (i < total) {
    const due = Math.min(total, Math.ceil(((performance.now() - started + 10) / spreadMs) * total))
    for (; i < due; i++) socks[i]!.write(reading(i, n))
    if (i < total) await new Promise((r) => setTimeout(r, 10))
  }
  sentTotal += total
  return performance.now() - started
}

let looping = false
let stopped: Promise<void> | null = null
const rl = createInterface({ input: process.stdin })
rl.on('line', (line) => {
  const [cmd, arg] = line.trim().split(' ')
  const ms = Number(arg)
  if (cmd === 'round') {
    void round(ms, 0).then((took) => emit({ event: 'sent', sent: socks.length, ms: Math.round(took) }))
  } else if (cmd === 'loop') {
    looping = true
    stopped = (async () => {
      let n = 0
      while (looping) await round(ms, ++n)
    })()
  } else if (cmd === 'stop') {
    looping = false
    void stopped?.then(() => emit({ event: 'stopped', sent: sentTotal }))
  } else if (cmd === 'quit') {
    for (const s of socks) s.destroy()
    process.exit(0)
  }
})
