// Several brokers for one fleet (the MQTT listeners of a NATS cluster's
// nodes, issue 14): a failed connection attempt moves on to the next one in
// turn, so a cabinet whose node died is back on another after one backoff wait.
//
// mqtt.js' own `servers` option rotates too, but keeps the TLS server name of
// the first host for every later one (connect/tls.ts sets it only when
// unset), so a failover to another host name would fail verification. Here
// each attempt gets fresh options built from its own URL, handed to mqtt.js'
// stream builder for the protocol (the package is pinned: these are internal paths).
import { createRequire } from 'node:module'
import type { IClientOptions, MqttClient } from 'mqtt'
import type { IStream, StreamBuilder } from 'mqtt/lib/shared'

// CommonJS modules with an `exports.default`: required, so the function is
// the same under tsx and the compiled build.
const require = createRequire(import.meta.url)
const buildTcp = (require('mqtt/lib/connect/tcp') as { default: StreamBuilder }).default
const buildTls = (require('mqtt/lib/connect/tls') as { default: StreamBuilder }).default
const buildWs = (require('mqtt/lib/connect/ws') as { streamBuilder: StreamBuilder }).streamBuilder

type Protocol = 'mqtt' | 'mqtts' | 'tcp' | 'tls' | 'ws' | 'wss'

export interface BrokerAddress {
  readonly url: string
  readonly protocol: Protocol
  readonly host: string
  readonly port: number
  /** ws/wss only: the HTTP path (mqtt.js' default /mqtt when the URL has none). */
  readonly path: string | undefined
}

const DEFAULT_PORTS: Record<Protocol, number> = { mqtt: 1883, tcp: 1883, mqtts: 8883, tls: 8883, ws: 80, wss: 443 }

/** A validated broker URL (config.ts checked the scheme) as the stream builders take it. */
export function brokerAddress(url: string): BrokerAddress {
  const u = new URL(url)
  const protocol = u.protocol.slice(0, -1) as Protocol
  // new URL keeps IPv6 literals bracketed; sockets want them bare.
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1')
  const isWs = protocol === 'ws' || protocol === 'wss'
  return {
    url,
    protocol,
    host,
    port: u.port === '' ? DEFAULT_PORTS[protocol] : Number(u.port),
    path: isWs && u.pathname !== '/' ? u.pathname + u.search : undefined,
  }
}

/**
 * Where a cabinet starts in the list: spread over the servers by its id
 * (FNV-1a), and the same after every restart, so a fleet divides evenly
 * over a cluster's nodes without any coordination.
 */
export function startIndex(cabinetId: string, servers: number): number {
  let h = 0x811c9dc5
  for (let i = 0; i < cabinetId.length; i++) {
    h ^= cabinetId.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h % servers
}

/**
 * The brokers of one agent, taken in turn from its own starting point. After
 * a connection that came up, the next attempt goes back to the same broker
 * (a blip on the line should not move the cabinet); after a failed attempt,
 * to the next one.
 */
export class ServerRotation {
  private readonly addresses: readonly BrokerAddress[]
  private index: number
  private hasAttempted = false
  private wasUp = false

  constructor(servers: readonly string[], cabinetId: string) {
    if (servers.length === 0) throw new Error('no broker URL')
    this.addresses = servers.map(brokerAddress)
    this.index = startIndex(cabinetId, servers.length)
  }

  /** The broker of the latest attempt (before any: the first one to be tried). */
  get server(): BrokerAddress {
    return this.addresses[this.index]!
  }

  /** The latest attempt's connection came up. */
  up(): void {
    this.wasUp = true
  }

  /** The broker for the next connection attempt. */
  take(): BrokerAddress {
    if (this.hasAttempted && !this.wasUp) this.index = (this.index + 1) % this.addresses.length
    this.hasAttempted = true
    this.wasUp = false
    return this.addresses[this.index]!
  }
}

/** Opens the byte stream to one broker with mqtt.js' builder for its protocol, on options of its own. */
export function openBrokerStream(client: MqttClient, base: IClientOptions, to: BrokerAddress): IStream {
  const protocol = to.protocol === 'tcp' ? 'mqtt' : to.protocol === 'tls' ? 'mqtts' : to.protocol
  const opts: IClientOptions = { ...base, protocol, host: to.host, hostname: to.host, port: to.port }
  delete opts.servername
  delete opts.path
  switch (to.protocol) {
    case 'mqtt':
    case 'tcp':
      return buildTcp(client, opts)
    case 'mqtts':
    case 'tls':
      return buildTls(client, opts)
    case 'ws':
    case 'wss':
      if (to.path !== undefined) opts.path = to.path
      return buildWs(client, opts)
  }
}
