// Child processes for the benchmarks: programs that print a JSON ready line
// (the fleet server, a bare aedes holder, the edge agent), their RSS read from
// /proc, and the load generator driven line by line.
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { LoadSpec } from './loadgen.js'

export const ROOT = join(import.meta.dirname, '..')
/** The fleet server as `npm start` runs it: bundled by esbuild, plain node (fleet-server/start.mjs). */
export const NPM_START = 'fleet-server/start.mjs'
/** The same server through the tsx loader, as tests and `npm run cluster` run it. */
export const FLEET_SERVER_TSX = 'fleet-server/src/main.ts'
/** A bench program run as NPM_START runs the server (bench/compiled.mjs): `startProgram(COMPILED, [script, …args])`. */
export const COMPILED = 'bench/compiled.mjs'

/** Resident set size of a process, from /proc/PID/status (VmRSS), in MiB. */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) / 1024 : NaN
}

export interface Program {
  child: ChildProcess
  pid: number
  ready: Record<string, unknown>
  lines: string[]
  /** Next stdout line that is a JSON object with `event` (after those already read). */
  nextEvent(timeoutMs?: number): Promise<Record<string, unknown>>
  send(line: string): void
  stop(signal?: NodeJS.Signals): Promise<void>
}

/**
 * `node --import tsx SCRIPT ARGS` for a .ts script, plain `node NODE_ARGS SCRIPT ARGS`
 * for compiled .js (npm run build); never a wrapper, so the pid is the program's own.
 */
export async function startProgram(script: string, args: string[], env: Record<string, string>, readyTimeoutMs = 60_000, nodeArgs: string[] = []): Promise<Program> {
  const loader = script.endsWith('.ts') ? ['--import', 'tsx'] : []
  const child = spawn(process.execPath, [...loader, ...nodeArgs, join(ROOT, script), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const lines: string[] = []
  const events: Array<Record<string, unknown>> = []
  const waiters: Array<(e: Record<string, unknown>) => void> = []
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line)
    if (!line.startsWith('{')) return
    try {
      const obj = JSON.parse(line) as Record<string, unknown>
      if (typeof obj.event !== 'string') return
      const w = waiters.shift()
      if (w) w(obj)
      else events.push(obj)
    } catch {
      /* a log line */
    }
  })
  const nextEvent = (timeoutMs = 120_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const e = events.shift()
      if (e) return resolve(e)
      const timer = setTimeout(() => reject(new Error(`${script}: no event within ${timeoutMs} ms`)), timeoutMs)
      waiters.push((x) => {
        clearTimeout(timer)
        resolve(x)
      })
      void exited.then(() => reject(new Error(`${script} exited`)))
    })
  let ready: Record<string, unknown>
  for (;;) {
    const e = await nextEvent(readyTimeoutMs)
    if (e.event === 'ready') {
      ready = e
      break
    }
  }
  return {
    child,
    pid: child.pid!,
    ready,
    lines,
    nextEvent,
    send: (line) => void child.stdin!.write(`${line}\n`),
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
      await exited
      clearTimeout(timer)
    },
  }
}

/** The load generator in 'connect' mode: it prints {"event":"connected"} first, so that is its "ready". */
export async function startConnectLoad(spec: Extract<LoadSpec, { mode: 'connect' }>): Promise<{ program: Program; connected: Record<string, unknown> }> {
  const file = join(tmpdir(), `loadspec-${process.pid}-${Date.now()}.json`)
  await writeFile(file, JSON.stringify(spec))
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/loadgen.ts'), file], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] })
  const rl = createInterface({ input: child.stdout! })
  const queue: Array<Record<string, unknown>> = []
  const waiters: Array<(e: Record<string, unknown>) => void> = []
  rl.on('line', (line) => {
    if (!line.startsWith('{')) return
    const obj = JSON.parse(line) as Record<string, unknown>
    const w = waiters.shift()
    if (w) w(obj)
    else queue.push(obj)
  })
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  const nextEvent = (timeoutMs = 120_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const e = queue.shift()
      if (e) return resolve(e)
      const timer = setTimeout(() => reject(new Error(`loadgen: no event within ${timeoutMs} ms`)), timeoutMs)
      waiters.push((x) => {
        clearTimeout(timer)
        resolve(x)
      })
      void exited.then(() => reject(new Error('loadgen exited')))
    })
  const connected = await nextEvent(spec.deadlineMs + 60_000)
  return {
    connected,
    program: {
      child, pid: child.pid!, ready: connected, lines: [], nextEvent,
      send: (line) => void child.stdin!.write(`${line}\n`),
      async stop() {
        child.stdin!.write('quit\n')
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
        await exited
        clearTimeout(timer)
      },
    },
  }
}
