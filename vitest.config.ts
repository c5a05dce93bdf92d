import { defineConfig } from 'vitest/config'
import { SIM_REHEARSALS } from './vitest.sim.config.js'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The cluster's long tests run with `npm run test:cluster` (vitest.cluster.config.ts),
    // the simulator's fleet rehearsals with `npm run test:sim` (vitest.sim.config.ts).
    exclude: ['test/cluster/**', ...SIM_REHEARSALS, '**/node_modules/**'],
    // FLEET_TEST_DB=postgres: one PostgreSQL server for the run (npm run test:pg).
    globalSetup: ['test/setup/database.ts'],
    // Tests start real brokers, servers and child processes; give them room
    // without letting a hung socket stall CI for long.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: the crash and interop tests spawn processes of their own.
    maxWorkers: 2,
  },
})
