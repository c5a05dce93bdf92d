// One fleet-server replica of the local cluster (#14): `npm start`'s program
// as a child process, its stdout and stderr appended to a log file, ready when
// it prints its {"event":"ready"} line (CONTRACT.md).
import { createWriteStream } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { z } from 'zod'
import { exitOf, isRunning, OutputTail, spawnTied } from './children.js'

const REPO_ROOT = join(import.meta.dirname, '..', '..', '..')
const MAIN = join(REPO_ROOT, 'fleet-server', 'src', 'main.ts')
const READY_TIMEOUT_MS = 90_000 // a loaded 2-core box migrating a fresh database; normally ~3 s
const STOP_TIMEOUT_MS = 10_000 // main.ts gives itself 9 s to drain, then exits

const ReadyLine = z.object({ event: z.literal('ready'), http: z.number().int().positive() })

export interface Replica {
  readonly name: string
  readonly pid: number
  /** http://127.0.0.1:PORT */
  readonly httpUrl: string
  readonly isRunning: boolean
  /** SIGTERM (a clean drain), SIGKILL if it is still there after 10 s; resolves once it exited. */
  stop(): Promise<void>
}

export interface ReplicaOptions {
  name: string
  /** The replica's whole environment (FLEET_* included). */
  env: Record<string, string>
  logFile: string
  onExit?: (replica: Replica, code: number | null, signal: NodeJS.Signals | null) => void
}

export async function startReplica(opts: ReplicaOptions): Promise<Replica> {
  // node --import tsx, not the tsx wrapper: the wrapper forks the real
  // program, so a signal would hit only the wrapper. SIGTERM when we die: the
  // replica drains and leaves its lease to the others.
  const child = spawnTied(process.execPath, ['--import', 'tsx', MAIN], { cwd: REPO_ROOT, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] }, 'SIGTERM')
  const file = createWriteStream(opts.logFile, { flags: 'a' })
  const tail = new OutputTail(64 * 1024)
  const take = (d: Buffer) => {
    tail.push(d.toString())
    file.write(d)
  }
  child.stdout!.on('data', take)
  child.stderr!.on('data', take)
  const exited = exitOf(child)
  child.once('exit', () => file.end())

  const ready = await new Promise<z.infer<typeof ReadyLine>>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! })
    const timer = setTimeout(() => reject(new Error(`replica ${opts.name}: no ready line within ${READY_TIMEOUT_MS} ms; its output:\n${tail.toString()}`)), READY_TIMEOUT_MS)
    // Never rl.close(): it pauses stdout, the replica's synchronous log
    // writes would then block on a full pipe. Later lines are only ignored.
    let isDone = false
    rl.on('line', (line) => {
      if (isDone || !line.startsWith('{"event":"ready"')) return
      const r = ReadyLine.safeParse(JSON.parse(line))
      if (!r.success) return
      isDone = true
      clearTimeout(timer)
      resolve(r.data)
    })
    void exited.then(() => {
      clearTimeout(timer)
      reject(new Error(`replica ${opts.name} exited (${String(child.exitCode ?? child.signalCode)}) before ready; its output:\n${tail.toString()}`))
    })
  }).catch(async (err: unknown) => {
    child.kill('SIGKILL')
    await exited
    throw err
  })

  let stopping: Promise<void> | undefined
  const replica: Replica = {
    name: opts.name,
    pid: child.pid!,
    httpUrl: `http://127.0.0.1:${ready.http}`,
    get isRunning() {
      return isRunning(child)
    },
    stop: () =>
      (stopping ??= (async () => {
        if (!isRunning(child)) return
        child.kill('SIGTERM')
        const hard = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
        await exited
        clearTimeout(hard)
      })()),
  }
  child.once('exit', (code, signal) => opts.onExit?.(replica, code, signal))
  return replica
}
