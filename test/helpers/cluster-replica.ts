// The distributed-mode tests' servers (test/cluster/): 3 NATS nodes and a
// PostgreSQL for a describe block, and fleet-server replicas on them as real
// processes (`npm start`'s program).
import { afterAll, beforeAll, onTestFinished } from 'vitest'
import { tempDir } from './fleet.js'
import { startFleetNats, type FleetNats } from './nats.js'
import { startPostgres, type Postgres } from './postgres.js'
import { startProgram, type Program } from './process.js'

export interface ClusterServers {
  nats: FleetNats
  pg: Postgres
}

/** 3 NATS nodes and a PostgreSQL (database `database`), started before the enclosing describe's tests and stopped after them. */
export function clusterServers(database: string): ClusterServers {
  const servers = {} as ClusterServers
  beforeAll(async () => {
    ;[servers.nats, servers.pg] = await Promise.all([startFleetNats(3), startPostgres({ database })])
  }, 90_000)
  afterAll(async () => {
    await servers.nats?.cluster.stop()
    await servers.pg?.close()
  })
  return servers
}

/** Starts one replica; it is SIGKILLed when the test finishes. `env` adds or overrides settings. */
export async function startReplica(nats: FleetNats, pg: Postgres, adminToken: string, env: Record<string, string> = {}): Promise<Program> {
  const p = await startProgram('fleet-server/src/main.ts', [], {
    env: {
      FLEET_DATA_DIR: await tempDir('cluster-replica-'), FLEET_DATABASE_URL: pg.url, FLEET_HTTP_PORT: '0', FLEET_MQTT_PORT: '0', FLEET_ADMIN_TOKEN: adminToken,
      ...nats.env(),
      FLEET_REPORTS_SCHEDULE: 'false', FLEET_BACKUP_SCHEDULE: 'false', LOG_LEVEL: 'warn',
      ...env,
    },
    readyTimeoutMs: 60_000,
  })
  onTestFinished(() => void p.kill('SIGKILL'))
  return p
}
