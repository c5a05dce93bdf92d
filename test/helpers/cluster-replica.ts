// A fleet-server replica as a real process (`npm start`'s program) on a test
// NATS cluster and PostgreSQL: the distributed-mode tests' replica (test/cluster/).
import { onTestFinished } from 'vitest'
import { tempDir } from './fleet.js'
import type { FleetNats } from './nats.js'
import type { Postgres } from './postgres.js'
import { startProgram, type Program } from './process.js'

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
