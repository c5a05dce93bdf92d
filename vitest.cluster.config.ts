import { defineConfig } from 'vitest/config'

// npm run test:cluster (issue 14): the distributed mode's long tests — 3 NATS
// nodes, PostgreSQL and fleet-server replicas as real processes, killed mid-run.
export default defineConfig({
  test: {
    include: ['test/cluster/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    // Each file starts a whole cluster: one at a time on two cores.
    maxWorkers: 1,
  },
})
