// An npm script run as a user or a supervisor runs it: `npm run NAME` in its
// own process group, so a signal to the group reaches npm and node both (and
// npm forwards its own copy) — the way systemd, Ctrl-C and most supervisors
// stop a service.
import { spawn } from 'node:child_process'
import { onTestFinished } from 'vitest'
import { readyLine, REPO_ROOT } from './process.js'

export interface NpmScript {
  /** Every stdout line so far. */
  readonly lines: string[]
  readonly ready: Record<string, unknown>
  readonly stderr: () => string
  /** npm's exit code (node's, passed through) or the signal that ended it. */
  readonly exited: Promise<number | string>
  /** Sends the signal to the whole process group; false when the group is gone already. */
  signalGroup(signal: NodeJS.Signals): boolean
}

export async function startNpmScript(script: string, args: string[], env: Record<string, string>, readyTimeoutMs = 30_000): Promise<NpmScript> {
  const child = spawn('npm', ['run', '--silent', script, ...(args.length > 0 ? ['--', ...args] : [])], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, led by npm
  })
  const pgid = child.pid!
  // 'close', not 'exit': after stdout's last line.
  const exited = new Promise<number | string>((resolve) => child.once('close', (code, sig) => resolve(code ?? sig ?? -1)))
  let ended = false
  void exited.then(() => (ended = true))
  onTestFinished(() => {
    if (!ended) {
      try {
        process.kill(-pgid, 'SIGKILL')
      } catch {
        /* already gone */
      }
    }
  })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const lines: string[] = []
  const ready = await readyLine(child.stdout, lines, exited, `npm run ${script}`, () => stderr, readyTimeoutMs)
  return {
    lines,
    ready,
    stderr: () => stderr,
    exited,
    signalGroup(signal) {
      try {
        return process.kill(-pgid, signal)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false
        throw err
      }
    },
  }
}
