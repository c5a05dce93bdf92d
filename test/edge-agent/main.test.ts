import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { describe, expect, it, onTestFinished } from 'vitest'
import { aSale, tempDir } from './helpers.js'
import { api, provision, startFleet } from '../helpers/fleet.js'

const ROOT = join(import.meta.dirname, '..', '..')
const MAIN = join(ROOT, 'edge-agent', 'src', 'main.ts')

function spawnAgent(args: string[]) {
  // node --import tsx, as npm start runs it: the tsx CLI relays a SIGTERM to its
  // child and exits 143 if the child's answer takes over 30 ms (a loaded machine).
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] })
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let stderr = ''
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  return { child, exited, stderr: () => stderr }
}

describe('edge-agent CLI', () => {
  it('prints the ready line with no broker, accepts sales, and exits 0 on SIGTERM', async () => {
    const dir = await tempDir()
    const { child, exited } = spawnAgent(['--cabinet', 'C1', '--data', dir, '--server', 'mqtt://127.0.0.1:1', '--api-port', '0'])
    const lines = createInterface({ input: child.stdout })
    let ready: { event: string; api: number } | undefined
    for await (const line of lines) {
      const parsed = JSON.parse(line) as Record<string, unknown>
      if (parsed.event === 'ready') {
        ready = parsed as { event: string; api: number }
        expect(line).toBe(JSON.stringify({ event: 'ready', api: ready.api }))
        break
      }
    }
    expect(ready?.api).toBeGreaterThan(0)
    const res = await fetch(`http://127.0.0.1:${ready!.api}/sales`, { method: 'POST', body: JSON.stringify(aSale()) })
    expect(res.status).toBe(201)

    const t0 = Date.now()
    child.kill('SIGTERM')
    const [code] = await exited
    expect(code).toBe(0)
    expect(Date.now() - t0).toBeLessThan(10_000)
  })

  it('exits 2 with the reason on stderr when the config is invalid', async () => {
    const { exited, stderr } = spawnAgent(['--data', '/tmp/nowhere', '--api-port', 'x'])
    const [code] = await exited
    expect(code).toBe(2)
    expect(stderr()).toMatch(/invalid configuration[\s\S]*--cabinet/)
  })

  it('closes and exits 75 after a remote restart, so its supervisor starts it again (issue 16)', async () => {
    const fleet = await startFleet()
    const cab = await provision(fleet)
    const { child, exited } = spawnAgent([
      '--cabinet', cab.cabinetId, '--data', await tempDir(), '--server', fleet.mqttUrl,
      '--username', cab.mqtt.username, '--password', cab.mqtt.password, '--api-port', '0',
    ])
    const lines = createInterface({ input: child.stdout })
    for await (const line of lines) if ((JSON.parse(line) as { event?: string }).event === 'ready') break
    // The command is resent on the agent's presence, so it may be sent before the agent is online.
    const sent = await api<{ commandId: string }>(fleet, 'POST', `/api/v1/cabinets/${cab.cabinetId}/commands`, { kind: 'restart' })
    expect(sent.status).toBe(201)
    const [code] = await exited
    expect(code).toBe(75)
    await expect.poll(async () => (await api<{ state: string }>(fleet, 'GET', `/api/v1/commands/${sent.body.commandId}`)).body.state, { timeout: 10_000 }).toBe('done')
  })
})
