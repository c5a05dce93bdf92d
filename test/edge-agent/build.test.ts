// The production start path (README "Running an edge agent in production"):
// `npm run build` compiles to dist/, and the compiled agent runs under plain
// node, without the tsx loader, with the V8 flag the README gives. ESM import
// specifiers and JSON imports have to survive compilation for that to work.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { aSale, startBroker, tempDir } from './helpers.js'

const ROOT = join(import.meta.dirname, '..', '..')

async function build(): Promise<{ code: number | null; output: string }> {
  const tsc = spawn(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  tsc.stdout.on('data', (d: Buffer) => (output += d.toString()))
  tsc.stderr.on('data', (d: Buffer) => (output += d.toString()))
  const [code] = (await once(tsc, 'exit')) as [number | null]
  return { code, output }
}

describe('npm run build', () => {
  it('emits an edge agent that runs under plain node, connects, takes a sale and stops on SIGTERM', { timeout: 120_000 }, async () => {
    const built = await build()
    expect(built.code, built.output).toBe(0)

    const broker = await startBroker()
    const dir = await tempDir()
    const child = spawn(process.execPath, [
      '--max-semi-space-size=1', '--single-threaded', join(ROOT, 'dist/edge-agent/src/main.js'),
      '--cabinet', 'C1', '--data', dir, '--server', broker.url, '--api-port', '0',
    ], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] })
    onTestFinished(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>

    let ready: { event: string; api: number } | undefined
    for await (const line of createInterface({ input: child.stdout })) {
      if (!line.startsWith('{')) continue
      const parsed = JSON.parse(line) as Record<string, unknown>
      if (parsed.event === 'ready') {
        ready = parsed as { event: string; api: number }
        break
      }
    }
    expect(ready?.api, stderr).toBeGreaterThan(0)
    const api = `http://127.0.0.1:${ready!.api}`
    await vi.waitFor(async () => {
      const s = (await (await fetch(`${api}/status`)).json()) as { connected: boolean }
      expect(s.connected).toBe(true)
    }, { timeout: 15_000, interval: 100 })
    const res = await fetch(`${api}/sales`, { method: 'POST', body: JSON.stringify(aSale()) })
    expect(res.status).toBe(201)

    child.kill('SIGTERM')
    const [code] = await exited
    expect(code, stderr).toBe(0)
  })
})
