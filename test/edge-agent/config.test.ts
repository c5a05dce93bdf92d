import { describe, expect, it } from 'vitest'
import { AppError } from '../../shared/src/index.js'
import { loadConfig, makeConfig } from '../../edge-agent/src/index.js'

function configError(fn: () => unknown): AppError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(AppError)
    expect(err).toMatchObject({ code: 'CONFIG_INVALID' })
    return err as AppError
  }
  throw new Error('expected CONFIG_INVALID')
}

describe('config', () => {
  it('reads the contract flags, defaults the username to the cabinet id, and freezes the result', () => {
    const c = loadConfig({}, ['--cabinet', 'C1', '--data', '/tmp/x', '--server', 'mqtt://10.0.0.1:1883', '--password', 'p', '--api-port', '0'])
    expect(c).toMatchObject({
      cabinetId: 'C1', dataDir: '/tmp/x', servers: ['mqtt://10.0.0.1:1883'], username: 'C1', password: 'p', apiPort: 0,
      heartbeatIntervalMs: 30_000, ackTimeoutMs: 10_000, batchMaxSales: 500, backoffMinMs: 500, backoffMaxMs: 30_000, logLevel: 'info',
    })
    expect(Object.isFrozen(c)).toBe(true)
  })

  it('takes EDGE_* variables, with flags winning over them', () => {
    const env = { EDGE_CABINET: 'ENV1', EDGE_DATA_DIR: '/env', EDGE_SERVER: 'mqtt://env:1', EDGE_USERNAME: 'u', EDGE_PASSWORD: 'pw', EDGE_API_PORT: '8123', LOG_LEVEL: 'warn', EDGE_BATCH_MAX_SALES: '50' }
    expect(loadConfig(env, [])).toMatchObject({ cabinetId: 'ENV1', dataDir: '/env', servers: ['mqtt://env:1'], username: 'u', password: 'pw', apiPort: 8123, logLevel: 'warn', batchMaxSales: 50 })
    expect(loadConfig(env, ['--cabinet', 'FLAG1', '--api-port', '9000', '--ack-timeout-ms', '500'])).toMatchObject({ cabinetId: 'FLAG1', apiPort: 9000, ackTimeoutMs: 500, dataDir: '/env' })
  })

  it('rejects missing and malformed values with a message naming the flag and its variable', () => {
    expect(configError(() => loadConfig({}, ['--data', '/tmp/x'])).message).toMatch(/--cabinet \(EDGE_CABINET\)/)
    const bad = configError(() => loadConfig({}, ['--cabinet', 'a/b', '--data', '/tmp/x', '--api-port', 'eighty', '--server', 'http://x']))
    expect(bad.message).toMatch(/✖/)
    expect(bad.message).toMatch(/--cabinet/)
    expect(bad.message).toMatch(/--api-port \(EDGE_API_PORT\)/)
    expect(bad.message).toMatch(/--server/)
    expect(configError(() => loadConfig({ EDGE_CABINET: 'C1', EDGE_DATA_DIR: '/x' }, ['--batch-max-sales', '501'])).message).toMatch(/--batch-max-sales/)
    expect(configError(() => loadConfig({ EDGE_CABINET: 'C1', EDGE_DATA_DIR: '/x', EDGE_API_PORT: '70000' }, [])).message).toMatch(/EDGE_API_PORT/)
  })

  it('rejects unknown flags and stray arguments (strict parsing)', () => {
    expect(configError(() => loadConfig({}, ['--cabinet', 'C1', '--data', '/x', '--colour', 'red'])).message).toMatch(/--colour[\s\S]*usage:/)
    expect(configError(() => loadConfig({}, ['--cabinet', 'C1', '--data', '/x', 'extra'])).message).toMatch(/usage:/)
  })

  it('builds a config from code with no HTTP API by default', () => {
    expect(makeConfig({ cabinetId: 'SIM-0001', dataDir: '/tmp/sim' })).toMatchObject({ apiPort: null, username: 'SIM-0001', servers: ['mqtt://127.0.0.1:1883'] })
    expect(configError(() => makeConfig({ cabinetId: 'C1', dataDir: '/x', backoffMinMs: 1_000, backoffMaxMs: 100 })).message).toMatch(/backoffMaxMs/)
  })
})
