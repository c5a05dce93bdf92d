// Child processes of the local cluster (#14) that must not outlive us: every
// one is tracked and SIGKILLed (postgres: SIGQUIT) when this process exits,
// and spawned under setpriv --pdeathsig, so the kernel stops it even when we
// are SIGKILLed and run no exit handler (a vitest worker, a rehearsal).
import { type ChildProcess, spawn, type SpawnOptions } from 'node:child_process'
import { existsSync } from 'node:fs'

// setpriv (util-linux) sets the parent-death signal and execs the program, so
// the pid we hold is the program's. It runs after Node has changed uid (the
// credential change would clear the setting).
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p))

const running = new Map<ChildProcess, NodeJS.Signals>()
process.once('exit', () => {
  for (const [child, signal] of running) child.kill(signal)
})

/**
 * Spawns `cmd`, in a process group of its own, to die with us: `deathSignal` reaches it when this process
 * exits or dies (SIGKILL for servers that need no shutdown, SIGINT/SIGQUIT for
 * postgres, SIGTERM for our own programs).
 */
export function spawnTied(cmd: string, args: readonly string[], opts: SpawnOptions, deathSignal: NodeJS.Signals): ChildProcess {
  const [bin, pre] = SETPRIV ? [SETPRIV, ['--pdeathsig', deathSignal, cmd]] : [cmd, []]
  // Its own process group: Ctrl-C, or a supervisor signalling our group, must
  // reach only us, so that we stop the children in order (replicas drain
  // before the NATS nodes and PostgreSQL they drain into go away).
  const child = spawn(bin, [...pre, ...args], { ...opts, detached: true })
  running.set(child, deathSignal === 'SIGINT' ? 'SIGQUIT' : 'SIGKILL')
  child.once('exit', () => running.delete(child))
  return child
}

export function isRunning(child: ChildProcess | undefined): child is ChildProcess {
  return !!child && child.exitCode === null && child.signalCode === null
}

/** Resolves once the child has exited (at once when it has). */
export function exitOf(child: ChildProcess): Promise<void> {
  if (!isRunning(child)) return Promise.resolve()
  return new Promise((r) => child.once('exit', () => r()))
}

/** Keeps the last `maxChars` of a child's output in memory: enough for an error message, bounded over a long run. */
export class OutputTail {
  private text = ''
  constructor(private readonly maxChars = 1024 * 1024) {}
  push(chunk: string): void {
    this.text += chunk
    if (this.text.length > this.maxChars) this.text = this.text.slice(-this.maxChars)
  }
  clear(): void {
    this.text = ''
  }
  toString(): string {
    return this.text
  }
}

/** Sends `signal` to every tracked child still running (a stop during start: each one's wait then fails fast). */
export function signalAll(signal: NodeJS.Signals): void {
  for (const child of running.keys()) if (isRunning(child)) child.kill(signal)
}
