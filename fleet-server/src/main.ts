// The fleet server program: config from the environment, one root logger on
// stdout, the ready line, and a clean shutdown on SIGTERM/SIGINT.
import { setFlagsFromString } from 'node:v8'
import { pino } from 'pino'
import { buildFleet, type Fleet } from './app.js'
import { isConfigError, loadConfig, type FleetConfig } from './config.js'

const SHUTDOWN_DEADLINE_MS = 9_000 // the contract allows 10 s; leave a margin for exit itself

// Logs and the ready line share one synchronous stdout writer, so they keep
// their order and never interleave within a line.
const stdout = pino.destination({ dest: 1, sync: true })

function line(obj: Record<string, unknown>): void {
  stdout.write(`${JSON.stringify(obj)}\n`)
}

async function main(): Promise<void> {
  let config: FleetConfig
  try {
    config = loadConfig()
  } catch (err) {
    if (isConfigError(err)) {
      process.stderr.write(`fleet-server: ${err.message}\n`)
      process.exit(2)
    }
    throw err
  }

  // V8 lets the old generation grow to up to 4x what survived the last full
  // GC when promotion is fast, as in a backlog drain or a reconnect storm: a
  // 250-300 MiB heap against ~80 MiB live in a backlog drain (issue 13). A
  // fixed factor (50: 1.5x) cuts peak RSS by 100-300 MiB there, and costs 3-4x
  // the full GCs under a steady one-sale-per-message load (~10% more CPU):
  // the operator's choice, off by default.
  if (config.heapGrowingPercent > 0) setFlagsFromString(`--heap-growing-percent=${config.heapGrowingPercent}`)
  // V8 allocates straight into the old generation from any allocation site
  // whose early objects survived, and which sites it picks varies from run to
  // run. Fleet alone, one sale a message: in about half the runs ~1,000 KB
  // was promoted a scavenge, ~300 in the others and in every run without
  // pretenuring (the floor server promotes ~350). What the heavy runs left
  // dead in the old generation was per-message objects: old-born objects
  // likely kept the young ones they point to alive until the next full GC.
  setFlagsFromString('--no-allocation-site-pretenuring')
  const log = pino({ level: config.logLevel, redact: ['req.headers.authorization'] }, stdout)
  let fleet: Fleet
  // A start can wait (an external broker not attached yet); a signal then
  // ends the wait and undoes what was started, and we exit cleanly.
  const starting = new AbortController()
  let signalledWhileStarting: NodeJS.Signals | null = null
  const abortStart = (signal: NodeJS.Signals): void => {
    if (starting.signal.aborted) return
    signalledWhileStarting = signal
    log.info({ signal }, 'shutting down before ready')
    starting.abort(new Error(`stopped by ${signal} before ready`))
  }
  process.on('SIGTERM', abortStart)
  process.on('SIGINT', abortStart)
  try {
    fleet = await buildFleet(config, { logger: log, signal: starting.signal })
  } catch (err) {
    if (starting.signal.aborted) {
      log.info('fleet server closed')
      process.exit(0)
    }
    log.fatal({ err }, 'fleet server failed to start')
    process.exit(1)
  } finally {
    process.off('SIGTERM', abortStart)
    process.off('SIGINT', abortStart)
  }

  // on, not once: under `npm start` a SIGTERM to the process group reaches node
  // twice (npm forwards its own), and with `once` the second one killed node
  // mid-shutdown. Repeats are ignored; the deadline below still bounds us.
  let stopping: NodeJS.Signals | null = null
  let repeatLogged = false
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) {
      if (!repeatLogged) log.info({ signal, first: stopping }, 'already shutting down; signal ignored')
      repeatLogged = true
      return
    }
    stopping = signal
    log.info({ signal }, 'shutting down')
    setTimeout(() => {
      log.error({ deadlineMs: SHUTDOWN_DEADLINE_MS }, 'shutdown did not finish in time; exiting')
      process.exit(1)
    }, SHUTDOWN_DEADLINE_MS).unref()
    fleet.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', shutdown)
  process.on('SIGINT', shutdown)
  // A signal during a start that did not wait on it (embedded broker): stop now, print no ready line.
  if (signalledWhileStarting) return shutdown(signalledWhileStarting)
  // Only now: a supervisor may signal us the moment it reads the ready line.
  if (fleet.adminTokenIssued) line({ event: 'admin-token', token: fleet.adminTokenIssued.token, file: fleet.adminTokenIssued.file })
  line({ event: 'ready', http: fleet.httpPort, mqtt: fleet.mqttPort, ...(fleet.mqttsPort !== null && { mqtts: fleet.mqttsPort }) })
}

void main()
