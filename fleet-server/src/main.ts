// The fleet server program: config from the environment, one root logger on
// stdout, the ready line, and a clean shutdown on SIGTERM/SIGINT.
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

  const log = pino({ level: config.logLevel, redact: ['req.headers.authorization'] }, stdout)
  let fleet: Fleet
  try {
    fleet = await buildFleet(config, { logger: log })
  } catch (err) {
    log.fatal({ err }, 'fleet server failed to start')
    process.exit(1)
  }


  const shutdown = (signal: NodeJS.Signals): void => {
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
  process.once('SIGTERM', shutdown)
  process.once('SIGINT', shutdown)
  // Only now: a supervisor may signal us the moment it reads the ready line.
  if (fleet.adminTokenIssued) line({ event: 'admin-token', token: fleet.adminTokenIssued.token, file: fleet.adminTokenIssued.file })
  line({ event: 'ready', http: fleet.httpPort, mqtt: fleet.mqttPort, ...(fleet.mqttsPort !== null && { mqtts: fleet.mqttsPort }) })
}

void main()
