// CLI: one edge agent. Prints {"event":"ready","api":PORT} once it accepts
// sales (broker or not); SIGTERM/SIGINT close it cleanly; bad config exits 2.
// `edge-agent enroll …` instead trades a bootstrap code for the cabinet's
// credentials (enroll-cli.ts) and exits.
import { pino } from 'pino'
import { isAppError } from '../../shared/src/edge.js'
import { enrollCli } from './enroll-cli.js'
import { createAgent, loadConfig, type Agent, type AgentConfig } from './index.js'

if (process.argv[2] === 'enroll') process.exit(await enrollCli(process.argv.slice(3)))

/** The contract allows 10 s for a clean stop; give up a little before that. */
const SHUTDOWN_DEADLINE_MS = 9_000

let config: AgentConfig
try {
  config = loadConfig()
} catch (err) {
  if (isAppError(err) && err.code === 'CONFIG_INVALID') {
    process.stderr.write(`${err.message}\n`)
    process.exit(2)
  }
  throw err
}

const log = pino({ level: config.logLevel, redact: ['password', '*.password'] })

let agent: Agent
try {
  agent = await createAgent(config, { logger: log })
} catch (err) {
  log.fatal({ err }, 'edge agent failed to start')
  process.exit(isAppError(err) && err.code === 'CONFIG_INVALID' ? 2 : 1)
}

// on, not once: under npm a SIGTERM to the process group reaches node twice,
// and with `once` the second one killed the agent mid-close. Repeats are ignored.
let stoppingOn: string | null = null
let repeatLogged = false
/** Closes the agent once and exits with `exitCode` (0 for a signal, 75 after a remote restart). */
function stop(reason: string, exitCode = 0): void {
  if (stoppingOn) {
    if (!repeatLogged) log.info({ reason, first: stoppingOn }, 'already shutting down; ignored')
    repeatLogged = true
    return
  }
  stoppingOn = reason
  log.info({ reason, exitCode }, 'shutting down')
  setTimeout(() => {
    log.error({ deadlineMs: SHUTDOWN_DEADLINE_MS }, 'shutdown overran its deadline; exiting')
    process.exit(1)
  }, SHUTDOWN_DEADLINE_MS).unref()
  agent.close().then(
    () => process.exit(exitCode),
    (err: unknown) => {
      log.error({ err }, 'shutdown failed')
      process.exit(1)
    },
  )
}
// A remote restart was done and reported: exit non-zero so the supervisor
// (systemd Restart=always, edge-agent/deploy/) starts the agent again.
agent.on('restart', (exitCode) => stop('remote restart', exitCode))
process.on('SIGTERM', (signal) => stop(signal))
process.on('SIGINT', (signal) => stop(signal))
// Only now: a supervisor may signal us the moment it reads this line.
process.stdout.write(`${JSON.stringify({ event: 'ready', api: agent.apiPort })}\n`)
