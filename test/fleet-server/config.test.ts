import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { BUNDLED_PLANS } from '../../shared/src/index.js'
import { DEFAULT_MQTT_MAX_CONNECTIONS, loadConfig } from '../../fleet-server/src/config.js'
import { tempDir } from '../helpers/fleet.js'

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
})
