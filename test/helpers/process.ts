// Real child processes for end-to-end, crash and interop tests: spawn one of
// our programs through tsx, wait for its {"event":"ready"} line, kill it.
import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

export const REPO_ROOT = join(import.meta.dirname, '..', '..')

export interface Program {
  child: ChildProcess
  /** Every stdout line so far. */
  lines: string[]
  /** The parsed ready line. */
  ready: Record<string, unknown>
  stderr: () => string
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>
  kill: (signal?: NodeJS.Signals) => Promise<number | string>
}

export async function startProgram(
  script: string,
  args: string[],
  opts: { env?: Record<string, string>; readyTimeoutMs?: number } = {},
): Promise<Program> {
  // node --import tsx, not the tsx wrapper: the wrapper forks the real program,
  // so a SIGKILL would hit only the wrapper and leave the program running.
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, script), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig ?? -1)))
  const ready = await readyLine(child.stdout!, lines, exited, script, () => stderr, opts.readyTimeoutMs ?? 30_000)
  return {
    child,
    lines,
    ready,
    stderr: () => stderr,
    exited,
    kill: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
}

/** A port that was free a moment ago, for programs that cannot report the one they bound. */
export { freePort } from '../../fleet-server/src/cluster/ports.js'

/**
 * Resolves with a program's `{"event":"ready",…}` line (CONTRACT.md), keeping
 * every stdout line in `lines`; rejects when it exits first or stays silent
 * past the timeout, with its stderr.
 */
export function readyLine(
  stdout: NodeJS.ReadableStream,
  lines: string[],
  exited: Promise<unknown>,
  label: string,
  stderr: () => string,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  const rl = createInterface({ input: stdout })
  return new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${label}: no ready line within ${timeoutMs} ms; stderr:\n${stderr()}`)), timeoutMs)
    rl.on('line', (line) => {
      lines.push(line)
      if (!line.startsWith('{')) return
      try {
        const obj = JSON.parse(line) as Record<string, unknown>
        if (obj.event === 'ready') {
          clearTimeout(timer)
          resolve(obj)
        }
      } catch {
        /* a non-JSON line; keep reading */
      }
    })
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`${label} exited (${String(code)}) before ready; stderr:\n${stderr()}`))
    })
  })
}
