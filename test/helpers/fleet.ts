// A real fleet server for tests (embedded aedes on port 0, SQLite in a temp
// dir, silent logs), closed and removed when the test ends; and real mqtt.js
// cabinets that talk to it.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { pino, type Logger } from 'pino'
import { expect, onTestFinished } from 'vitest'
import { buildFleet, type Fleet } from '../../fleet-server/src/app.js'
import { loadConfig, type FleetConfig } from '../../fleet-server/src/config.js'
import { ReplyMsg, topics, type SaleBatchMsg } from '../../shared/src/index.js'
import { testDatabaseEnv } from './test-db.js'

export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789abcdef'

export async function tempDir(prefix = 'fleet-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  return dir
}

export interface StartFleetOptions {
  /** Reuse a data dir (restart tests); a fresh temp dir otherwise. */
  dataDir?: string
  logger?: Logger
  now?: () => Date
  /** Keep the fleet open after the test (the test closes it). */
  manualClose?: boolean
}

/** The config of a fleet under test on `dataDir`: ports 0, silent, its own database; `env` overrides win. */
export async function testFleetConfig(dataDir: string, env: Record<string, string> = {}): Promise<FleetConfig> {
  return loadConfig(
    {
      FLEET_DATA_DIR: dataDir,
      FLEET_HTTP_PORT: '0',
      FLEET_MQTT_PORT: '0',
      FLEET_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      LOG_LEVEL: 'silent',
      FLEET_LOG_REQUESTS: 'false',
      // The report job runs on the real clock's hour; on, it would write scheduled
      // reports into whatever test is running at :00 (tests of the job turn it on).
      FLEET_REPORTS_SCHEDULE: 'off',
      // FLEET_TEST_DB=postgres: this data dir's own database on the run's PostgreSQL.
      ...(await testDatabaseEnv(dataDir)),
      ...env,
    },
    [],
  )
}

/** Starts a fleet server with test defaults; env overrides win. */
export async function startFleet(env: Record<string, string> = {}, opts: StartFleetOptions = {}): Promise<Fleet> {
  const dataDir = opts.dataDir ?? (await tempDir())
  const config = await testFleetConfig(dataDir, env)
  const fleet = await buildFleet(config, { logger: opts.logger ?? pino({ level: 'silent' }), ...(opts.now && { now: opts.now }) })
  if (!opts.manualClose) onTestFinished(() => fleet.close())
  return fleet
}

/** HTTP through Fastify's inject (no socket), as `token`. */
export async function api<T = Record<string, unknown>>(
  fleet: Fleet,
  method: 'GET' | 'POST' | 'PATCH' | 'PUT',
  url: string,
  body?: unknown,
  token: string | null = fleet.adminToken,
): Promise<{ status: number; body: T }> {
  const res = await fleet.http.inject({
    method,
    url,
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
    ...(body !== undefined && { payload: body as Record<string, unknown> }),
  })
  return { status: res.statusCode, body: (res.body ? JSON.parse(res.body) : null) as T }
}

export interface Provisioned {
  cabinetId: string
  mqtt: { username: string; password: string }
}

export async function provision(fleet: Fleet, body: Record<string, unknown> = { countyCode: '341125' }, token?: string): Promise<Provisioned> {
  const r = await api<Provisioned>(fleet, 'POST', '/api/v1/cabinets', body, token ?? fleet.adminToken)
  expect(r.status, JSON.stringify(r.body)).toBe(201)
  return r.body
}

export interface TestCabinet {
  readonly cabinetId: string
  readonly client: MqttClient
  /** Every reply received on the cabinet's replies topic, in order. */
  readonly replies: ReplyMsg[]
  /** Publishes a batch (QoS 1) and waits for the reply carrying its batchId. */
  send(batch: SaleBatchMsg): Promise<ReplyMsg>
  /** Publishes raw bytes on the cabinet's sales topic and waits for the next new reply. */
  sendRaw(payload: Buffer | string): Promise<ReplyMsg>
  close(): Promise<void>
}

/** An mqtt.js cabinet logged in with its credentials and subscribed to its replies. */
export async function connectCabinet(mqttUrl: string, cab: Provisioned, opts: IClientOptions = {}): Promise<TestCabinet> {
  const client = await mqtt.connectAsync(mqttUrl, {
    clientId: cab.cabinetId,
    username: cab.mqtt.username,
    password: cab.mqtt.password,
    reconnectPeriod: 0,
    ...opts,
  }, false)
  onTestFinished(() => client.endAsync(true))
  const replies: ReplyMsg[] = []
  client.on('message', (topic, payload) => {
    if (topic === topics.replies(cab.cabinetId)) replies.push(ReplyMsg.parse(JSON.parse(payload.toString())))
  })
  const granted = await client.subscribeAsync(topics.replies(cab.cabinetId), { qos: 1 })
  expect(granted[0]?.qos).toBe(1)

  const waitFor = async (pred: (r: ReplyMsg) => boolean): Promise<ReplyMsg> => {
    let found: ReplyMsg | undefined
    await expect.poll(() => (found = replies.find(pred)), { timeout: 10_000, interval: 5 }).toBeDefined()
    return found!
  }
  return {
    cabinetId: cab.cabinetId,
    client,
    replies,
    async send(batch) {
      await client.publishAsync(topics.sales(cab.cabinetId), JSON.stringify(batch), { qos: 1 })
      return waitFor((r) => r.batchId === batch.batchId)
    },
    async sendRaw(payload) {
      const seen = replies.length
      await client.publishAsync(topics.sales(cab.cabinetId), payload, { qos: 1 })
      return waitFor((r) => replies.indexOf(r) >= seen)
    },
    close: () => client.endAsync(true),
  }
}

/** Resolves when the client is disconnected (or rejects after the poll timeout). */
export async function expectDisconnected(client: MqttClient): Promise<void> {
  await expect.poll(() => client.connected, { timeout: 10_000 }).toBe(false)
}
