// `npm run cluster` (#14): a local NATS + PostgreSQL + fleet-server replicas
// cluster for rehearsals. stdout carries one line, the ready line; logs go to
// stderr (pino), operators' errors Chinese first. SIGTERM or SIGINT stops all
// of it. Exit codes: 0 stopped cleanly, 1 could not start, 2 bad usage.
import { pino } from 'pino'
import { CLUSTER_USAGE, loadClusterConfig, type ClusterConfig } from './config.js'
import { clusterErrorText, isClusterError } from './errors.js'
import { startLocalCluster, type LocalCluster } from './cluster.js'

async function main(): Promise<void> {
  const argv = process.argv.slice(2)
  if (argv.includes('--help') || argv.includes('-h')) {
    // stdout carries only the ready line.
    process.stderr.write(`${CLUSTER_USAGE}\n`)
    process.exit(0)
  }
  let config: ClusterConfig
  try {
    config = loadClusterConfig(argv, process.env)
  } catch (err) {
    if (!isClusterError(err)) throw err
    process.stderr.write(`${clusterErrorText(err)}\n`)
    process.exit(2)
  }
  const log = pino({ level: config.logLevel, base: { program: 'cluster' } }, pino.destination({ dest: 2, sync: true }))

  // on, not once: under `npm run` a SIGTERM to the process group reaches node
  // twice (npm forwards its own); repeats are ignored.
  const starting = new AbortController()
  let cluster: LocalCluster | undefined
  let stopping: NodeJS.Signals | null = null
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return
    stopping = signal
    log.info({ signal }, 'stopping cluster')
    if (!cluster) return starting.abort(new Error(`stopped by ${signal} before ready`))
    cluster.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'stop failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)

  try {
    cluster = await startLocalCluster(config, log, starting.signal)
  } catch (err) {
    if (starting.signal.aborted) process.exit(0)
    if (isClusterError(err)) process.stderr.write(`${clusterErrorText(err)}\n`)
    else log.fatal({ err }, 'cluster failed to start')
    process.exit(1)
  }
  process.stdout.write(`${JSON.stringify(cluster.ready)}\n`)
}

void main()
