// Runs the load generator in a child process and returns its JSON result.
import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { LoadResult, LoadSpec } from './loadgen.js'

const ROOT = join(import.meta.dirname, '..')

export async function runLoad(spec: LoadSpec, timeoutMs = 300_000): Promise<LoadResult> {
  const file = join(tmpdir(), `loadspec-${process.pid}-${Date.now()}.json`)
  await writeFile(file, JSON.stringify(spec))
  const child = spawn(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'bench/loadgen.ts'), file], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)))
  clearTimeout(timer)
  const line = out.trim().split('\n').pop() ?? ''
  if (code !== 0 || !line.startsWith('{')) throw new Error(`load generator failed (exit ${code}): ${out.slice(-500)}`)
  return JSON.parse(line) as LoadResult
}
