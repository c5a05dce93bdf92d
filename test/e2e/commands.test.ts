// The contract's commands exactly as a user's script runs them: through npm,
// stopped with SIGTERM sent to the npm process itself.
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { describe, expect, it, onTestFinished } from 'vitest'
import { REPO_ROOT } from '../helpers/process.js'

async function npmRun(args: string[], env: Record<string, string>) {
  const child = spawn('npm', args, { cwd: REPO_ROOT, env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise<number | string>((r) => child.once('exit', (code, sig) => r(code ?? sig ?? -1)))
  onTestFinished(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.startsWith('{')) return
      const obj = JSON.parse(line) as Record<string, unknown>
      if (obj.event === 'ready') resolve(obj)
    })
    void exited.then((c) => reject(new Error(`npm ${args.join(' ')} exited ${c} before ready`)))
  })
  return { child, ready, exited }
}

describe('npm commands', () => {
  it('npm start serves /healthz and stops cleanly within 10 s on SIGTERM to npm', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'npm-start-'))
    onTestFinished(() => rm(dir, { recursive: true, force: true }))
    const { child, ready, exited } = await npmRun(['start'], { FLEET_DATA_DIR: dir, FLEET_HTTP_PORT: '0', FLEET_MQTT_PORT: '0' })
    const url = `http://127.0.0.1:${ready.http as number}/healthz`
    expect(await (await fetch(url)).json()).toEqual({ status: 'ok' })
    const t0 = Date.now()
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
    expect(Date.now() - t0).toBeLessThan(10_000)
    // The server itself is gone, not orphaned behind a dead npm.
    await expect(fetch(url)).rejects.toThrow()
  })

  it('npm start: two starts at once in one tree both come up and serve the dashboard', async () => {
    const started = await Promise.all([0, 1].map(async () => {
      const dir = await mkdtemp(join(tmpdir(), 'npm-start-'))
      onTestFinished(() => rm(dir, { recursive: true, force: true }))
      const run = await npmRun(['start'], { FLEET_DATA_DIR: dir, FLEET_HTTP_PORT: '0', FLEET_MQTT_PORT: '0' })
      onTestFinished(async () => {
        run.child.kill('SIGTERM')
        await run.exited
      })
      return run
    }))
    for (const { ready } of started) {
      // The bundle lives in dist/server/, away from the dashboard's files: found all the same.
      const res = await fetch(`http://127.0.0.1:${ready.http as number}/dashboard/`)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toMatch(/^text\/html/)
      expect(await res.text()).toContain('<html')
    }
  })

  it('npm run edge-agent records a sale with no broker and stops cleanly on SIGTERM to npm', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'npm-agent-'))
    onTestFinished(() => rm(dir, { recursive: true, force: true }))
    const { child, ready, exited } = await npmRun(['run', 'edge-agent', '--', '--cabinet', 'C-NPM-1', '--data', dir, '--server', 'mqtt://127.0.0.1:1', '--api-port', '0'], {})
    const res = await fetch(`http://127.0.0.1:${ready.api as number}/sales`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ items: [{ sku: 'FY-RICE', qty: 1, unitPriceFen: 3990 }], payment: 'cash' }),
    })
    expect(res.status).toBe(201)
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
  })
})
