import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { BUNDLED_PLANS } from '../../shared/src/index.js'
import { DEFAULT_MQTT_MAX_CONNECTIONS, loadConfig } from '../../fleet-server/src/config.js'
import { createNatsIdentityFile } from '../../fleet-server/src/nats/index.js'
import { tempDir } from '../helpers/fleet.js'
import { makeTestPki } from '../helpers/tls.js'

const noLimits = { nofileSoft: null }

describe('fleet config', () => {
  it('gives a working default with no environment at all', () => {
    const c = loadConfig({}, [], noLimits)
    expect(c).toMatchObject({
      host: '127.0.0.1',
      httpPort: 8080,
      mqtt: { port: 1883, url: null, username: null, password: null, maxConnections: DEFAULT_MQTT_MAX_CONNECTIONS, maxPacketBytes: 1024 * 1024 },
      adminToken: null,
      plan: { source: 'bundled:chuzhou-2020' },
      platform: { url: null, secret: null },
      logLevel: 'info',
      logRequests: true,
    })
    expect(c.dataDir).toBe(join(process.cwd(), 'data'))
    expect(c.plan.plan).toBe(BUNDLED_PLANS['chuzhou-2020'])
    expect(Object.isFrozen(c) && Object.isFrozen(c.mqtt)).toBe(true)
  })

  it('reads every contract variable, and flags mirror them', () => {
    const c = loadConfig(
      {
        FLEET_DATA_DIR: '/srv/fleet', FLEET_HOST: '0.0.0.0', FLEET_HTTP_PORT: '0', FLEET_MQTT_PORT: '0', FLEET_MQTT_URL: 'mqtt://10.0.0.5:1884',
        FLEET_MQTT_USERNAME: 'fleet', FLEET_MQTT_PASSWORD: 'pw', FLEET_ADMIN_TOKEN: 'tok', PLATFORM_URL: 'http://127.0.0.1:9/intake', PLATFORM_SECRET: 's',
        FLEET_LOG_REQUESTS: 'false',
      },
      ['--http-port', '9090'],
      noLimits,
    )
    expect(c).toMatchObject({
      dataDir: '/srv/fleet', host: '0.0.0.0', httpPort: 9090,
      mqtt: { port: 0, url: 'mqtt://10.0.0.5:1884', username: 'fleet', password: 'pw' },
      adminToken: 'tok', platform: { url: 'http://127.0.0.1:9/intake', secret: 's' }, logRequests: false,
    })
  })

  it('reads the trusted reverse proxies as addresses and CIDR ranges', () => {
    expect(loadConfig({}, [], noLimits).trustProxy).toEqual([])
    expect(loadConfig({ FLEET_TRUST_PROXY: '127.0.0.1, 10.0.0.0/8,::1' }, [], noLimits).trustProxy).toEqual(['127.0.0.1', '10.0.0.0/8', '::1'])
  })

  it('sizes the MQTT connection cap to the open-files limit, keeping headroom', () => {
    expect(loadConfig({}, [], { nofileSoft: 1024 }).mqtt.maxConnections).toBe(524)
    expect(loadConfig({}, [], { nofileSoft: 1_048_576 }).mqtt.maxConnections).toBe(DEFAULT_MQTT_MAX_CONNECTIONS)
    expect(loadConfig({ FLEET_MQTT_MAX_CONNECTIONS: '50' }, [], { nofileSoft: 1024 }).mqtt.maxConnections).toBe(50)
  })

  it('leaves V8 its own heap growing factor by default, takes a fixed one, and refuses nonsense', () => {
    expect(loadConfig({}, [], noLimits).heapGrowingPercent).toBe(0)
    expect(loadConfig({ FLEET_HEAP_GROWING_PERCENT: '50' }, [], noLimits).heapGrowingPercent).toBe(50)
    expect(loadConfig({ FLEET_HEAP_GROWING_PERCENT: '100' }, [], noLimits).heapGrowingPercent).toBe(100)
    for (const bad of ['-1', '1.5', 'lots']) expect(() => loadConfig({ FLEET_HEAP_GROWING_PERCENT: bad }, [], noLimits), bad).toThrow(/FLEET_HEAP_GROWING_PERCENT/)
  })

  it('reads FLEET_REQUIRE_SIGNED_SALES as on or off, off by default (issue 16 §2)', () => {
    expect(loadConfig({}, [], noLimits).requireSignedSales).toBe(false)
    expect(loadConfig({ FLEET_REQUIRE_SIGNED_SALES: 'on' }, [], noLimits).requireSignedSales).toBe(true)
    expect(loadConfig({ FLEET_REQUIRE_SIGNED_SALES: 'off' }, [], noLimits).requireSignedSales).toBe(false)
    expect(() => loadConfig({ FLEET_REQUIRE_SIGNED_SALES: 'yes' }, [], noLimits)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('FLEET_REQUIRE_SIGNED_SALES') }))
  })

  it('throws CONFIG_INVALID naming the problem', () => {
    expect(() => loadConfig({ FLEET_HTTP_PORT: 'eighty' }, [], noLimits)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('FLEET_HTTP_PORT') }))
    expect(() => loadConfig({ FLEET_LOG_REQUESTS: 'maybe' }, [], noLimits)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }))
    expect(() => loadConfig({ FLEET_MQTT_URL: 'http://x' }, [], noLimits)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }))
    expect(() => loadConfig({ FLEET_MQTT_USERNAME: 'u' }, [], noLimits)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('FLEET_MQTT_URL') }))
    expect(() => loadConfig({}, ['--bogus'], noLimits)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }))
    expect(() => loadConfig({ FLEET_TRUST_PROXY: '10.0.0.1,proxy.local' }, [], noLimits)).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('FLEET_TRUST_PROXY') }),
    )
  })

  it('loads a plan from a file, and refuses unknown or invalid plans', async () => {
    const dir = await tempDir()
    const plan = { ...BUNDLED_PLANS['chuzhou-2020']!, id: 'test-plan' }
    writeFileSync(join(dir, 'plan.json'), JSON.stringify(plan))
    expect(loadConfig({ FLEET_PLAN: join(dir, 'plan.json') }, [], noLimits).plan.plan.id).toBe('test-plan')
    expect(() => loadConfig({ FLEET_PLAN: 'atlantis-2030' }, [], noLimits)).toThrow(expect.objectContaining({ code: 'PLAN_NOT_FOUND' }))
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ ...plan, totalQuota: 1 }))
    expect(() => loadConfig({ FLEET_PLAN: join(dir, 'bad.json') }, [], noLimits)).toThrow(expect.objectContaining({ code: 'PLAN_INVALID', message: expect.stringContaining('totalQuota') }))
  })

  describe('TLS (issue 12)', () => {
    it('is off by default: plain MQTT on, no certificate, mqtts port 8883 reserved', () => {
      const c = loadConfig({}, [], noLimits)
      expect(c.tls).toBeNull()
      expect(c.mqtt).toMatchObject({ plain: true, tlsPort: 8883, ca: null })
    })

    it('reads the certificate, key and mqtts port, and can turn the plain listener off', async () => {
      const pki = await makeTestPki()
      const c = loadConfig({ FLEET_TLS_CERT: pki.certFile, FLEET_TLS_KEY: pki.keyFile, FLEET_MQTTS_PORT: '0', FLEET_MQTT_PLAIN: 'false' }, [], noLimits)
      expect(c.tls).toEqual({ cert: pki.cert.toString(), key: pki.key.toString() })
      expect(c.mqtt).toMatchObject({ plain: false, tlsPort: 0 })
      expect(Object.isFrozen(c.tls)).toBe(true)
      const flags = loadConfig({}, ['--tls-cert', pki.certFile, '--tls-key', pki.keyFile, '--mqtts-port', '9883'], noLimits)
      expect(flags.tls).not.toBeNull()
      expect(flags.mqtt.tlsPort).toBe(9883)
    })

    it('refuses one TLS file without the other, naming the missing one', async () => {
      const pki = await makeTestPki()
      expect(() => loadConfig({ FLEET_TLS_CERT: pki.certFile }, [], noLimits)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('FLEET_TLS_KEY is missing') }))
      expect(() => loadConfig({ FLEET_TLS_KEY: pki.keyFile }, [], noLimits)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('FLEET_TLS_CERT is missing') }))
    })

    it('refuses unreadable, non-PEM and mismatched certificate files', async () => {
      const pki = await makeTestPki()
      const garbage = join(pki.dir, 'garbage.pem')
      writeFileSync(garbage, 'not a certificate\n')
      const cases: Array<[Record<string, string>, string]> = [
        [{ FLEET_TLS_CERT: join(pki.dir, 'missing.pem'), FLEET_TLS_KEY: pki.keyFile }, 'FLEET_TLS_CERT'],
        [{ FLEET_TLS_CERT: garbage, FLEET_TLS_KEY: pki.keyFile }, 'is not a PEM certificate'],
        [{ FLEET_TLS_CERT: pki.certFile, FLEET_TLS_KEY: garbage }, 'is not a PEM private key'],
        // The CA's own key does not belong to the server certificate.
        [{ FLEET_TLS_CERT: pki.certFile, FLEET_TLS_KEY: join(pki.dir, 'test-ca.key') }, 'does not belong to the certificate'],
        [{ FLEET_MQTT_URL: 'mqtts://broker.example:8883', FLEET_MQTT_CA: garbage }, 'FLEET_MQTT_CA'],
      ]
      for (const [env, message] of cases) {
        expect(() => loadConfig(env, [], noLimits), message).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining(message) }))
      }
    })

    it('keeps the records in PostgreSQL with FLEET_DATABASE_URL, in SQLite under the data dir without it', () => {
      const pg = loadConfig({ FLEET_DATABASE_URL: 'postgres://fleet@127.0.0.1:5432/fleet', FLEET_DATA_DIR: '/tmp/x' }, [], noLimits)
      expect(pg.database).toEqual({ dialect: 'postgres', url: 'postgres://fleet@127.0.0.1:5432/fleet' })
      expect(loadConfig({ FLEET_DATA_DIR: '/tmp/x' }, [], noLimits).database).toEqual({ dialect: 'sqlite', dataDir: '/tmp/x' })
      expect(() => loadConfig({ FLEET_DATABASE_URL: 'mysql://x' }, [], noLimits)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }))
    })

    it('refuses an embedded broker with no listener at all', () => {
      expect(() => loadConfig({ FLEET_MQTT_PLAIN: 'false' }, [], noLimits)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('FLEET_MQTT_PLAIN') }))
      expect(() => loadConfig({ FLEET_MQTT_PLAIN: 'perhaps' }, [], noLimits)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }))
    })

    it('reads the CA of an external mqtts broker, only with FLEET_MQTT_URL', async () => {
      const pki = await makeTestPki()
      const c = loadConfig({ FLEET_MQTT_URL: 'mqtts://broker.example:8883', FLEET_MQTT_CA: pki.caFile }, [], noLimits)
      expect(c.mqtt.ca).toBe(pki.ca.toString())
      expect(() => loadConfig({ FLEET_MQTT_CA: pki.caFile }, [], noLimits)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('FLEET_MQTT_URL') }))
    })

    it('reads a NATS cluster (issue 14): its nodes, its MQTT listeners and the identity file, all or nothing', async () => {
      const dir = await tempDir()
      const identity = join(dir, 'nats-identity.json')
      writeFileSync(identity, JSON.stringify(createNatsIdentityFile()))
      const nats = { FLEET_NATS_URL: 'nats://10.0.0.1:4222, nats://10.0.0.2:4222', FLEET_NATS_IDENTITY: identity, FLEET_NATS_MQTT_URL: 'mqtt://10.0.0.1:1883,mqtt://10.0.0.2:1883' }
      const c = loadConfig(nats, [], noLimits)
      expect(c.nats).toMatchObject({ servers: ['nats://10.0.0.1:4222', 'nats://10.0.0.2:4222'], mqttUrls: ['mqtt://10.0.0.1:1883', 'mqtt://10.0.0.2:1883'], streamReplicas: 2 })
      expect(loadConfig({ ...nats, FLEET_NATS_STREAM_REPLICAS: '3' }, [], noLimits).nats!.streamReplicas).toBe(3)
      expect(loadConfig({}, [], noLimits).nats).toBeNull()
      const refused = (env: Record<string, string>, why: string) =>
        expect(() => loadConfig(env, [], noLimits)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining(why) }))
      refused({ ...nats, FLEET_NATS_IDENTITY: '' }, 'FLEET_NATS_IDENTITY')
      refused({ ...nats, FLEET_NATS_MQTT_URL: '' }, 'FLEET_NATS_MQTT_URL')
      refused({ ...nats, FLEET_MQTT_URL: 'mqtt://broker:1883' }, 'set one')
      refused({ ...nats, FLEET_NATS_URL: 'mqtt://10.0.0.1:4222' }, 'nats://')
      refused({ FLEET_NATS_IDENTITY: identity }, 'set FLEET_NATS_URL too')
      refused({ ...nats, FLEET_NATS_IDENTITY: join(dir, 'missing.json') }, 'not readable')
      writeFileSync(identity, '{"v":1}')
      refused(nats, 'operator')
    })
  })
})
