// Domains as modules (issue 13; zigbee2mqtt's extensions are the model): each
// domain builds itself in start(), releases what it holds in stop(), and names
// the cabinet messages it handles and the HTTP routes it serves. The
// composition root (app.ts) only wires them; the runner starts them in order
// and stops the started ones in reverse — for close() and for a start that
// fails part-way alike — so teardown is never written twice.
import type { FastifyPluginAsync } from 'fastify'
import type { Logger } from 'pino'
import type { UpHandlers } from './router.js'

export interface FleetModule {
  readonly name: string
  /** The cabinet messages and session events it handles (router.ts), from the moment the bus is up. */
  readonly up?: UpHandlers
  /** Its HTTP routes, registered under /api/v1 (behind the auth hook) once every module has started. */
  readonly routes?: () => FastifyPluginAsync
  /** Builds what the module holds (stores, timers, jobs). The modules before it have started. */
  start(): Promise<void> | void
  /** Releases it; runs while every module started before it is still up. */
  stop(): Promise<void> | void
}

export interface RunningModules {
  /** Names of the modules started, in start order. */
  readonly started: readonly string[]
  /** Stops the started modules in reverse order; one stop's failure is logged and the rest still stop. Idempotent. */
  stop(): Promise<void>
}

/**
 * Starts `modules` in order. When one fails, the ones already started are
 * stopped in reverse and its error is rethrown; the failed one itself is not
 * stopped (its start undoes its own partial work, or holds nothing yet).
 */
export async function startModules(modules: readonly FleetModule[], log: Logger): Promise<RunningModules> {
  const started: FleetModule[] = []
  let stopping: Promise<void> | null = null
  const running: RunningModules = {
    get started() {
      return started.map((m) => m.name)
    },
    stop() {
      stopping ??= (async () => {
        for (const m of [...started].reverse()) {
          try {
            await m.stop()
          } catch (err) {
            log.error({ err, module: m.name }, 'module stop failed')
          }
        }
      })()
      return stopping
    },
  }
  for (const m of modules) {
    try {
      await m.start()
    } catch (err) {
      log.debug({ module: m.name }, 'module start failed; stopping the started ones')
      await running.stop()
      throw err
    }
    started.push(m)
  }
  return running
}

/**
 * A value one module makes in start() for the modules started after it
 * (e.g. cabinets' liveness, read by rollout). Reading it before it is set is
 * a wiring mistake in the start order, so `get` throws.
 */
export interface Slot<T> {
  get(): T
  /** The value, or null before start (for handlers that may run before it exists). */
  peek(): T | null
  set(value: T): T
}

export function slot<T>(what: string): Slot<T> {
  let value: T | null = null
  return {
    get() {
      if (value === null) throw new Error(`${what} is read before its module started`)
      return value
    },
    peek: () => value,
    set: (v) => (value = v),
  }
}
