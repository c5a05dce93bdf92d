// The embedded broker on its own (real aedes on port 0), for tests of its
// limits that need options the fleet's config does not carry: a sink that
// records what reaches ingest, a fixed set of cabinet secrets, raw sockets
// from any loopback address (Linux routes all of 127/8 to lo).
import { connect as tcpConnect, type Socket } from 'node:net'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import mqttPacket from 'mqtt-packet'
import { pino } from 'pino'
import { onTestFinished } from 'vitest'
import { startEmbeddedBus, type BusSink, type EmbeddedBus, type EmbeddedBusOptions, type TransportRefusal, type UpMessage } from '../../fleet-server/src/broker/index.js'

export interface TestBus {
  readonly bus: EmbeddedBus
  readonly port: number
  /** Every up-message that reached the sink, in order. */
  readonly messages: UpMessage[]
  readonly refusals: TransportRefusal[]
  /** Registers a cabinet and returns its client options (client id = username = id). */
  cabinet(id: string): { clientId: string; username: string; password: string }
}

export async function startTestBus(opts: Partial<EmbeddedBusOptions> = {}): Promise<TestBus> {
  const secrets = new Map<string, string>()
  const messages: UpMessage[] = []
  const refusals: TransportRefusal[] = []
  const sink: BusSink = {
    message: (msg, done) => {
      messages.push(msg)
      done()
    },
    connected: () => {},
    disconnected: () => {},
    transportRefused: (reason) => refusals.push(reason),
  }
  const bus = await startEmbeddedBus(
    {
      host: '127.0.0.1',
      port: 0,
      maxConnections: 5_000,
      maxPacketBytes: 1024 * 1024,
      // The same check as the fleet's verifier, over an in-memory table.
      credentials: { verify: async (id, password) => secrets.get(id) === password.toString() },
      log: pino({ level: 'silent' }),
      ...opts,
    },
    sink,
  )
  onTestFinished(() => bus.close())
  return {
    bus,
    port: bus.port!,
    messages,
    refusals,
    cabinet(id) {
      const password = `secret-of-${id}`
      secrets.set(id, password)
      return { clientId: id, username: id, password }
    },
  }
}

/** An mqtt.js client; rejects (no retries) when the login is refused or the socket closes first. */
export async function mqttClient(port: number, opts: IClientOptions): Promise<MqttClient> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 5_000, ...opts }, false)
  onTestFinished(() => client.endAsync(true))
  return client
}

/** A raw TCP socket to the broker from `localAddress` (default 127.0.0.1). */
export function rawSocket(port: number, localAddress = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect({ port, host: '127.0.0.1', localAddress }, () => resolve(s))
    s.once('error', reject)
    onTestFinished(() => void s.destroy())
  })
}

/** Resolves once `s` is closed by the other side (or already is); rejects after `timeoutMs`. */
export function closed(s: Socket, timeoutMs = 5_000): Promise<void> {
  if (s.closed) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs)
    s.once('close', () => {
      clearTimeout(timer)
      resolve()
    })
  })
}

/** A raw CONNECT for `id` (clean session, keepalive 60 s). */
export function connectPacket(id: string, password: string): Buffer {
  return mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: id, keepalive: 60, username: id, password: Buffer.from(password) })
}

/** The CONNACK return code the broker answers `packet` with, or 'closed' when it closes the socket first. */
export async function connackFor(port: number, packet: Buffer, localAddress = '127.0.0.1'): Promise<number | 'closed'> {
  let s: Socket
  try {
    s = await rawSocket(port, localAddress)
  } catch {
    return 'closed'
  }
  return new Promise((resolve) => {
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    parser.on('packet', (p) => {
      if (p.cmd === 'connack') resolve((p as mqttPacket.IConnackPacket).returnCode ?? 0)
      s.destroy()
    })
    s.on('data', (d: Buffer) => parser.parse(d))
    s.on('error', () => {})
    s.once('close', () => resolve('closed'))
    s.write(packet)
  })
}
