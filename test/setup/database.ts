// vitest globalSetup: with FLEET_TEST_DB=postgres (`npm run test:pg`) the whole
// suite runs on PostgreSQL. One throwaway server for the run (initdb'd in a
// temp dir, a free port, stopped after); each fleet a test starts gets its own
// database on it (test/helpers/test-db.ts). Unset: SQLite, nothing started.
import type { TestProject } from 'vitest/node'
import { startPostgres, type Postgres } from '../helpers/postgres.js'

declare module 'vitest' {
  export interface ProvidedContext {
    /** postgres://… of the run's server (its maintenance database), or '' on SQLite. */
    testPostgresUrl: string
  }
}

let server: Postgres | null = null

export async function setup(project: TestProject): Promise<void> {
  if (process.env.FLEET_TEST_DB !== 'postgres') {
    project.provide('testPostgresUrl', '')
    return
  }
  // Two workers, each with a few fleets open (a pool of 10 and a listener each).
  server = await startPostgres({ database: 'postgres_admin', maxConnections: 300 })
  project.provide('testPostgresUrl', server.url)
}

export async function teardown(): Promise<void> {
  await server?.close()
}
