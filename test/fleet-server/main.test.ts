// The program itself: `tsx fleet-server/src/main.ts` as a user starts it.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { describe, expect, it } from 'vitest'
import { startProgram } from '../helpers/process.js'
import { tempDir } from '../helpers/fleet.js'

describe('fleet-server main', () => {
  it('prints the admin token once and the ready line, serves /healthz, and exits 0 on SIGTERM', async () => {
    const dataDir = await tempDir()
    const env = { FLEET_DATA_DIR: dataDir, FLEET_HTTP_PORT: '0', FLEET_MQTT_PORT: '0', LOG_LEVEL: 'warn', FLEET_ADMIN_TOKEN: '' }
    const p = await startProgram('fleet-server/src/main.ts', [], { env })
    expect(p.ready).toEqual({ event: 'ready', http: expect.any(Number), mqtt: expect.any(Number) })
    const tokenLine = p.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((o) => o.event === 'admin-token')
    expect(tokenLine).toMatchObject({ token: expect.any(String), file: expect.stringContaining(dataDir) })

    const health = await fetch(`http://127.0.0.1:${p.ready.http as number}/healthz`)
    expect(await health.json()).toEqual({ status: 'ok' })
    const me = await fetch(`http://127.0.0.1:${p.ready.http as number}/api/v1/cabinets`, { headers: { authorization: `Bearer ${tokenLine!.token as string}` } })
    expect(me.status).toBe(200)

    const t0 = Date.now()
    expect(await p.kill('SIGTERM')).toBe(0)
    expect(Date.now() - t0).toBeLessThan(10_000)

    // Second start on the same data: the token is not printed again.
    const again = await startProgram('fleet-server/src/main.ts', [], { env })
    expect(again.lines.some((l) => l.includes('"admin-token"'))).toBe(false)
    expect(await again.kill('SIGINT')).toBe(0)
  })

  it('exits 2 with the reason on stderr when the configuration is invalid', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'fleet-server/src/main.ts'], {
      env: { ...process.env, FLEET_HTTP_PORT: 'not-a-port' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const [code] = (await once(child, 'exit')) as [number]
    expect(code).toBe(2)
    expect(stderr).toMatch(/invalid configuration[\s\S]*FLEET_HTTP_PORT/)
  })
})
